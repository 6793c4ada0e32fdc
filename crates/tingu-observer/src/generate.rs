//! Trace generation from specs: random walks that produce legal traces of a
//! component, and mutations that turn them into illegal ones. Used to test
//! the observers here, and later to drive drivers with legal and illegal
//! environments.
//!
//! A walk runs the real observer as its oracle: at each step it picks a
//! port, a message the port's current state has transitions for, and
//! argument values (biased to the constants the guards compare against, to
//! keys already spawned, and to fresh keys for spawns), and keeps the event
//! only if the observer accepts it. Time moves forward by random amounts but
//! never past a pending timeout, so the walk stays legal; `after`
//! transitions fire on their own along the way.

use crate::VirtualClock;
use crate::code::InterpretedBackend;
use crate::engine::{Config, Handle, Observer, Policy, Verdict};
use crate::replay::replay;
use crate::trace::{EventKind, MessageEvent, Sigil, Trace, TraceEvent, Value};
use std::collections::BTreeSet;
use std::sync::Arc;
use tingu::ir::{Expr, LabelId, MessageId, Model, Type};
use tingu::syntax::ast::Direction;
use tingu::synth::Rng;

/// A legal trace of `component`, of at most `steps` events, from `seed`.
pub fn random_walk(model: &Arc<Model>, component: &str, seed: u64, steps: usize) -> Option<Trace> {
    let mut rng = Rng::new(seed);
    let clock = VirtualClock::new();
    let config = Config {
        history: 0,
        policy: Policy::Continue,
    };
    let mut obs = Observer::new(
        model.clone(),
        component,
        &InterpretedBackend,
        clock.clone(),
        config,
    )
    .ok()?;
    let mut events = Vec::new();
    let mut now = 0u64;
    let mut used_keys: BTreeSet<i64> = BTreeSet::new();
    let mut seen_values: Vec<i64> = vec![1, 0x1000];
    let mut stuck = 0;
    let mut reach = Reach::default();
    while events.len() < steps && !obs.component_terminated() {
        // Advance time, staying strictly before the next timeout.
        let delta = match rng.below(10) {
            0..=3 => 0,
            4..=7 => 1 + rng.below(500) as u64,
            _ => 1 + rng.below(50_000) as u64,
        };
        let limit = obs.next_timeout().map_or(u64::MAX, |d| d.saturating_sub(1));
        let target = now.saturating_add(delta).min(limit).max(now);
        if target > now {
            now = target;
            clock.set(now);
            if rng.chance(10) {
                if !obs.advance().is_ok() {
                    return None; // cannot happen below the timeout limit
                }
                events.push(TraceEvent {
                    line: events.len() + 1,
                    time_us: now,
                    kind: EventKind::Tick,
                });
                continue;
            }
        }
        let candidates = enabled(&obs, &mut reach);
        if candidates.is_empty() {
            stuck += 1;
            if stuck > 20 {
                break;
            }
            continue;
        }
        let mut accepted = false;
        for _ in 0..8 {
            let (h, m) = candidates[rng.below(candidates.len())];
            let Some(proto) = obs.protocol_of(h) else {
                continue;
            };
            let msg = &proto.messages[m.0 as usize];
            let constants = guard_constants(&obs, h, LabelId(m.0));
            let mut args = Vec::with_capacity(msg.params.len());
            for (n, p) in msg.params.iter().enumerate() {
                let spawn = msg.spawns.is_some_and(|(i, _)| i == n);
                args.push(pick_value(
                    &mut rng,
                    model,
                    p.ty,
                    spawn,
                    &constants,
                    &used_keys,
                    &seen_values,
                ));
            }
            let direction = msg.direction;
            let name = msg.name.clone();
            let types: Vec<Type> = msg.params.iter().map(|p| p.ty).collect();
            let spawn_param = msg.spawns.map(|(i, _)| i);
            let Some(address) = obs.address_of(h) else {
                continue;
            };
            if obs.message(h, direction, m, &args) == Verdict::Ok {
                if let Some(i) = spawn_param {
                    used_keys.insert(args[i]);
                }
                for (v, ty) in args.iter().zip(&types) {
                    if matches!(ty, Type::Opaque(_) | Type::Int(_))
                        && !seen_values.contains(v)
                        && seen_values.len() < 64
                    {
                        seen_values.push(*v);
                    }
                }
                let args = args
                    .iter()
                    .zip(&types)
                    .map(|(v, ty)| to_value(model, *ty, *v))
                    .collect();
                let sigil = if direction == Direction::In {
                    Sigil::Question
                } else {
                    Sigil::Bang
                };
                events.push(TraceEvent {
                    line: events.len() + 1,
                    time_us: now,
                    kind: EventKind::Message(MessageEvent {
                        address,
                        direction: sigil,
                        message: name,
                        args,
                    }),
                });
                accepted = true;
                break;
            }
        }
        stuck = if accepted { 0 } else { stuck + 1 };
        if stuck > 20 {
            break;
        }
    }
    Some(Trace {
        component: Some(component.to_string()),
        events,
    })
}

