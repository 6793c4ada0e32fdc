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
