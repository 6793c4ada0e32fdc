//! The Decaf paper's Table 2 for this driver: functions and lines in the
//! nucleus and in the decaf driver (`cargo test -p rtl8139 --test table2
//! -- --nocapture` prints it; docs/rtl8139.md quotes it). It also checks
//! the split holds: the decaf driver's code never touches the fast path,
//! and the fast path does no slow-path work.

use std::path::Path;

/// (functions, lines of code): `fn` items and lines that are neither
/// blank nor comments, outside `#[cfg(test)]` modules.
fn measure(file: &str) -> (usize, usize, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let code = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => &text[..],
    };
    let mut functions = 0;
    let mut lines = 0;
    for line in code.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with("//") || t.starts_with("/*") || t.starts_with('*') {
            continue;
        }
        lines += 1;
        let t = t
            .strip_prefix("pub(crate) ")
            .or(t.strip_prefix("pub "))
            .unwrap_or(t);
        if t.starts_with("fn ") {
            functions += 1;
        }
    }
    (functions, lines, code.to_string())
}

#[test]
fn table_2_functions_and_lines_in_the_nucleus_and_the_decaf_driver() {
    let groups: [(&str, &[&str]); 5] = [
        (
            "nucleus: fast path (IRQ, TX, RX, counters)",
            &["nucleus.rs", "handoff.rs"],
        ),
        (
            "nucleus: work thread, OS interface, XPC end",
            &["driver.rs", "slow.rs"],
        ),
        (
            "decaf driver: probe, open, close, recovery, rx mode, media, power",
            &["chip.rs"],
        ),
        (
            "decaf driver: serving downcalls, register batches",
            &["decaf.rs"],
        ),
        (
            "shared: registers, procedures (+ rtl8139.x)",
            &["regs.rs", "proto.rs"],
        ),
    ];
    println!("| part | files | functions | lines |");
    println!("|---|---|---|---|");
    let mut measured = Vec::new();
    for (part, files) in groups {
        let (mut f, mut l) = (0, 0);
        for file in files {
            let (ff, ll, code) = measure(file);
            f += ff;
            l += ll;
            measured.push((file.to_string(), code));
        }
        println!("| {part} | {} | {f} | {l} |", files.join(", "));
        assert!(f > 0 && l > 0, "{part}");
    }
    let code = |name: &str| &measured.iter().find(|(n, _)| n == name).unwrap().1;
    // The decaf driver's procedures reach the chip only through `Regs`.
    for word in [
        "Nucleus",
        "transmit(",
        "interrupt(",
        "PciDevice",
        "DmaMemory",
    ] {
        assert!(!code("chip.rs").contains(word), "chip.rs uses {word}");
        assert!(!code("decaf.rs").contains(word), "decaf.rs uses {word}");
    }
    // The fast path does no slow-path work: no EEPROM, no reset, no MAC
    // programming, no PHY.
    for word in ["CFG9346", "cr::RST", "IDR0", "BMSR", "ANLPAR", "hw_start("] {
        assert!(!code("nucleus.rs").contains(word), "nucleus.rs uses {word}");
    }
}
