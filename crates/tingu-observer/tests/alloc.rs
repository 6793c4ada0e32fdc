//! After warm-up, checking a legal message allocates nothing. Counted with
//! `allocation-counter`, which wraps the system allocator in test builds.

use std::path::PathBuf;
use std::sync::Arc;
use tingu::ir::{MessageId, Type};
use tingu::syntax::ast::Direction;
use tingu_observer::generate::random_walk;
use tingu_observer::trace::{EventKind, Sigil, Value};
use tingu_observer::{Config, Handle, InterpretedBackend, Observer, Policy, Verdict, VirtualClock};

/// A message event with everything resolved ahead, except subport handles
/// (looked up by key at run time, which allocates nothing).
struct Event {
    time: u64,
    port: Option<Handle>,
    path: Vec<(MessageId, i64)>,
    direction: Direction,
    message: MessageId,
    args: Vec<i64>,
}

#[test]
fn legal_messages_allocate_nothing_after_warm_up() {
    // The counter works: an allocation is seen.
    assert!(
        allocation_counter::measure(|| drop(std::hint::black_box(vec![1u8; 16]))).count_total >= 1
    );
    let specs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../specs");
    let (lib, _) = tingu::Library::load(&[specs]).unwrap();
    let model = Arc::new(tingu::check(&lib).model.unwrap());
    let clock = VirtualClock::new();
    let config = Config {
        history: 32,
        policy: Policy::Continue,
    };
    let mut obs = Observer::new(
        model.clone(),
        "asix",
        &InterpretedBackend,
        clock.clone(),
        config,
    )
    .unwrap();
    let mut checked_walks = 0;
    for seed in 0..40 {
        let walk = random_walk(&model, "asix", seed, 400).unwrap();
        // Decode (allocates; not counted), resolving names on a scratch observer.
        clock.set(0);
        obs.reset();
        let mut events = Vec::new();
        for e in &walk.events {
            clock.set(e.time_us);
            let EventKind::Message(m) = &e.kind else {
                let _ = obs.advance();
                events.push(Event {
                    time: e.time_us,
                    port: None,
                    path: vec![],
                    direction: Direction::In,
                    message: MessageId(0),
                    args: vec![],
                });
                continue;
            };
            let port = obs.port(&m.address.port).unwrap();
            let mut h = port;
            let mut path = Vec::new();
            for (spawner, key) in &m.address.path {
                let sm = obs.protocol_of(h).unwrap().message(spawner).unwrap();
                h = obs.subport(h, sm, *key).unwrap();
                path.push((sm, *key));
            }
            let p = obs.protocol_of(h).unwrap();
            let message = p.message(&m.message).unwrap();
            let args: Vec<i64> = m
                .args
                .iter()
                .zip(&p.messages[message.0 as usize].params)
                .map(|(v, param)| match (v, param.ty) {
                    (Value::Int(x), _) => *x,
                    (Value::Bool(b), _) => *b as i64,
                    (Value::Name(n), Type::Enum(en)) => {
                        model.enums[en as usize]
                            .variants
                            .iter()
                            .find(|(x, _)| x == n)
                            .unwrap()
                            .1
                    }
                    _ => unreachable!(),
                })
                .collect();
            let direction = if m.direction == Sigil::Question {
                Direction::In
            } else {
                Direction::Out
            };
            assert_eq!(obs.message(h, direction, message, &args), Verdict::Ok);
            events.push(Event {
                time: e.time_us,
                port: Some(port),
                path,
                direction,
                message,
                args,
            });
        }
        // The decoding run warmed every slot up; run the same walk again, counted.
        clock.set(0);
        obs.reset();
        let info = allocation_counter::measure(|| {
            for e in &events {
                clock.set(e.time);
                let v = match e.port {
                    None => obs.advance(),
                    Some(port) => {
                        let mut h = Some(port);
                        for &(spawner, key) in &e.path {
                            h = h.and_then(|p| obs.subport(p, spawner, key));
                        }
                        obs.message(h.unwrap(), e.direction, e.message, &e.args)
                    }
                };
                assert!(v.is_ok());
            }
        });
        let allocations = info.count_total;
        assert_eq!(
            allocations,
            0,
            "walk {seed}: {} events made {allocations} allocations",
            events.len()
        );
        checked_walks += events.len();
    }
    assert!(
        checked_walks > 2_000,
        "too few events checked: {checked_walks}"
    );
}
