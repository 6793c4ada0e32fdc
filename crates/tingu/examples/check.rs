//! Checks the files given on the command line and prints diagnostics.
fn main() {
    let paths: Vec<std::path::PathBuf> = std::env::args().skip(1).map(Into::into).collect();
    let (lib, mut diags) = match tingu::Library::load(&paths) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let checked = tingu::check(&lib);
    diags.extend(checked.diagnostics);
    print!("{}", diags.render(&lib.sources, false));
    println!(
        "{} errors, {} warnings, model: {}",
        diags.error_count(),
        diags.warning_count(),
        checked.model.is_some()
    );
}
