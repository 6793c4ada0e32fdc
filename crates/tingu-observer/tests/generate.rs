//! Generated traces: random walks are legal (and survive the text format),
//! mutations make them illegal, and walks cover the specs.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use tingu::ir::Model;
use tingu_observer::generate::{MUTATIONS, Mutation, mutate, random_walk};
use tingu_observer::{Config, InterpretedBackend, Policy, replay, trace};

fn library() -> Arc<Model> {
    let specs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../specs");
    let (lib, _) = tingu::Library::load(&[specs]).unwrap();
    Arc::new(tingu::check(&lib).model.expect("the library checks"))
}

fn config() -> Config {
    Config {
        history: 16,
        policy: Policy::Continue,
    }
}

#[test]
fn random_walks_are_legal_and_round_trip_through_text() {
    let model = library();
    for c in &model.components {
        let mut total = 0;
        for seed in 0..150 {
            let t = random_walk(&model, &c.name, seed, 120).expect("walk");
            total += t.events.len();
            let r = replay(model.clone(), &c.name, &t, &InterpretedBackend, config()).unwrap();
            assert!(
                r.violations.is_empty(),
                "{} seed {seed}: {}\n{}",
                c.name,
                r.violations[0].1,
                trace::write(&t)
            );
            let reparsed = trace::parse(&trace::write(&t)).unwrap();
            let r2 = replay(
                model.clone(),
                &c.name,
                &reparsed,
                &InterpretedBackend,
                config(),
            )
            .unwrap();
            assert!(r2.violations.is_empty());
            assert_eq!(r.verdicts.len(), r2.verdicts.len());
        }
        assert!(
            total / 150 >= 10,
            "{}: walks too short ({} events on average)",
            c.name,
            total / 150
        );
    }
}

#[test]
fn walks_visit_most_states() {
    let model = library();
    let asix = model.component("asix").unwrap();
    let mut visited: HashSet<String> = HashSet::new();
    for seed in 0..300 {
        let t = random_walk(&model, "asix", seed, 200).unwrap();
        let clock = tingu_observer::VirtualClock::new();
        let mut obs = tingu_observer::Observer::new(
            model.clone(),
            "asix",
            &InterpretedBackend,
            clock.clone(),
            config(),
        )
        .unwrap();
        for e in &t.events {
            clock.set(e.time_us);
            let prefix = trace::Trace {
                component: None,
                events: vec![e.clone()],
            };
            let _ = prefix;
            let _ = obs.advance();
            if let trace::EventKind::Message(m) = &e.kind {
                let _ = tingu_observer::replay::step(&mut obs, m);
            }
            for h in obs.handles() {
                if let Some(s) = obs.state_of(h) {
                    visited.insert(s);
                }
            }
        }
    }
    let total: usize = asix
        .kinds
        .iter()
        .map(|k| {
            model
                .proto(k.protocol)
                .leaves
                .iter()
                .filter(|l| !model.proto(k.protocol).state(**l).is_final)
                .count()
        })
        .sum();
    assert!(
        visited.len() * 100 >= total * 70,
        "walks visited {} of {total} non-final leaf states: {visited:?}",
        visited.len()
    );
}

#[test]
fn every_mutation_makes_illegal_traces() {
    let model = library();
    let mut made = [0usize; 6];
    for c in &model.components {
        for seed in 0..60 {
            let t = random_walk(&model, &c.name, seed, 80).unwrap();
            for (n, m) in MUTATIONS.iter().enumerate() {
                if let Some(bad) = mutate(&model, &c.name, &t, *m, seed * 7 + n as u64) {
                    let r = replay(model.clone(), &c.name, &bad, &InterpretedBackend, config())
                        .unwrap();
                    assert!(!r.violations.is_empty(), "{m:?} must give a violation");
                    made[n] += 1;
                }
            }
        }
    }
    for (n, m) in MUTATIONS.iter().enumerate() {
        let expected_min = if *m == Mutation::UnknownSubport {
            10
        } else {
            30
        };
        assert!(
            made[n] >= expected_min,
            "{m:?}: only {} illegal traces made",
            made[n]
        );
    }
}
