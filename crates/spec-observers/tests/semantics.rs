//! One test per tricky rule of evaluation, on the extra specs
//! (`specs-extra/`): each runs an interpreted and a compiled observer side
//! by side ([`common::Pair`] checks they agree after every step) and checks
//! the outcome the rule asks for. Then the backend's safety checks, and the
//! embedded model against the specs on disk.

mod common;

use common::{Pair, violation};
use std::sync::Arc;
use tingu::ir::Model;
use tingu_observer::{
    Blame, Config, InterpretedBackend, Observer, Verdict, ViolationKind, VirtualClock,
};

// Variables of `Arith`, in declaration order.
const ACC: usize = 0;
const SMALL: usize = 1;
const FLAG: usize = 2;
const BIG: usize = 3;
const S16: usize = 4;
const MODE: usize = 5;
const COUNT: usize = 6;

fn calc() -> Pair {
    Pair::new(
        &spec_observers::extra::model(),
        &spec_observers::extra::CompiledBackend,
        "calc",
        Config::default(),
    )
}

fn gadget() -> Pair {
    Pair::new(
        &spec_observers::extra::model(),
        &spec_observers::extra::CompiledBackend,
        "gadget",
        Config::default(),
    )
}

fn assert_ok(v: &Verdict) {
    assert!(v.is_ok(), "{}", common::show(v));
}

/// A spec error, blamed on the spec, with this detail.
fn assert_spec_error(v: &Verdict, detail: &str) {
    let (kind, got) = violation(v);
    assert_eq!(kind, ViolationKind::SpecError);
    assert_eq!(got, detail);
    if let Verdict::Violation(v) = v {
        assert_eq!(v.blame, Blame::Spec);
    }
}

#[test]
fn overflow_in_an_action_is_a_spec_error_that_changes_nothing() {
    let mut p = calc();
    assert_ok(&p.send("arith", "?add", &[i64::MAX]));
    assert_eq!(p.vars("arith")[ACC], i64::MAX);
    let v = p.send("arith", "?add", &[1]);
    assert_spec_error(&v, "arithmetic overflow in `?add(x) / acc += x`");
    assert_eq!(p.vars("arith")[ACC], i64::MAX);
    // `acc = acc * x`, and `-x` of the smallest i64.
    let v = p.send("arith", "?mul", &[2]);
    assert_spec_error(&v, "arithmetic overflow in `?mul(x) / acc = acc * x`");
    let v = p.send("arith", "?neg", &[i64::MIN]);
    assert_spec_error(&v, "arithmetic overflow in `?neg(x) / acc = -x`");
    assert_ok(&p.send("arith", "?neg", &[i64::MAX]));
    assert_eq!(p.vars("arith")[ACC], -i64::MAX);
    // `-(acc - BIG) - 1`: `acc - BIG` overflows below.
    let v = p.send("arith", "?step", &[100]);
    assert_spec_error(
        &v,
        "arithmetic overflow in `?step(x) / acc = -(acc - BIG) - 1`",
    );
}

#[test]
fn a_step_is_all_or_nothing() {
    let mut p = calc();
    assert_ok(&p.send("arith", "?store8", &[0]));
    // `acc -= x` would succeed, `small -= 1` cannot: neither happens.
    let v = p.send("arith", "?sub", &[5]);
    assert_spec_error(
        &v,
        "-1 does not fit variable `small` of type `u8` in `?sub(x) / acc -= x, small -= 1`",
    );
    assert_eq!(p.vars("arith")[ACC], 0);
    assert_eq!(p.vars("arith")[SMALL], 0);
}

