//! The intermediate form's contract, which observers and code generation rely on.

use std::path::PathBuf;
use tingu::ir::{Binding, Label, Model, Trigger};
use tingu::{Library, check};

fn model_of(text: &str) -> Model {
    let (lib, diags) = Library::from_source("t.tingu", text);
    let checked = check(&lib);
    assert!(diags.is_empty(), "{}", diags.render(&lib.sources, false));
    checked
        .model
        .unwrap_or_else(|| panic!("{}", checked.diagnostics.render(&lib.sources, false)))
}

fn library() -> Model {
    let specs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../specs");
    let (lib, diags) = Library::load(&[specs]).unwrap();
    assert!(diags.is_empty());
    check(&lib).model.expect("the spec library checks")
}

const NESTED: &str = r#"
protocol P {
messages:
    in go(u32 n);
    in reset();
    out done();
variables:
    u32 count = 7;
states:
    initial state outer [3s] {
        ?reset -> outer;
        ?go(n) [n == 99] -> finished;
        initial state a {
            ?go(n) [n > 10] / count = n -> b;
            ?go(n) / count += 1;
        }
        state b { !done -> a; after(5ms) -> a; }
    }
    final state finished;
}
"#;

#[test]
fn candidates_are_innermost_first_then_source_order() {
    let m = model_of(NESTED);
    let p = &m.protocols[0];
    let a = p.state_named("a").unwrap();
    let go = p.label(Label::Own(p.message("go").unwrap())).unwrap();
    let texts: Vec<&str> = p
        .candidates(a, go)
        .iter()
        .map(|t| p.transitions[t.0 as usize].text.as_str())
        .collect();
    assert_eq!(
        texts,
        vec![
            "?go(n) [n > 10] / count = n -> b",
            "?go(n) / count += 1",
            "?go(n) [n == 99] -> finished"
        ]
    );
    // `reset` is inherited from the super-state and re-enters its initial leaf.
    let reset = p.label(Label::Own(p.message("reset").unwrap())).unwrap();
    let b = p.state_named("b").unwrap();
    let t = &p.transitions[p.candidates(b, reset)[0].0 as usize];
    assert_eq!(t.target_leaf, Some(a));
    // Messages own the first labels: LabelId == MessageId.
    for (i, _) in p.messages.iter().enumerate() {
        assert_eq!(p.labels[i], Label::Own(tingu::ir::MessageId(i as u32)));
    }
}

#[test]
fn states_leaves_timeouts_and_timers() {
    let m = model_of(NESTED);
    let p = &m.protocols[0];
    let outer = p.state_named("outer").unwrap();
    assert_eq!(p.state(outer).timeout_us, Some(3_000_000));
    assert_eq!(p.initial_leaf, p.state_named("a"));
    assert_eq!(p.entry_leaf(outer), p.state_named("a").unwrap());
    assert_eq!(p.path(p.state_named("b").unwrap()), "outer.b");
    assert_eq!(p.leaves.len(), 3);
    let b = p.state_named("b").unwrap();
    let timed = &p.timed[p.state(b).leaf_index.unwrap() as usize];
    assert_eq!(timed.len(), 1);
    assert_eq!(
        p.transitions[timed[0].0 as usize].trigger,
        Trigger::After(5_000)
    );
    assert_eq!(p.variables[0].init, 7);
}

#[test]
fn guards_evaluate_over_arguments_and_variables() {
    let m = model_of(NESTED);
    let p = &m.protocols[0];
    let first = &p
        .transitions
        .iter()
        .find(|t| t.text.starts_with("?go(n) [n > 10]"))
        .unwrap();
    let guard = first.guard.as_ref().unwrap();
    let eval = |n: i64| guard.eval(&|_| 0, &|_| n, &|_, _| false).unwrap();
    assert_eq!((eval(11), eval(10)), (1, 0));
    let action = &first.actions[0];
    assert_eq!(action.value.eval(&|_| 0, &|_| 42, &|_, _| false), Ok(42));
}

#[test]
fn asix_component_bindings_spawns_and_listeners() {
    let m = library();
    let asix = m.component("asix").expect("asix component");
    let lc = asix.port("lc").unwrap();
    let pm = asix.port("pm").unwrap();
    assert_eq!(asix.kind(pm).bindings, vec![Binding::Port(lc)]);
    // The USB interface spawns pipe subports, whose dependency is their parent.
    let pipes = asix
        .kinds
        .iter()
        .find(|k| k.spawned_by.is_some())
        .expect("a subport kind");
    assert_eq!(m.proto(pipes.protocol).name, "USBPipeClient");
    assert_eq!(pipes.bindings, vec![Binding::Parent]);
    assert!(asix.kind(asix.port("timer").unwrap()).mirror);
    // Everyone who names `lc.unplugged` is listed as a listener of Lifecycle's `unplugged`.
    let lifecycle = m.proto(asix.kind(lc).protocol);
    let unplugged = lifecycle.message("unplugged").unwrap();
    let listeners: Vec<&str> = asix.kind(lc).listeners[unplugged.0 as usize]
        .iter()
        .map(|(k, _)| asix.kind(*k).name.as_str())
        .collect();
    for name in ["pm", "eth"] {
        assert!(
            listeners.contains(&name),
            "{name} listens to lc.unplugged: {listeners:?}"
        );
    }
    // Each listener's label really is `lc.unplugged` in its own alphabet.
    for (k, label) in &asix.kind(lc).listeners[unplugged.0 as usize] {
        let proto = m.proto(asix.kind(*k).protocol);
        assert_eq!(proto.label_text(&m, *label), "lc.unplugged");
        assert!(matches!(proto.labels[label.0 as usize], Label::Dep(..)));
    }
}
