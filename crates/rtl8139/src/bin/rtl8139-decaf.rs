//! The RTL8139's decaf driver as a process of its own, started by the
//! nucleus with the shared region's descriptor number.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(rtl8139::decaf::process_main(&args));
}
