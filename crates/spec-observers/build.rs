//! Generates the compiled observers and typed port interfaces:
//! `observers.rs` for the standard spec library, `extra.rs` for the test
//! specs of `specs-extra/`, and `awkward.rs` for the port generator's test
//! specs in `tests/ports/` (included by `tests/ports.rs` only).

use std::path::PathBuf;

fn main() {
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    if let Err(diagnostics) =
        tingu_build::compile_with_ports(&["../../specs"], &out_dir.join("observers.rs"))
    {
        panic!("cannot generate code for the spec library:\n{diagnostics}");
    }
    if let Err(diagnostics) =
        tingu_build::compile_with_ports(&["specs-extra"], &out_dir.join("extra.rs"))
    {
        panic!("cannot generate code for the extra test specs:\n{diagnostics}");
    }
    // Awkward names and shapes for the port generator, for `tests/ports.rs`.
    if let Err(diagnostics) =
        tingu_build::compile_with_ports(&["tests/ports"], &out_dir.join("awkward.rs"))
    {
        panic!("cannot generate code for tests/ports:\n{diagnostics}");
    }
}
