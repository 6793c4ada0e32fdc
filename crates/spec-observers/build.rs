//! Generates the compiled observers: `observers.rs` for the standard spec
//! library, and `extra.rs` for the test specs of `specs-extra/`.

use std::path::PathBuf;

fn main() {
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    if let Err(diagnostics) = tingu_build::compile(&["../../specs"], &out_dir.join("observers.rs"))
    {
        panic!("the spec library does not check:\n{diagnostics}");
    }
    if let Err(diagnostics) = tingu_build::compile(&["specs-extra"], &out_dir.join("extra.rs")) {
        panic!("the extra test specs do not check:\n{diagnostics}");
    }
}
