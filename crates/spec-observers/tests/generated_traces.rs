//! Differential test over generated traces: for every component of the
//! library and of the extra test specs, legal traces from
//! `tingu_observer::generate::random_walk` and illegal ones from
//! `generate::mutate` (each of the six mutations) are replayed through an
//! interpreted and a compiled observer. The verdict of every event, every
//! violation report (all fields) and the final state, variables and
//! counters of every live instance must be equal; legal walks must replay
//! clean and mutated ones must not.
//!
//! `STREAMS_PERCENT=10` runs a tenth of the traces.

use std::sync::Arc;
use tingu::ir::Model;
use tingu_observer::generate::{MUTATIONS, mutate, random_walk};
use tingu_observer::replay::{Replayed, replay};
use tingu_observer::trace::Trace;
use tingu_observer::{Backend, Config, InterpretedBackend, Observer, Policy, VirtualClock};

/// How many traces were checked, legal and mutated.
#[derive(Default, Debug)]
struct Count {
    legal: usize,
    mutated: usize,
}

fn config() -> Config {
    Config {
        history: 16,
        policy: Policy::Continue,
    }
}

fn run(model: &Arc<Model>, component: &str, trace: &Trace, backend: &dyn Backend) -> Replayed {
    replay(model.clone(), component, trace, backend, config())
        .unwrap_or_else(|e| panic!("{component}: replay failed: {e}"))
}

/// Everything observable after a replay, as comparable values.
fn observable(obs: &Observer<VirtualClock>) -> String {
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
        "violations {} checked {} stopped {} terminated {} next {:?}",
        obs.violations().len(),
        obs.checked(),
        obs.is_stopped(),
        obs.component_terminated(),
        obs.next_timeout()
    ));
    out
}

/// Replays `trace` through both backends and checks that they agree.
/// Returns whether the trace was legal.
fn agree(model: &Arc<Model>, backend: &dyn Backend, component: &str, trace: &Trace) -> bool {
    let a = run(model, component, trace, &InterpretedBackend);
    let b = run(model, component, trace, backend);
    let text = tingu_observer::trace::write(trace);
    assert_eq!(
        a.verdicts, b.verdicts,
        "{component}: per-event verdicts differ on\n{text}"
    );
    assert_eq!(
        a.violations, b.violations,
        "{component}: violation reports differ on\n{text}"
    );
    assert_eq!(
        observable(&a.observer),
        observable(&b.observer),
        "{component}: final observers differ on\n{text}"
    );
    a.violations.is_empty()
}

fn traces(model: Arc<Model>, backend: &dyn Backend, component: &str, walks: usize) -> Count {
    let mut count = Count::default();
    let base = component.bytes().fold(0x9e37_79b9_7f4a_7c15_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    for n in 0..walks as u64 {
        let seed = base ^ n.wrapping_mul(0x2545_f491_4f6c_dd1d);
        let Some(walk) = random_walk(&model, component, seed, 4 + (n % 60) as usize) else {
            panic!("{component}: no walk for seed {seed:#x}");
        };
        assert!(
            agree(&model, backend, component, &walk),
            "{component}: a random walk (seed {seed:#x}) is not legal:\n{}",
            tingu_observer::trace::write(&walk)
        );
        count.legal += 1;
        let mutation = MUTATIONS[n as usize % MUTATIONS.len()];
        if let Some(bad) = mutate(&model, component, &walk, mutation, seed ^ 1) {
            assert!(
                !agree(&model, backend, component, &bad),
                "{component}: {mutation:?} (seed {seed:#x}) left the trace legal"
            );
            count.mutated += 1;
        }
    }
    count
}

/// `default`, or `STREAMS_PERCENT` percent of it.
fn n(default: usize) -> usize {
    std::env::var("STREAMS_PERCENT")
        .ok()
        .and_then(|p| p.parse::<usize>().ok())
        .map_or(default, |p| (default * p / 100).max(1))
}

#[test]
fn interpreted_and_compiled_agree_on_generated_traces() {
    let start = std::time::Instant::now();
    let mut total = Count::default();
    let library: [(&str, usize); 3] =
        [("asix", 1_600), ("mqnic_driver", 1_600), ("usb_bus", 1_200)];
    for (component, walks) in library {
        let c = traces(
            spec_observers::model(),
            &spec_observers::CompiledBackend,
            component,
            n(walks),
        );
        eprintln!("{component}: {c:?}");
        total.legal += c.legal;
        total.mutated += c.mutated;
    }
    for (component, walks) in [("calc", 1_000), ("gadget", 1_000)] {
        let c = traces(
            spec_observers::extra::model(),
            &spec_observers::extra::CompiledBackend,
            component,
            n(walks),
        );
        eprintln!("{component}: {c:?}");
        total.legal += c.legal;
        total.mutated += c.mutated;
    }
    eprintln!(
        "{} legal + {} mutated traces agree, in {:.1?}",
        total.legal,
        total.mutated,
        start.elapsed()
    );
    if n(100) == 100 {
        assert!(
            total.legal + total.mutated >= 10_000,
            "only {total:?} traces"
        );
        assert!(total.mutated >= 3_000, "only {total:?} traces");
    }
}