/// `(instance, message)` pairs whose current state has transitions for the
/// message, repeated by weight: reversible steps 32; irreversible ones (the
/// state cannot be reached again: enable) 16; steps after which the
/// protocol can end at once (start, stop) 4; exceptional paths (transitions
/// inherited from a super-state, like hot unplug) and steps into a final
/// state 1. So walks live long
/// enough to be interesting and still end now and then.
fn enabled(obs: &Observer<VirtualClock>, reach: &mut Reach) -> Vec<(Handle, MessageId)> {
    let mut out = Vec::new();
    for h in obs.handles() {
        let (Some(proto), Some(leaf)) = (obs.protocol_of(h), obs.leaf_of(h)) else {
            continue;
        };
        for m in 0..proto.messages.len() {
            let weight = if proto.states.is_empty() {
                32
            } else {
                let c = proto.candidates(leaf, LabelId(m as u32));
                let Some(first) = c.first() else { continue };
                let t = &proto.transitions[first.0 as usize];
                let target = t.target_leaf.unwrap_or(leaf);
                if t.source != leaf || proto.state(target).is_final {
                    1 // an exceptional path (inherited, like hot unplug), or the end
                } else if reach.near_end(proto, target) {
                    4 // a step after which the protocol can end at once (stop)
                } else if reach.reaches(proto, target, leaf) {
                    32
                } else {
                    16
                }
            };
            for _ in 0..weight {
                out.push((h, MessageId(m as u32)));
            }
        }
    }
    out
}

/// Leaf-to-leaf reachability per protocol, computed on first use.
#[derive(Default)]
struct Reach {
    tables: std::collections::HashMap<String, Vec<Vec<bool>>>,
    next: std::collections::HashMap<String, Vec<Vec<usize>>>,
}

impl Reach {
    /// Whether `leaf` is final, or one step from a final state.
    fn near_end(&mut self, p: &tingu::ir::Protocol, leaf: tingu::ir::StateId) -> bool {
        if p.state(leaf).is_final {
            return true;
        }
        let _ = self.reaches(p, leaf, leaf);
        let Some(a) = p.state(leaf).leaf_index else {
            return false;
        };
        let next = &self.next[&p.name][a as usize];
        next.iter().any(|&n| p.state(p.leaves[n]).is_final)
    }

