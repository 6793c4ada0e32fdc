//! Prints a random walk of a component of the spec library: `walk COMPONENT SEED STEPS`.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (lib, _) = tingu::Library::load(&["specs".into()]).unwrap();
    let model = std::sync::Arc::new(tingu::check(&lib).model.unwrap());
    let seed = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let steps = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(40);
    let t = tingu_observer::generate::random_walk(&model, &args[1], seed, steps).unwrap();
    print!("{}", tingu_observer::trace::write(&t));
}
