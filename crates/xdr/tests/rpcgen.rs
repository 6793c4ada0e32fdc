//! Byte-for-byte agreement with Debian's rpcgen and libtirpc.
//!
//! For every file of `tests/corpus/`, `build.rs` generated the Rust types,
//! deterministic sample values of every type, and a C `main` that builds
//! the same values in rpcgen's types. Here rpcgen compiles the file to C,
//! `cc` links the C `main` against libtirpc, and the program encodes each
//! value with the generated `xdr_*` functions into a memory stream and
//! prints the bytes. They must equal what the Rust code encodes, and the
//! Rust code must decode them back to the same value. The program also
//! prints every constant and program, version and procedure number, which
//! must equal the generated Rust constants.
//!
//! Needs `rpcgen` (rpcsvc-proto), `cc` and libtirpc-dev; without them the
//! test is skipped, except under `CI=true`, where it fails.

use std::path::{Path, PathBuf};
use std::process::Command;

include!(concat!(env!("OUT_DIR"), "/corpus.rs"));

fn tools_present() -> bool {
    let runs = |program: &str, arg: &str| {
        Command::new(program)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let missing: Vec<&str> = [
        (
            "rpcgen (Debian package rpcsvc-proto)",
            runs("rpcgen", "--version"),
        ),
        ("cc", runs("cc", "--version")),
        (
            "libtirpc headers (Debian package libtirpc-dev)",
            Path::new("/usr/include/tirpc/rpc/xdr.h").exists(),
        ),
    ]
    .into_iter()
    .filter(|(_, ok)| !ok)
    .map(|(name, _)| name)
    .collect();
    if missing.is_empty() {
        return true;
    }
    let message = format!(
        "the rpcgen comparison needs {} (cargo xtask test installs them)",
        missing.join(", ")
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{message}");
    }
    eprintln!("SKIPPED: {message}");
    false
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xdr-rpcgen-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(dir: &Path, program: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "`{program} {}` failed ({}):\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the C program printed: cases and constants by name.
struct COutput {
    cases: Vec<(String, Option<Vec<u8>>)>,
    constants: Vec<(String, i128)>,
}

fn parse_output(text: &str) -> COutput {
    let mut out = COutput {
        cases: Vec::new(),
        constants: Vec::new(),
    };
    for line in text.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        match parts.as_slice() {
            ["case", name, "FAIL"] => out.cases.push((name.to_string(), None)),
            ["case", name] => out.cases.push((name.to_string(), Some(Vec::new()))),
            ["case", name, bytes] => out.cases.push((name.to_string(), Some(unhex(bytes)))),
            ["const", name, value] => out
                .constants
                .push((name.to_string(), value.parse().unwrap())),
            _ => panic!("unexpected line from the C program: {line}"),
        }
    }
    out
}

/// Runs rpcgen and the C program for one corpus file.
fn c_side(dir: &Path, corpus: &Corpus) -> COutput {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(corpus.file);
    let stem = corpus.file.trim_end_matches(".x");
    std::fs::copy(&src, dir.join(corpus.file)).unwrap();
    let header = format!("{stem}.h");
    let xdr_c = format!("{stem}_xdr.c");
    let main_c = format!("{stem}_main.c");
    let exe = format!("{stem}_main");
    run(dir, "rpcgen", &["-h", "-o", &header, corpus.file]);
    run(dir, "rpcgen", &["-c", "-o", &xdr_c, corpus.file]);
    std::fs::write(dir.join(&main_c), corpus.c_main).unwrap();
    run(
        dir,
        "cc",
        &[
            "-w",
            "-I.",
            "-I/usr/include/tirpc",
            "-o",
            &exe,
            &main_c,
            &xdr_c,
            "-ltirpc",
        ],
    );
    let stdout = run(dir, &format!("./{exe}"), &[]);
    parse_output(&String::from_utf8(stdout).unwrap())
}

#[test]
fn generated_code_agrees_with_rpcgen_byte_for_byte() {
    if !tools_present() {
        return;
    }
    let dir = temp_dir();
    let (mut values, mut bytes, mut constants) = (0, 0, 0);
    for corpus in CORPUS {
        let c = c_side(&dir, corpus);
        let cases = (corpus.cases)();
        assert_eq!(c.cases.len(), cases.len(), "{}: case count", corpus.file);
        for (case, (c_name, c_bytes)) in cases.iter().zip(&c.cases) {
            let at = format!("{} {}", corpus.file, case.name);
            assert_eq!(case.name, c_name, "{at}: cases out of step");
            let c_bytes = c_bytes
                .as_ref()
                .unwrap_or_else(|| panic!("{at}: the C encoder failed"));
            let rust =
                (case.encode)().unwrap_or_else(|e| panic!("{at}: Rust encoding failed: {e}"));
            assert_eq!(
                hex(&rust),
                hex(c_bytes),
                "{at}: Rust (left) and rpcgen (right) disagree"
            );
            let (same, again) = (case.decode)(c_bytes)
                .unwrap_or_else(|e| panic!("{at}: cannot decode C's bytes: {e}"));
            assert!(same, "{at}: C's bytes decode to another value");
            assert_eq!(
                again, *c_bytes,
                "{at}: decoding and encoding again changes the bytes"
            );
            values += 1;
            bytes += c_bytes.len();
        }
        let rust_constants = (corpus.constants)();
        assert_eq!(
            rust_constants.len(),
            c.constants.len(),
            "{}: constants",
            corpus.file
        );
        for ((name, value), (c_name, c_value)) in rust_constants.iter().zip(&c.constants) {
            assert_eq!(
                (*name, *value),
                (c_name.as_str(), *c_value),
                "{}",
                corpus.file
            );
            constants += 1;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "rpcgen agreement: {} files, {values} values, {bytes} bytes, {constants} constants",
        CORPUS.len()
    );
    assert!(CORPUS.len() >= 10 && values >= 500 && constants >= 10);
}