#[test]
fn division_by_zero_in_a_guard() {
    let mut p = calc();
    let v = p.send("arith", "?div", &[0]);
    assert_spec_error(&v, "division by zero in a guard");
    assert_eq!(p.state("arith"), "Arith.working.plain");
    // `i64::MIN % -1` overflows (it is not 0), in the guard too.
    let v = p.send("arith", "?rem", &[i64::MIN, -1]);
    assert_spec_error(&v, "arithmetic overflow in a guard");
    // In an action: `?div(d)` with `100 / d <= 1` takes `acc = acc % d`.
    assert_ok(&p.send("arith", "?add", &[7]));
    assert_ok(&p.send("arith", "?div", &[1000]));
    assert_eq!(p.vars("arith")[ACC], 7);
    assert_ok(&p.send("arith", "?div", &[-3]));
    assert_eq!(p.vars("arith")[ACC], 7 % -3);
    // `/` truncates toward zero, `%` takes the dividend's sign.
    assert_ok(&p.send("arith", "?rem", &[-7, 4]));
    assert_eq!(p.vars("arith")[ACC], (-7 - 4) * 2 / -3);
}

#[test]
fn out_of_range_assignments() {
    let mut p = calc();
    assert_ok(&p.send("arith", "?store8", &[255]));
    let v = p.send("arith", "?store8", &[256]);
    assert_spec_error(
        &v,
        "256 does not fit variable `small` of type `u8` in `?store8(v) / small = v`",
    );
    assert_eq!(p.vars("arith")[SMALL], 255);
    let v = p.send("arith", "?storeFlag", &[2]);
    assert_spec_error(
        &v,
        "2 does not fit variable `flag` of type `bool` in `?storeFlag(b) / flag = b`",
    );
    let v = p.send("arith", "?store64", &[-1]);
    assert_spec_error(
        &v,
        "-1 does not fit variable `big` of type `u64` in `?store64(v) / big = v, big += 1`",
    );
    // The second action fails: `big += 1` past the u64 range (i64::MAX).
    let v = p.send("arith", "?store64", &[i64::MAX]);
    assert_spec_error(
        &v,
        "arithmetic overflow in `?store64(v) / big = v, big += 1`",
    );
    assert_eq!(p.vars("arith")[BIG], 0);
    let v = p.send("arith", "?store16", &[-32_768]);
    assert_spec_error(
        &v,
        "-32769 does not fit variable `s16` of type `i16` in `?store16(v) / s16 = v - 1`",
    );
    assert_ok(&p.send("arith", "?store16", &[-32_767]));
    assert_eq!(p.vars("arith")[S16], -32_768);
    // Enum variables are not range-checked (as in the interpreter): a host
    // may pass any value for an enum argument.
    assert_ok(&p.send("arith", "?setMode", &[5]));
    assert_eq!(p.vars("arith")[MODE], 5);
    // A missing argument reads as 0.
    assert_ok(&p.send("arith", "?store8", &[]));
    assert_eq!(p.vars("arith")[SMALL], 0);
}

#[test]
fn guards_read_dependency_states() {
    let mut p = gadget();
    // `?pass(n) [sw in up && n > 0]`: the switch is down.
    let (kind, _) = violation(&p.send("gate", "?pass", &[1]));
    assert_eq!(kind, ViolationKind::Illegal { blocked_by: None });
    assert_ok(&p.send("sw", "?on", &[]));
    assert_eq!(p.state("sw"), "Switch.up.warm");
    // `sw in up` holds in up's sub-states.
    assert_ok(&p.send("gate", "?pass", &[3]));
    assert_eq!(p.vars("gate"), [3]);
    // `!report(v) [!(sw in up.hot) || v == passed]`
    assert_ok(&p.send("gate", "!report", &[99]));
    assert_ok(&p.send("sw", "?on", &[]));
    assert_eq!(p.state("sw"), "Switch.up.hot");
    let (kind, _) = violation(&p.send("gate", "!report", &[99]));
    assert_eq!(kind, ViolationKind::Illegal { blocked_by: None });
    assert_ok(&p.send("gate", "!report", &[3]));
    // `passed += n` past 255 does not fit a u8.
    let v = p.send("gate", "?pass", &[253]);
    assert_spec_error(
        &v,
        "256 does not fit variable `passed` of type `u8` in `?pass(n) [sw in up && n > 0] / passed += n`",
    );
    // The switch leaves: the gate closes with it (rule 3).
    assert_ok(&p.send("sw", "?remove", &[]));
    assert!(p.interp.component_terminated());
}

