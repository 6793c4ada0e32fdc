//! Compiles `tests/objects.x`, the interface the object tests send across
//! domains, with the project's own `.x` compiler (for `tests/objects.rs`).

use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    if let Err(e) = xdr::build::compile("tests/objects.x".as_ref(), &out.join("objects_x.rs")) {
        panic!("{e}");
    }
}
