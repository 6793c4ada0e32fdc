//! Generates the heartbeat component's typed ports and compiled observers.

use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    if let Err(diagnostics) =
        tingu_build::compile_with_ports(&["specs/heartbeat.tingu"], &out.join("heartbeat.rs"))
    {
        panic!("cannot generate code for specs/heartbeat.tingu:\n{diagnostics}");
    }
}