#[test]
fn short_circuits_avoid_division_by_zero() {
    let mut p = calc();
    // `[d != 0 && 10 / d > 2]` is false without dividing: the else branch.
    assert_ok(&p.send("arith", "?andDiv", &[0]));
    assert_eq!(p.vars("arith")[COUNT], 0);
    assert_ok(&p.send("arith", "?andDiv", &[3]));
    assert_eq!(p.vars("arith")[COUNT], 1);
    // `[d == 0 || 10 / d < 2]` is true without dividing.
    assert_ok(&p.send("arith", "?orDiv", &[0]));
    assert_eq!(p.state("arith"), "Arith.working.counting");
    // Without the short circuit, the same division fails.
    let mut q = calc();
    assert_spec_error(
        &q.send("arith", "?div", &[0]),
        "division by zero in a guard",
    );
    // `[flag && x >= LIMIT || !flag && x < -LIMIT]`: `&&` binds tighter.
    assert_ok(&q.send("arith", "?step", &[2]));
    assert_eq!(q.vars("arith")[ACC], 2);
    assert_ok(&q.send("arith", "?step", &[3]));
    assert_eq!(q.vars("arith")[ACC], -(2 - i64::MAX) - 1);
    assert_eq!(q.vars("arith")[FLAG], 0);
}

#[test]
fn timed_guards_run_without_a_message() {
    let mut p = calc();
    assert_ok(&p.send("arith", "?orDiv", &[0]));
    assert_ok(&p.send("arith", "?step", &[0]));
    assert_ok(&p.send("arith", "?step", &[0]));
    assert_eq!(p.vars("arith")[COUNT], 2);
    // At 500 ms: `[count > 0 && big % (count - 1) == 0]` holds.
    p.wait(500_000);
    assert_ok(&p.advance().unwrap());
    assert_eq!(p.state("arith"), "Arith.working.plain");
    assert_eq!(p.vars("arith")[COUNT], 2000);

    // With count == 1 the guard divides by zero: a spec error at 500 ms,
    // then the next `after` (1 s) is false and the last (1.5 s) fires.
    let mut p = calc();
    assert_ok(&p.send("arith", "?orDiv", &[0]));
    assert_ok(&p.send("arith", "?step", &[0]));
    p.wait(500_000);
    p.advance().unwrap();
    let last = p.interp.violations().last().expect("a spec error");
    assert_eq!(last.kind, ViolationKind::SpecError);
    assert!(
        last.detail.starts_with("division by zero in"),
        "{}",
        last.detail
    );
    p.wait(1_000_000);
    assert_ok(&p.advance().unwrap());
    assert_eq!(p.state("arith"), "Arith.working.plain");
    assert_eq!(p.vars("arith")[COUNT], 1000);
}

// ---- the backend's checks -----------------------------------------------------

#[test]
#[should_panic(expected = "no generated code for protocol `Arith`")]
fn a_model_from_other_specs_is_refused() {
    let _ = Observer::new(
        spec_observers::extra::model(),
        "calc",
        &spec_observers::CompiledBackend,
        VirtualClock::new(),
        Config::default(),
    );
}

#[test]
#[should_panic(
    expected = "protocol `Arith` has [4, 16, 27, 8] states, labels, transitions and variables, but its code was generated for [4, 16, 27, 7]"
)]
fn a_protocol_of_another_shape_is_refused() {
    let sources: Vec<(&str, String)> = spec_observers::extra::SOURCES
        .iter()
        .map(|(n, t)| (*n, t.replace("  u32 count;", "  u32 count;\n  u32 other;")))
        .collect();
    let refs: Vec<(&str, &str)> = sources.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let (lib, _) = tingu::Library::from_sources(&refs);
    let model = tingu::check(&lib).model.expect("still checks");
    let _ = Observer::new(
        Arc::new(model),
        "calc",
        &spec_observers::extra::CompiledBackend,
        VirtualClock::new(),
        Config::default(),
    );
}