    /// Whether leaf `to` can be reached from leaf `from` (ignoring guards).
    fn reaches(
        &mut self,
        p: &tingu::ir::Protocol,
        from: tingu::ir::StateId,
        to: tingu::ir::StateId,
    ) -> bool {
        let next_store = &mut self.next;
        let table = self.tables.entry(p.name.clone()).or_insert_with(|| {
            let n = p.leaves.len();
            let index = |s: tingu::ir::StateId| p.state(s).leaf_index.unwrap_or(0) as usize;
            let mut next: Vec<Vec<usize>> = vec![Vec::new(); n];
            for (li, &leaf) in p.leaves.iter().enumerate() {
                for label in 0..p.labels.len() {
                    for t in p.candidates(leaf, LabelId(label as u32)) {
                        if let Some(target) = p.transitions[t.0 as usize].target_leaf {
                            next[li].push(index(target));
                        }
                    }
                }
                for t in &p.timed[li] {
                    if let Some(target) = p.transitions[t.0 as usize].target_leaf {
                        next[li].push(index(target));
                    }
                }
            }
            next_store.insert(p.name.clone(), next.clone());
            (0..n)
                .map(|start| {
                    let mut seen = vec![false; n];
                    let mut stack = vec![start];
                    seen[start] = true;
                    while let Some(x) = stack.pop() {
                        for &y in &next[x] {
                            if !seen[y] {
                                seen[y] = true;
                                stack.push(y);
                            }
                        }
                    }
                    seen
                })
                .collect()
        });
        let (Some(a), Some(b)) = (p.state(from).leaf_index, p.state(to).leaf_index) else {
            return false;
        };
        table[a as usize][b as usize]
    }
}

