//! The engine's fast path (legal steps of one instance, see `plan` in
//! `engine.rs`) changes nothing observable: generated legal and mutated
//! traces of every component of the library, stepped through two
//! interpreted observers, one with the fast path off, give the same verdict
//! at every event, the same violation reports, and the same state,
//! variables and termination of every instance after every event.

use std::path::PathBuf;
use std::sync::Arc;
use tingu::ir::Model;
use tingu_observer::generate::{MUTATIONS, mutate, random_walk};
use tingu_observer::replay::step;
use tingu_observer::trace::{EventKind, Trace, write};
use tingu_observer::{Config, InterpretedBackend, Observer, Policy, VirtualClock};

fn model() -> Arc<Model> {
    let specs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../specs");
    let (lib, _) = tingu::Library::load(&[specs]).unwrap();
    Arc::new(tingu::check(&lib).model.unwrap())
}

fn snapshot(obs: &Observer<VirtualClock>) -> String {
    let mut out = String::new();
    for h in obs.handles() {
        out.push_str(&format!(
            "{h:?} {:?} {:?} {:?}\n",
            obs.state_of(h),
            obs.variables_of(h),
            obs.is_terminated(h)
        ));
    }
    out.push_str(&format!(
        "checked {} stopped {} next {:?}",
        obs.checked(),
        obs.is_stopped(),
        obs.next_timeout()
    ));
    out
}

fn compare(model: &Arc<Model>, component: &str, trace: &Trace, policy: Policy) {
    let clock = VirtualClock::new();
    let config = Config { history: 8, policy };
    let mut fast = Observer::new(
        model.clone(),
        component,
        &InterpretedBackend,
        clock.clone(),
        config,
    )
    .unwrap();
    let mut general = Observer::new(
        model.clone(),
        component,
        &InterpretedBackend,
        clock.clone(),
        config,
    )
    .unwrap();
    general.set_fast_path(false);
    for e in &trace.events {
        clock.set(e.time_us);
        let (a, b) = match &e.kind {
            EventKind::Tick => (fast.advance(), general.advance()),
            EventKind::Message(m) => (step(&mut fast, m).unwrap(), step(&mut general, m).unwrap()),
        };
        let text = write(trace);
        assert_eq!(
            a, b,
            "{component}: line {}: verdicts differ in\n{text}",
            e.line
        );
        assert_eq!(
            snapshot(&fast),
            snapshot(&general),
            "{component}: line {}: observers differ in\n{text}",
            e.line
        );
        assert_eq!(fast.violations(), general.violations());
    }
}

#[test]
fn fast_and_general_paths_agree_on_generated_traces() {
    let model = model();
    let mut traces = 0;
    for component in ["asix", "mqnic_driver", "usb_bus"] {
        for n in 0..300u64 {
            let seed = 0x5eed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let walk = random_walk(&model, component, seed, 10 + (n % 80) as usize).unwrap();
            let policy = if n % 2 == 0 {
                Policy::Continue
            } else {
                Policy::Stop
            };
            compare(&model, component, &walk, policy);
            traces += 1;
            let mutation = MUTATIONS[n as usize % MUTATIONS.len()];
            if let Some(bad) = mutate(&model, component, &walk, mutation, seed) {
                compare(&model, component, &bad, policy);
                traces += 1;
            }
        }
    }
    assert!(traces >= 1_200, "{traces} traces");
}
