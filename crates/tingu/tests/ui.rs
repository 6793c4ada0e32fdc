//! Diagnostic tests: every `tests/ui/*.tingu` file is checked, and
//!
//! * each diagnostic must match an annotation on the line its span starts
//!   on: `//~ ERROR text` or `//~ WARNING text` (the message must contain
//!   `text`); `//~^ ERROR` points at the line above;
//! * each annotation must be matched by a diagnostic;
//! * the rendered output must equal the `.stderr` file next to it, which
//!   pins spans to the column. Run with `BLESS=1` to rewrite `.stderr`
//!   files after reviewing a change.

use std::path::{Path, PathBuf};
use tingu::{Library, Severity};

struct Expect {
    line: usize,
    severity: Severity,
    text: String,
}

fn annotations(text: &str) -> Vec<Expect> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some(pos) = line.find("//~") else {
            continue;
        };
        let mut rest = &line[pos + 3..];
        let mut target = i + 1;
        while let Some(r) = rest.strip_prefix('^') {
            target -= 1;
            rest = r;
        }
        let rest = rest.trim();
        let (severity, text) = if let Some(t) = rest.strip_prefix("ERROR") {
            (Severity::Error, t)
        } else if let Some(t) = rest.strip_prefix("WARNING") {
            (Severity::Warning, t)
        } else {
            panic!("line {}: bad annotation `{rest}`", i + 1);
        };
        out.push(Expect {
            line: target,
            severity,
            text: text.trim().to_string(),
        });
    }
    out
}

fn run_case(path: &Path) -> Result<(), String> {
    let (lib, mut diags) = Library::load(&[path.to_path_buf()]).map_err(|e| e.to_string())?;
    let checked = tingu::check(&lib);
    diags.extend(checked.diagnostics);
    let text = &lib.sources.file(tingu::FileId(0)).text;
    let expects = annotations(text);
    if expects.is_empty() {
        return Err("no `//~` annotations: a UI test must expect at least one diagnostic".into());
    }
    let mut problems = Vec::new();
    let mut used = vec![false; expects.len()];
    for d in diags.sorted() {
        let (line, _) = lib
            .sources
            .file(d.span.file)
            .line_col(d.span.start as usize);
        let found = expects.iter().enumerate().position(|(i, e)| {
            !used[i]
                && d.span.file.0 == 0
                && e.line == line
                && e.severity == d.severity
                && d.message.contains(&e.text)
        });
        match found {
            Some(i) => used[i] = true,
            None => problems.push(format!("unexpected: {}", d.short(&lib.sources))),
        }
    }
    for (e, used) in expects.iter().zip(&used) {
        if !used {
            problems.push(format!(
                "missing: line {}: {} containing `{}`",
                e.line, e.severity, e.text
            ));
        }
    }
    if checked.model.is_some() == diags.has_errors() {
        problems.push("a model must be produced exactly when there are no errors".into());
    }
    let rendered = diags.render(&lib.sources, false);
    let stderr = path.with_extension("stderr");
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&stderr, &rendered).map_err(|e| e.to_string())?;
    } else {
        match std::fs::read_to_string(&stderr) {
            Ok(expected) if expected == rendered => {}
            Ok(expected) => problems.push(format!(
                "rendered output differs from {}\n--- expected\n{expected}\n--- actual\n{rendered}",
                stderr.display()
            )),
            Err(_) => problems.push(format!("{} is missing; run with BLESS=1", stderr.display())),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

#[test]
fn ui() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ui");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tingu"))
        .collect();
    cases.sort();
    let mut failures = Vec::new();
    for case in &cases {
        // Cargo runs tests from the package root: a relative path keeps
        // machine paths out of the `.stderr` files.
        let rel = case
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap_or(case);
        if let Err(e) = run_case(rel) {
            failures.push(format!(
                "== {}\n{e}",
                case.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} UI cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(
        cases.len() >= 30,
        "expected at least 30 UI cases, found {}",
        cases.len()
    );
}
