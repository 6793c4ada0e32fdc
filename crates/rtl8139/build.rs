//! Compiles `src/rtl8139.x`, the interface between the nucleus and the
//! decaf driver, with the project's own `.x` compiler.

use std::path::PathBuf;

fn main() {
    println!("cargo::rerun-if-changed=src/rtl8139.x");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    if let Err(e) = xdr::build::compile("src/rtl8139.x".as_ref(), &out.join("rtl8139_x.rs")) {
        panic!("{e}");
    }
}
