//! A decaf process for tests: `xpc-decaf-echo FD [echo [SPINS] | raw-spin N
//! | raw-sleep N]` (see `xpc::peer`).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(xpc::peer::run(&args));
}
