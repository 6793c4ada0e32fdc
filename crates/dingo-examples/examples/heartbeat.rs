//! Runs the heartbeat driver for a second on real time and prints what
//! happened: `cargo run -p dingo-examples --example heartbeat`.

fn main() {
    let rt = dingo::Runtime::new();
    match dingo_examples::demo(&rt, 100, std::time::Duration::from_secs(1)) {
        Ok(r) => {
            println!("kicks at (ms): {:?}", r.kicks);
            println!("timer fired {} times; driver ended: {}", r.fired, r.ended);
            if r.violations.is_empty() {
                println!("observer: no protocol violation");
            }
            for v in &r.violations {
                println!("{v}");
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