/// Constants that the guards of `label`'s candidate transitions mention.
fn guard_constants(obs: &Observer<VirtualClock>, h: Handle, label: LabelId) -> Vec<i64> {
    fn walk(e: &Expr, out: &mut Vec<i64>) {
        match e {
            Expr::Const(c) => out.extend([*c, c.saturating_sub(1), c.saturating_add(1)]),
            Expr::Unary(_, a) => walk(a, out),
            Expr::Binary(_, a, b) => {
                walk(a, out);
                walk(b, out);
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let (Some(p), Some(leaf)) = (obs.protocol_of(h), obs.leaf_of(h))
        && !p.states.is_empty()
    {
        for t in p.candidates(leaf, label) {
            if let Some(g) = &p.transitions[t.0 as usize].guard {
                walk(g, &mut out);
            }
        }
    }
    out
}

fn pick_value(
    rng: &mut Rng,
    model: &Model,
    ty: Type,
    spawn: bool,
    constants: &[i64],
    used_keys: &BTreeSet<i64>,
    seen: &[i64],
) -> i64 {
    if spawn {
        // A fresh key, small so traces stay readable.
        let mut k = 1 + rng.below(64) as i64;
        while used_keys.contains(&k) {
            k += 1;
        }
        return k;
    }
    match ty {
        Type::Bool => rng.below(2) as i64,
        Type::Enum(e) => {
            let vs = &model.enums[e as usize].variants;
            vs.get(rng.below(vs.len().max(1))).map_or(0, |v| v.1)
        }
        Type::Int(int) => {
            let (lo, hi) = int.range();
            let v = match rng.below(4) {
                0 if !constants.is_empty() => constants[rng.below(constants.len())],
                1 if !seen.is_empty() => seen[rng.below(seen.len())],
                2 => rng.below(4) as i64,
                _ => rng.below(1 << 12) as i64,
            };
            v.clamp(lo, hi)
        }
        Type::Opaque(_) | Type::Port(_) => {
            if !seen.is_empty() && rng.chance(50) {
                seen[rng.below(seen.len())]
            } else {
                0x1000 + 0x10 * rng.below(4096) as i64
            }
        }
    }
}

/// An argument value as a trace writes it.
pub fn to_value(model: &Model, ty: Type, v: i64) -> Value {
    match ty {
        Type::Bool => Value::Bool(v != 0),
        Type::Enum(e) => model.enums[e as usize]
            .variants
            .iter()
            .find(|(_, x)| *x == v)
            .map_or(Value::Int(v), |(n, _)| Value::Name(n.clone())),
        _ => Value::Int(v),
    }
}

/// The ways a legal trace is made illegal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutation {
    /// Two neighbouring messages swapped.
    WrongOrder,
    /// A message sent by the other side (`?` ↔ `!`).
    WrongDirection,
    /// An argument changed so that a guard no longer holds.
    GuardBroken,
    /// A message repeated after its port terminated.
    AfterFinal,
    /// Time jumps past a pending timeout.
    LateForTimeout,
    /// A subport address with a key that was never spawned.
    UnknownSubport,
}

/// Every mutation.
pub const MUTATIONS: [Mutation; 6] = [
    Mutation::WrongOrder,
    Mutation::WrongDirection,
    Mutation::GuardBroken,
    Mutation::AfterFinal,
    Mutation::LateForTimeout,
    Mutation::UnknownSubport,
];

/// Applies `mutation` to a legal trace at a random place and returns the
/// result if the observer then reports a violation (tries a few places).
pub fn mutate(
    model: &Arc<Model>,
    component: &str,
    trace: &Trace,
    mutation: Mutation,
    seed: u64,
) -> Option<Trace> {
    let mut rng = Rng::new(seed);
    let messages: Vec<usize> = trace
        .events
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e.kind, EventKind::Message(_)))
        .map(|(i, _)| i)
        .collect();
    if messages.is_empty() {
        return None;
    }
    for _ in 0..32 {
        let mut t = trace.clone();
        let i = messages[rng.below(messages.len())];
        let applied = match mutation {
            Mutation::WrongOrder => {
                let Some(&j) = messages.iter().find(|&&j| j > i) else {
                    continue;
                };
                let (a, b) = (t.events[i].kind.clone(), t.events[j].kind.clone());
                if a == b {
                    continue;
                }
                t.events[i].kind = b;
                t.events[j].kind = a;
                true
            }
            Mutation::WrongDirection => match &mut t.events[i].kind {
                EventKind::Message(m) => {
                    m.direction = if m.direction == Sigil::Question {
                        Sigil::Bang
                    } else {
                        Sigil::Question
                    };
                    true
                }
                EventKind::Tick => false,
            },
            Mutation::GuardBroken => match &mut t.events[i].kind {
                EventKind::Message(m) => {
                    let ints: Vec<usize> = (0..m.args.len())
                        .filter(|&n| matches!(m.args[n], Value::Int(_)))
                        .collect();
                    let pick = if ints.is_empty() {
                        None
                    } else {
                        Some(ints[rng.below(ints.len())])
                    };
                    match pick.and_then(|n| m.args.get_mut(n)) {
                        Some(Value::Int(v)) => {
                            *v = match rng.below(3) {
                                0 => 0,
                                1 => v.saturating_add(1 + rng.below(1000) as i64),
                                _ => 255,
                            };
                            true
                        }
                        _ => false,
                    }
                }
                EventKind::Tick => false,
            },
            Mutation::AfterFinal => {
                // Repeat, at the end, the last message of some port.
                let last = t.events.last().map_or(0, |e| e.time_us);
                let mut e = t.events[i].clone();
                e.time_us = last;
                e.line = t.events.len() + 1;
                t.events.push(e);
                true
            }
            Mutation::LateForTimeout => {
                let jump = 10_000_000 + rng.below(10_000_000) as u64;
                for e in &mut t.events[i..] {
                    e.time_us = e.time_us.saturating_add(jump);
                }
                true
            }
            Mutation::UnknownSubport => match &mut t.events[i].kind {
                EventKind::Message(m) if !m.address.path.is_empty() => {
                    if let Some(seg) = m.address.path.last_mut() {
                        seg.1 = 1_000_000 + rng.below(1000) as i64;
                    }
                    true
                }
                _ => false,
            },
        };
        if !applied {
            continue;
        }
        for (n, e) in t.events.iter_mut().enumerate() {
            e.line = n + 1;
        }
        if let Ok(r) = replay(
            model.clone(),
            component,
            &t,
            &InterpretedBackend,
            Config {
                history: 0,
                policy: Policy::Continue,
            },
        ) && !r.violations.is_empty()
        {
            // AfterFinal must really be after termination; others any violation.
            if mutation == Mutation::AfterFinal
                && !r.violations.iter().any(|(_, v)| {
                    v.kind == crate::ViolationKind::AfterTermination
                        || matches!(v.kind, crate::ViolationKind::UnknownSubport { .. })
                })
            {
                continue;
            }
            return Some(t);
        }
    }
    None
}
