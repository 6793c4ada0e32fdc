//! Encodes and decodes every sample value of the test `.x` files and
//! prints what it did, per file.
//!
//! It is also a lint check: the generated code is compiled here as public
//! modules of a binary, where `missing_docs` applies (it does not run on
//! test harnesses), so `cargo test` and `cargo clippy --all-targets`
//! reject generated code with an undocumented public item.

#![deny(missing_docs)]

include!(concat!(env!("OUT_DIR"), "/corpus.rs"));

fn main() {
    for corpus in CORPUS.iter().chain([&EXTENSIONS]) {
        let (mut values, mut bytes) = (0, 0);
        for case in (corpus.cases)() {
            let encoded = (case.encode)().expect("samples encode");
            let (same, again) = (case.decode)(&encoded).expect("samples decode");
            assert!(same && again == encoded, "{}", case.name);
            values += 1;
            bytes += encoded.len();
        }
        println!("{:<16} {values:>4} values {bytes:>6} bytes", corpus.file);
    }
}
