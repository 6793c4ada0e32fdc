//! For `build.rs`: compile a `.x` file into Rust.
//!
//! ```no_run
//! // build.rs
//! let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
//! xdr::build::compile("proto/dev.x".as_ref(), &out.join("dev.rs")).unwrap();
//! // src/lib.rs: pub mod dev { include!(concat!(env!("OUT_DIR"), "/dev.rs")); }
//! ```

use std::path::Path;

/// Compiles the `.x` file `input` into Rust at `output` (see
/// [`crate::idl::generate`]) and tells Cargo to rerun when `input` changes.
/// Errors read `path:line:column: message`.
pub fn compile(input: &Path, output: &Path) -> Result<(), String> {
    println!("cargo:rerun-if-changed={}", input.display());
    let text = std::fs::read_to_string(input)
        .map_err(|e| format!("cannot read {}: {e}", input.display()))?;
    let code = crate::idl::generate(&text).map_err(|e| format!("{}:{e}", input.display()))?;
    if std::fs::read_to_string(output).is_ok_and(|old| old == code) {
        return Ok(());
    }
    std::fs::write(output, code).map_err(|e| format!("cannot write {}: {e}", output.display()))
}
