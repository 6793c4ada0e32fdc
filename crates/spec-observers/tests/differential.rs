//! Differential tests: the generated code against the interpreter.
//!
//! - At the level of `ProtocolCode`: for every protocol, `select` on every
//!   (state, label) pair, `timed_guard` on every timed transition and
//!   `apply` on every transition, over random variables, arguments and
//!   dependency states (values out of range included), must give the same
//!   results and leave the same variables.
//! - At the level of observers: for every component of the library (and of
//!   the extra test specs), an interpreted and a compiled observer get the
//!   same random event streams, mostly messages that the current state has
//!   candidates for, with arguments biased toward small numbers, the
//!   constants of the specs and live subport keys, plus random messages
//!   (wrong direction, wrong state, freed subports) and clock advances past
//!   timeouts. After every step the verdicts must be equal (every field of a
//!   violation report), and so must every live instance's state, variables
//!   and termination, and the observers' counters.
//!
//! Everything is seeded; a failure names the component, the stream's seed
//! and the events that led to it. To reproduce: `TRACE_SEED=0x...` prints
//! that stream's events as they run, `TRACE_STREAMS=1` every stream's seed,
//! `STREAMS_PERCENT=10` runs a tenth of the streams.

mod common;

use common::{Pair, Rng, show};
use std::collections::BTreeMap;
use std::sync::Arc;
use tingu::ir::{Expr, Label, LabelId, MessageId, Model, ProtocolId, StateId, TransitionId, Type};
use tingu::syntax::ast::Direction;
use tingu_observer::code::ActionError;
use tingu_observer::{Backend, Config, Handle, InterpretedBackend, Policy, Verdict};

/// A generated module: its model and backend.
struct Generated {
    name: &'static str,
    model: Arc<Model>,
    backend: &'static dyn Backend,
}

fn library() -> Generated {
    Generated {
        name: "specs",
        model: spec_observers::model(),
        backend: &spec_observers::CompiledBackend,
    }
}

fn extra() -> Generated {
    Generated {
        name: "specs-extra",
        model: spec_observers::extra::model(),
        backend: &spec_observers::extra::CompiledBackend,
    }
}

// ---- values -----------------------------------------------------------------

