//! Semantic checks: from parsed files to the intermediate form.
//!
//! The checker runs in passes over all protocols, so that each pass can rely
//! on what the previous ones resolved in *every* protocol:
//!
//! ```text
//!  globals ─▶ headers ─▶ state trees ─▶ transitions ─▶ per-protocol analyses
//!  (names,    (deps,      (initial,       (triggers,      (reachability, exits,
//!   types,     messages,   final,          guards,         timeouts, determinism,
//!   consts)    variables)  timeouts)       actions)        unused names)
//!                                   ─▶ dependency cycles ─▶ dependency dead ends ─▶ components
//! ```
//!
//! Architecture invariant: checking never stops at the first error, and never
//! panics on any input the parser produced. A [`Model`] is returned only when
//! there are no errors.

mod analysis;
mod components;
mod deps;
mod exprs;
mod names;
mod protocols;

use crate::diagnostic::Diagnostics;
use crate::ir::Model;
use crate::library::Library;

/// The outcome of checking a library.
#[derive(Debug)]
pub struct Checked {
    /// The intermediate form, when there were no errors.
    pub model: Option<Model>,
    /// Every error and warning found.
    pub diagnostics: Diagnostics,
}

/// Checks every declaration of the library.
pub fn check(lib: &Library) -> Checked {
    let mut cx = names::Context::new(lib);
    cx.collect_globals();
    cx.resolve_enums();
    cx.check_type_items();
    let mut protos = protocols::Protocols::new(&mut cx);
    protos.headers(&mut cx);
    protos.state_trees(&mut cx);
    protos.transitions(&mut cx);
    analysis::run(&mut cx, &mut protos);
    let cyclic = deps::cycles(&mut cx, &protos);
    deps::dead_ends(&mut cx, &protos, &cyclic);
    let components = components::check(&mut cx, &protos);
    let diagnostics = std::mem::take(&mut cx.diags);
    // A file that did not load or parse completely must not yield a model,
    // even when what could be parsed checks clean.
    let model = if diagnostics.has_errors() || !lib.load_errors.is_empty() {
        None
    } else {
        let mut model = std::mem::take(&mut cx.model);
        model.protocols = protos.into_ir();
        model.components = components;
        Some(model)
    };
    Checked { model, diagnostics }
}

/// Edit distance, for "did you mean" suggestions.
pub(crate) fn suggest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (name.len() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (levenshtein(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

/// Optimal-string-alignment distance: edits plus swaps of neighbours
/// (so `strat` is one step from `start`), ignoring ASCII case.
fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().map(|c| c.to_ascii_lowercase()).collect();
    let b: Vec<char> = b.chars().map(|c| c.to_ascii_lowercase()).collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// Appends "did you mean `x`?" to a diagnostic when there is a close name.
pub(crate) fn did_you_mean<'a>(
    d: crate::Diagnostic,
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> crate::Diagnostic {
    match suggest(name, candidates) {
        Some(s) => d.help(format!("did you mean `{s}`?")),
        None => d,
    }
}