#[test]
fn the_embedded_model_is_the_library_on_disk() {
    let specs = std::fs::canonicalize(concat!(env!("CARGO_MANIFEST_DIR"), "/../../specs"))
        .expect("the spec folder");
    let (lib, _) = tingu::Library::load(&[specs]).expect("loads");
    let disk = tingu::check(&lib).model.expect("checks");
    let embedded = spec_observers::model();
    let shape = |m: &Model| -> Vec<(String, usize, usize, usize, usize)> {
        m.protocols
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    p.states.len(),
                    p.labels.len(),
                    p.transitions.len(),
                    p.variables.len(),
                )
            })
            .collect()
    };
    assert_eq!(shape(&disk), shape(&embedded));
    assert_eq!(disk.protocols.len(), 7);
    let comps = |m: &Model| {
        m.components
            .iter()
            .map(|c| c.name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(comps(&disk), comps(&embedded));
    // The texts too.
    for (name, text) in spec_observers::SOURCES {
        let on_disk = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../specs")
                .join(name),
        )
        .expect("the file");
        assert_eq!(&on_disk, text, "{name}");
    }
}

// ---- engine bugs found on the way, fixed: regression tests ------------------------

/// Rule 7: an internal `after` fires at most once per visit. The engine
/// does not mark it done when it fires (`move_to` returns early for a
/// transition without a target), so the same timer is due again at the
/// same instant, forever.
#[test]
fn internal_after_fires_once_per_visit() {
    let (lib, _) = tingu::Library::from_source(
        "t.tingu",
        "protocol P {
           messages: in go(); in stop();
           variables: u32 n;
           states:
             initial state s [5s] { after(1s) / n += 1; ?go; ?stop -> e; }
             final state e;
         }
         component c { ports: P p; }",
    );
    let model = Arc::new(tingu::check(&lib).model.expect("checks"));
    let (done, wait) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let clock = VirtualClock::new();
        let mut obs = Observer::new(
            model,
            "c",
            &InterpretedBackend,
            clock.clone(),
            Config::default(),
        )
        .unwrap();
        clock.advance(1_500_000);
        let v = obs.advance();
        let p = obs.port("p").unwrap();
        let _ = done.send((v.is_ok(), obs.variables_of(p).unwrap().to_vec()));
    });
    let (ok, vars) = wait
        .recv_timeout(std::time::Duration::from_secs(5))
        .expect("`advance` returns");
    assert!(ok);
    assert_eq!(vars, [1]);
}

/// Rule 9: an evaluation error abandons the step. For a message, the
/// engine runs actions on a copy; for an `after` transition it runs them
/// in place, so actions before the failing one stay done.
#[test]
fn a_failing_after_transition_changes_nothing() {
    let mut p = calc();
    assert_ok(&p.send("arith", "?store64", &[9_999_999]));
    assert_ok(&p.send("arith", "?andDiv", &[5_000_001]));
    assert_ok(&p.send("arith", "?orDiv", &[0]));
    assert_eq!(p.vars("arith")[BIG], 10_000_000);
    assert_eq!(p.vars("arith")[COUNT], 5_000_001);
    // At 500 ms the guard holds; `big = big / 2` runs, then `count = count *
    // 1000` does not fit a u32.
    p.wait(500_000);
    p.advance().unwrap();
    let last = p.interp.violations().last().expect("a spec error");
    assert_eq!(last.kind, ViolationKind::SpecError);
    assert_eq!(p.vars("arith")[BIG], 10_000_000);
}

/// `advance` returns the first violation of the timers it runs; a spec
/// error in an `after` transition is recorded but not returned.
#[test]
fn advance_returns_spec_errors_of_after_transitions() {
    let mut p = calc();
    assert_ok(&p.send("arith", "?orDiv", &[0]));
    assert_ok(&p.send("arith", "?step", &[0]));
    p.wait(500_000);
    let v = p.advance().unwrap();
    assert_eq!(violation(&v).0, ViolationKind::SpecError);
}