/// Every constant in a guard or an action, its neighbours, and every enum
/// value: the values where guards change their mind.
fn constants(model: &Model) -> Vec<i64> {
    fn walk(e: &Expr, out: &mut Vec<i64>) {
        match e {
            Expr::Const(c) => out.extend([*c, c.saturating_sub(1), c.saturating_add(1)]),
            Expr::Unary(_, x) => walk(x, out),
            Expr::Binary(_, a, b) => {
                walk(a, out);
                walk(b, out);
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for p in &model.protocols {
        for t in &p.transitions {
            if let Some(g) = &t.guard {
                walk(g, &mut out);
            }
            for a in &t.actions {
                walk(&a.value, &mut out);
            }
        }
        for v in &p.variables {
            out.push(v.init);
        }
    }
    for e in &model.enums {
        out.extend(e.variants.iter().map(|(_, v)| *v));
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Values of a type, biased toward those that matter.
struct Values {
    constants: Vec<i64>,
}

impl Values {
    fn int(&self, rng: &mut Rng) -> i64 {
        match rng.below(100) {
            0..40 => rng.range(0, 5) as i64,
            40..65 => *rng.pick(&self.constants),
            65..75 => -(rng.range(1, 3) as i64),
            75..90 => *rng.pick(&[
                i64::MIN,
                i64::MIN + 1,
                i64::MAX,
                i64::MAX - 1,
                255,
                256,
                -129,
                127,
                128,
                4_294_967_295,
                4_294_967_296,
                -32_768,
                32_767,
                32_768,
                -2_147_483_648,
                2_147_483_647,
            ]),
            _ => rng.u64() as i64,
        }
    }

    /// An argument of type `ty`; `keys` are subport keys spawned so far.
    fn of(&self, rng: &mut Rng, model: &Model, ty: &Type, keys: &[i64]) -> i64 {
        match ty {
            Type::Bool => {
                if rng.chance(95) {
                    rng.below(2) as i64
                } else {
                    *rng.pick(&[2, -1])
                }
            }
            Type::Enum(e) => {
                let variants = &model.enums[*e as usize].variants;
                if rng.chance(92) {
                    rng.pick(variants).1
                } else {
                    self.int(rng)
                }
            }
            Type::Opaque(_) => {
                if rng.chance(90) {
                    rng.range(1, 4) as i64
                } else {
                    rng.u64() as i64
                }
            }
            Type::Port(_) => {
                if !keys.is_empty() && rng.chance(40) {
                    *rng.pick(keys)
                } else if rng.chance(90) {
                    rng.range(1, 6) as i64
                } else {
                    rng.u64() as i64
                }
            }
            Type::Int(_) => self.int(rng),
        }
    }

    /// A variable's value: mostly valid, sometimes not.
    fn var(&self, rng: &mut Rng, ty: &Type) -> i64 {
        match ty {
            Type::Bool if rng.chance(95) => rng.below(2) as i64,
            _ => self.int(rng),
        }
    }
}

// ---- ProtocolCode against the interpreter --------------------------------------

const CODE_ROUNDS: usize = 300;

fn code_level(g: &Generated, seed: u64) -> (usize, usize, usize) {
    let model = &g.model;
    let values = Values {
        constants: constants(model),
    };
    let mut rng = Rng::new(seed);
    let (mut selects, mut guards, mut applies) = (0, 0, 0);
    for (pi, p) in model.protocols.iter().enumerate() {
        let id = ProtocolId(pi as u32);
        let interp = InterpretedBackend.code(model, id);
        let compiled = g.backend.code(model, id);
        let n = p.variables.len();
        let (mut a, mut b) = (vec![77; n], vec![-77; n]);
        interp.init(&mut a);
        compiled.init(&mut b);
        assert_eq!(a, b, "{}: init of {}", g.name, p.name);
        let timed: Vec<TransitionId> = {
            let mut t: Vec<TransitionId> = p.timed.iter().flatten().copied().collect();
            t.sort_unstable();
            t.dedup();
            t
        };
        for round in 0..CODE_ROUNDS {
            // Half the rounds from the initial values, which real runs start from.
            let vars: Vec<i64> = if round % 2 == 0 {
                p.variables
                    .iter()
                    .map(|v| {
                        if rng.chance(70) {
                            v.init
                        } else {
                            values.var(&mut rng, &v.ty)
                        }
                    })
                    .collect()
            } else {
                p.variables
                    .iter()
                    .map(|v| values.var(&mut rng, &v.ty))
                    .collect()
            };
            let nargs = rng.below(5);
            let args: Vec<i64> = (0..nargs).map(|_| values.int(&mut rng)).collect();
            let bits = rng.u64();
            let deps = |d: u32, s: StateId| (bits >> ((d * 13 + s.0) % 64)) & 1 == 1;
            let at = |what: &str| {
                format!(
                    "{}: {} {what}, round {round}, vars {vars:?}, args {args:?}, deps {bits:#x}",
                    g.name, p.name
                )
            };
            for s in 0..p.states.len() as u32 {
                for l in 0..p.labels.len() as u32 {
                    let x = interp.select(StateId(s), LabelId(l), &vars, &args, &deps);
                    let y = compiled.select(StateId(s), LabelId(l), &vars, &args, &deps);
                    assert_eq!(x, y, "{}", at(&format!("select({s}, {l})")));
                    selects += 1;
                }
            }
            for &t in &timed {
                let x = interp.timed_guard(t, &vars, &deps);
                let y = compiled.timed_guard(t, &vars, &deps);
                assert_eq!(x, y, "{}", at(&format!("timed_guard({})", t.0)));
                guards += 1;
            }
            for t in 0..p.transitions.len() as u32 {
                let (mut va, mut vb) = (vars.clone(), vars.clone());
                let x: Result<(), ActionError> =
                    interp.apply(TransitionId(t), &mut va, &args, &deps);
                let y = compiled.apply(TransitionId(t), &mut vb, &args, &deps);
                // Variables too, even after an error: the engine keeps what
                // the actions before the failing one stored (see `after`).
                assert_eq!((x, &va), (y, &vb), "{}", at(&format!("apply({t})")));
                applies += 1;
            }
        }
    }
    (selects, guards, applies)
}

#[test]
fn generated_code_matches_the_interpreter_on_random_inputs() {
    let mut total = (0, 0, 0);
    for (g, seed) in [(library(), 0x5eed_c0de), (extra(), 0xe7_7a)] {
        let (s, t, a) = code_level(&g, seed);
        total = (total.0 + s, total.1 + t, total.2 + a);
    }
    eprintln!(
        "compared {} select, {} timed_guard and {} apply calls",
        total.0, total.1, total.2
    );
    assert!(
        total.1 > 0,
        "the extra specs have guarded `after` transitions"
    );
}

// ---- observers against each other -------------------------------------------------

/// Outcomes of the steps of many streams, to show what was exercised.
#[derive(Default)]
struct Stats {
    streams: usize,
    steps: usize,
    outcomes: BTreeMap<String, usize>,
}

impl Stats {
    fn count(&mut self, v: &Verdict) {
        self.steps += 1;
        let key = match v {
            Verdict::Ok => "ok".to_string(),
            Verdict::Stopped => "stopped".to_string(),
            Verdict::Violation(v) => {
                let kind = format!("{:?}", v.kind);
                kind.split([' ', '(', '{']).next().unwrap_or("").to_string()
            }
        };
        *self.outcomes.entry(key).or_default() += 1;
    }
}

/// How far the clock moves in one step: often a little, sometimes past
/// every timeout of the library (100 ms to 5 s).
fn clock_step(rng: &mut Rng) -> u64 {
    match rng.below(100) {
        0..10 => 0,
        10..30 => rng.range(1, 999),
        30..60 => rng.range(1_000, 300_000),
        60..80 => rng.range(400_000, 1_200_000),
        80..90 => rng.range(1_500_000, 2_500_000),
        90..98 => rng.range(4_500_000, 6_000_000),
        _ => rng.range(10_000_000, 60_000_000),
    }
}

/// The messages `h` has a candidate transition for in its current state
/// (every message, for a protocol without states).
fn enabled_messages(pair: &Pair, h: Handle) -> Vec<MessageId> {
    let Some(p) = pair.interp.protocol_of(h) else {
        return Vec::new();
    };
    let all = (0..p.messages.len() as u32).map(MessageId);
    if p.states.is_empty() {
        return all.collect();
    }
    let Some(leaf) = pair.interp.leaf_of(h) else {
        return Vec::new();
    };
    all.filter(|&m| {
        p.label(Label::Own(m))
            .is_some_and(|l| !p.candidates(leaf, l).is_empty())
    })
    .collect()
}

fn flip(d: Direction) -> Direction {
    match d {
        Direction::In => Direction::Out,
        Direction::Out => Direction::In,
    }
}

/// Whether every candidate of message `m` in `h`'s state leads to a final state.
fn ends(pair: &Pair, h: Handle, m: MessageId) -> bool {
    let (Some(p), Some(leaf)) = (pair.interp.protocol_of(h), pair.interp.leaf_of(h)) else {
        return false;
    };
    let Some(l) = p.label(Label::Own(m)) else {
        return false;
    };
    let c = p.candidates(leaf, l);
    !c.is_empty()
        && c.iter().all(|t| {
            p.transitions[t.0 as usize]
                .target_leaf
                .is_some_and(|s| p.state(s).is_final)
        })
}

/// One random stream of 20 to 200 events on `component` (at least 20, fewer
/// than drawn when the observer stops or every instance has terminated).
fn stream(
    g: &Generated,
    values: &Values,
    component: &str,
    seed: u64,
    stats: &mut Stats,
) -> Result<(), String> {
    let mut rng = Rng::new(seed);
    let config = Config {
        history: *rng.pick(&[0, 4, 32]),
        policy: if rng.chance(10) {
            Policy::Stop
        } else {
            Policy::Continue
        },
    };
    let mut pair = Pair::new(&g.model, g.backend, component, config);
    let mut log: Vec<String> = vec![format!("{config:?}")];
    let fail = |log: &[String], step: usize, e: String| {
        format!(
            "{} component `{component}`, stream seed {seed:#x}, step {step}: {e}\nevents:\n  {}",
            g.name,
            log.join("\n  ")
        )
    };
    pair.compare().map_err(|e| fail(&log, 0, e))?;
    let mut keys: Vec<i64> = Vec::new();
    let mut stale: Vec<Handle> = Vec::new();
    let echo = std::env::var("TRACE_SEED").is_ok_and(|s| s == format!("{seed:#x}"));
    let len = rng.range(20, 200) as usize;
    for step in 1..=len {
        let live = pair.interp.handles();
        if echo && let Some(last) = log.last() {
            eprintln!("{last}");
        }
        let result = if rng.chance(15) {
            let us = clock_step(&mut rng);
            pair.wait(us);
            log.push(format!("at {}us: advance", pair.now()));
            pair.advance()
        } else {
            // Mostly instances that can still move: a terminated one answers
            // every message the same way.
            let active: Vec<Handle> = live
                .iter()
                .copied()
                .filter(|&h| pair.interp.leaf_of(h).is_some())
                .collect();
            let h = if !stale.is_empty() && rng.chance(3) {
                *rng.pick(&stale)
            } else if !active.is_empty() && rng.chance(90) {
                *rng.pick(&active)
            } else {
                *rng.pick(&live)
            };
            let mut enabled = enabled_messages(&pair, h);
            // Final states end the fun: take messages that lead there less often.
            if rng.chance(85) {
                let lasting: Vec<MessageId> = enabled
                    .iter()
                    .copied()
                    .filter(|&m| !ends(&pair, h, m))
                    .collect();
                if !lasting.is_empty() {
                    enabled = lasting;
                }
            }
            let proto = pair
                .interp
                .protocol_of(h)
                .and_then(|p| g.model.protocol(&p.name))
                .map(|id| g.model.proto(id));
            let count = proto.map_or(3, |p| p.messages.len().max(1));
            let (m, direction) = if !enabled.is_empty() && rng.chance(85) {
                let m = *rng.pick(&enabled);
                let declared = proto.map_or(Direction::In, |p| p.messages[m.0 as usize].direction);
                let d = if rng.chance(3) {
                    flip(declared)
                } else {
                    declared
                };
                (m, d)
            } else {
                // Anything: the wrong state, the wrong direction, now and
                // then a message the protocol does not have.
                let beyond = usize::from(rng.chance(5));
                let m = MessageId(rng.below(count + beyond) as u32);
                let d = if rng.chance(50) {
                    Direction::In
                } else {
                    Direction::Out
                };
                (m, d)
            };
            let msg = proto.and_then(|p| p.messages.get(m.0 as usize));
            let mut args: Vec<i64> = match msg {
                Some(msg) => msg
                    .params
                    .iter()
                    .map(|p| values.of(&mut rng, &g.model, &p.ty, &keys))
                    .collect(),
                None => (0..rng.below(3)).map(|_| values.int(&mut rng)).collect(),
            };
            if rng.chance(4) {
                args.truncate(rng.below(args.len() + 1));
            } else if rng.chance(3) {
                args.push(values.int(&mut rng));
            }
            log.push(format!(
                "at {}us: {h:?} {}{} {args:?}",
                pair.now(),
                if direction == Direction::In { "?" } else { "!" },
                msg.map_or(format!("#{}", m.0), |x| x.name.clone()),
            ));
            if echo && let Some(last) = log.last() {
                eprintln!("{last}");
            }
            let v = pair.message(h, direction, m, &args);
            if let (Ok(Verdict::Ok), Some(msg)) = (&v, msg)
                && let Some((param, _)) = msg.spawns
            {
                keys.push(args.get(param).copied().unwrap_or(0));
            }
            v
        };
        match result {
            Ok(v) => {
                log.push(format!("  -> {}", show(&v)));
                stats.count(&v);
            }
            Err(e) => return Err(fail(&log, step, e)),
        }
        let now_live = pair.interp.handles();
        stale.extend(live.iter().filter(|h| !now_live.contains(h)));
        // A stopped observer, or a terminated component, answers every
        // event alike: such a stream ends early, but not before 20 events.
        if step >= 20 && (pair.interp.is_stopped() || pair.interp.component_terminated()) {
            break;
        }
    }
    // Probes: a wrong-direction message on every live instance is a
    // violation whose report lists every other instance with its variables.
    for h in pair.interp.handles() {
        let Some(p) = pair.interp.protocol_of(h) else {
            continue;
        };
        let Some(msg) = p.messages.first() else {
            continue;
        };
        let d = flip(msg.direction);
        let v = pair
            .message(h, d, MessageId(0), &[])
            .map_err(|e| fail(&log, len + 1, e))?;
        stats.count(&v);
    }
    stats.streams += 1;
    Ok(())
}

/// Runs `streams` streams on `component` and prints what they exercised.
fn streams(g: &Generated, component: &str, streams: usize) {
    let values = Values {
        constants: constants(&g.model),
    };
    let mut stats = Stats::default();
    let start = std::time::Instant::now();
    let base = component.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let trace = std::env::var_os("TRACE_STREAMS").is_some();
    for n in 0..streams {
        if trace {
            eprintln!("{component}: stream {n}, seed {:#x}", base ^ n as u64);
        }
        if let Err(e) = stream(g, &values, component, base ^ n as u64, &mut stats) {
            panic!("{e}");
        }
    }
    eprintln!(
        "{component}: {} streams, {} steps in {:.1?}; outcomes {:?}",
        stats.streams,
        stats.steps,
        start.elapsed(),
        stats.outcomes
    );
    assert_eq!(stats.streams, streams);
}

#[test]
fn asix_streams_agree() {
    streams(&library(), "asix", n(2_400));
}

#[test]
fn mqnic_driver_streams_agree() {
    streams(&library(), "mqnic_driver", n(2_400));
}

#[test]
fn usb_bus_streams_agree() {
    streams(&library(), "usb_bus", n(2_400));
}

#[test]
fn calc_streams_agree() {
    streams(&extra(), "calc", n(1_500));
}

#[test]
fn gadget_streams_agree() {
    streams(&extra(), "gadget", n(1_500));
}

#[test]
fn every_library_component_is_covered() {
    let mut names: Vec<String> = library()
        .model
        .components
        .iter()
        .map(|c| c.name.clone())
        .collect();
    names.sort();
    assert_eq!(names, ["asix", "mqnic_driver", "usb_bus"]);
    let mut extra_names: Vec<String> = extra()
        .model
        .components
        .iter()
        .map(|c| c.name.clone())
        .collect();
    extra_names.sort();
    assert_eq!(extra_names, ["calc", "gadget"]);
}

/// `default` streams, or `STREAMS_PERCENT` percent of them.
fn n(default: usize) -> usize {
    std::env::var("STREAMS_PERCENT")
        .ok()
        .and_then(|p| p.parse::<usize>().ok())
        .map_or(default, |p| (default * p / 100).max(1))
}
