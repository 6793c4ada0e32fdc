//! Random valid specs check with no diagnostics at all, and large ones too.

use proptest::prelude::*;
use tingu::{Library, synth};

fn diagnostics(text: &str) -> (String, usize, bool) {
    let (lib, mut diags) = Library::from_source("gen.tingu", text);
    let checked = tingu::check(&lib);
    diags.extend(checked.diagnostics);
    (
        diags.render(&lib.sources, false),
        diags.len(),
        checked.model.is_some(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn random_valid_specs_check_clean(seed in any::<u64>()) {
        let text = synth::random_spec(seed);
        let (rendered, count, model) = diagnostics(&text);
        prop_assert!(count == 0 && model, "seed {seed}:\n{rendered}\n{text}");
    }
}

#[test]
fn large_spec_checks_clean_and_has_the_size_asked_for() {
    let text = synth::large_spec(10_000);
    let (lib, _) = Library::from_source("large.tingu", &text);
    let checked = tingu::check(&lib);
    assert!(
        checked.diagnostics.is_empty(),
        "{}",
        checked.diagnostics.render(&lib.sources, false)
    );
    let model = checked.model.unwrap();
    let states = model.protocols[0].states.len();
    assert!((9_900..=10_100).contains(&states), "{states} states");
}

/// Applies `edits` random token- or byte-level mutations to `text`.
fn mutate(text: &str, edits: &[(u8, usize, usize)]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for &(kind, a, b) in edits {
        // Keep the bytes valid UTF-8 so token spans index them exactly.
        bytes = String::from_utf8_lossy(&bytes).into_owned().into_bytes();
        let tokens = tingu::syntax::lexer::lex(tingu::FileId(0), &String::from_utf8_lossy(&bytes));
        let n = tokens.len().max(1);
        let (ta, tb) = (tokens[a % n].span.range(), tokens[b % n].span.range());
        match kind % 6 {
            // delete a token
            0 => {
                bytes.drain(ta);
            }
            // duplicate a token after another
            1 => {
                let copy = bytes[ta].to_vec();
                let at = tb.end.min(bytes.len());
                bytes.splice(at..at, copy);
            }
            // swap two tokens (the later one first, so ranges stay valid)
            2 if ta.end <= tb.start => {
                let (x, y) = (bytes[ta.clone()].to_vec(), bytes[tb.clone()].to_vec());
                bytes.splice(tb, x);
                bytes.splice(ta, y);
            }
            // flip a byte
            3 if !bytes.is_empty() => {
                let i = a % bytes.len();
                bytes[i] ^= 1 << (b % 8);
            }
            // truncate
            4 => bytes.truncate(a % (bytes.len() + 1)),
            // insert a token of the language somewhere
            _ => {
                const WORDS: &[&str] = &[
                    "state", "->", "}", "{", ";", "[", "initial", "final", "?m0", "d.", "0x", "5s",
                ];
                let at = tb.start.min(bytes.len());
                bytes.splice(at..at, WORDS[a % WORDS.len()].bytes());
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    /// Mutated valid specs go through the whole checker (not only the
    /// parser) and diagnostic rendering without a panic, and every
    /// diagnostic points inside the text.
    #[test]
    fn mutated_specs_never_panic_the_checker(
        seed in any::<u64>(),
        edits in proptest::collection::vec((any::<u8>(), any::<usize>(), any::<usize>()), 1..6),
    ) {
        let text = mutate(&synth::random_spec(seed), &edits);
        let (lib, mut diags) = Library::from_source("gen.tingu", &text);
        let checked = tingu::check(&lib);
        diags.extend(checked.diagnostics);
        for d in diags.iter() {
            let file = &lib.sources.file(d.span.file).text;
            prop_assert!(d.span.end as usize <= file.len() && d.span.start <= d.span.end);
            prop_assert!(file.is_char_boundary(d.span.start as usize) && file.is_char_boundary(d.span.end as usize));
        }
        let _ = diags.render(&lib.sources, false);
        prop_assert_eq!(checked.model.is_some(), !diags.has_errors());
        if let Some(model) = checked.model {
            for p in &model.protocols {
                let _ = tingu::graph::protocol_dot(&model, p);
            }
        }
    }
}
