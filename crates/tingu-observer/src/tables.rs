//! Flat per-protocol tables for the engine's hot path.
//!
//! The intermediate form is rich (spans, texts, expression trees); the
//! observer touches only a few facts per step. Laying those out as plain
//! arrays keeps each step to a handful of cache lines.

use tingu::ir::{Protocol, StateId, TransitionId, Trigger};
use tingu::syntax::ast::Direction;

/// "None" in the tables.
pub(crate) const NONE: u32 = u32::MAX;

/// What a step needs to know about one protocol.
#[derive(Clone)]
pub(crate) struct Tables {
    /// The protocol has no states: every message is legal.
    pub stateless: bool,
    /// Per state: depth (0 at the top).
    pub depth: Vec<u16>,
    /// Per state: parent, or `NONE`.
    pub parent: Vec<u32>,
    /// Per state: final.
    pub is_final: Vec<bool>,
    /// Per state: resting there involves a timer (a timeout on it or an
    /// ancestor, or an `after` transition).
    pub timed: Vec<bool>,
    /// Per transition: the leaf it leads to, or `NONE` (internal).
    pub target: Vec<u32>,
    /// Per transition: it has actions.
    pub actions: Vec<bool>,
    /// Per transition: depth of the state that declares it.
    pub source_depth: Vec<u16>,
    /// Per message: its declared direction.
    pub direction: Vec<Direction>,
    /// Per message: the parameter that spawns a subport, or `NONE`.
    pub spawn: Vec<u32>,
    /// Per state `s`: `timeouts[timeouts_at[s]..timeouts_at[s + 1]]` are
    /// the (depth, timeout in us) of `s` and its ancestors with a timeout,
    /// innermost first.
    pub timeouts_at: Vec<u32>,
    /// See `timeouts_at`.
    pub timeouts: Vec<(u16, u64)>,
    /// Per state `s`: `afters[afters_at[s]..afters_at[s + 1]]` are the
    /// `after` transitions that apply in leaf `s`, in priority order, as
    /// (transition, depth of its source state, delay in us).
    pub afters_at: Vec<u32>,
    /// See `afters_at`.
    pub afters: Vec<(TransitionId, u16, u64)>,
    /// Number of states, the row length of `shared`.
    states: usize,
    /// Per pair of states `(a, b)` at `a * states + b`: how many levels of
    /// ancestors they share (what `shared_depth` returns).
    shared: Vec<u8>,
}

impl Tables {
    /// Builds the tables of a protocol.
    pub fn new(p: &Protocol) -> Tables {
        let states = 0..p.states.len() as u32;
        let mut t = Tables {
            stateless: p.states.is_empty(),
            depth: p.states.iter().map(|s| s.depth as u16).collect(),
            parent: p
                .states
                .iter()
                .map(|s| s.parent.map_or(NONE, |x| x.0))
                .collect(),
            is_final: p.states.iter().map(|s| s.is_final).collect(),
            timed: states
                .map(|s| {
                    let s = StateId(s);
                    let after = p
                        .state(s)
                        .leaf_index
                        .is_some_and(|l| !p.timed[l as usize].is_empty());
                    after || p.ancestors(s).any(|a| p.state(a).timeout_us.is_some())
                })
                .collect(),
            target: p
                .transitions
                .iter()
                .map(|t| t.target_leaf.map_or(NONE, |x| x.0))
                .collect(),
            actions: p
                .transitions
                .iter()
                .map(|t| !t.actions.is_empty())
                .collect(),
            source_depth: p
                .transitions
                .iter()
                .map(|t| p.state(t.source).depth as u16)
                .collect(),
            direction: p.messages.iter().map(|m| m.direction).collect(),
            spawn: p
                .messages
                .iter()
                .map(|m| m.spawns.map_or(NONE, |(i, _)| i as u32))
                .collect(),
            timeouts_at: Vec::new(),
            timeouts: Vec::new(),
            afters_at: Vec::new(),
            afters: Vec::new(),
            states: p.states.len(),
            shared: Vec::new(),
        };
        for s in 0..p.states.len() as u32 {
            let s = StateId(s);
            t.timeouts_at.push(t.timeouts.len() as u32);
            for a in p.ancestors(s) {
                if let Some(us) = p.state(a).timeout_us {
                    t.timeouts.push((p.state(a).depth as u16, us));
                }
            }
            t.afters_at.push(t.afters.len() as u32);
            if let Some(li) = p.state(s).leaf_index {
                for &tr in &p.timed[li as usize] {
                    let x = &p.transitions[tr.0 as usize];
                    if let Trigger::After(d) = x.trigger {
                        t.afters.push((tr, p.state(x.source).depth as u16, d));
                    }
                }
            }
        }
        t.timeouts_at.push(t.timeouts.len() as u32);
        t.afters_at.push(t.afters.len() as u32);
        let n = p.states.len();
        t.shared = (0..n * n)
            .map(|x| {
                let d = t.walk_shared_depth((x / n) as u32, (x % n) as u32);
                u8::try_from(d).unwrap_or(u8::MAX)
            })
            .collect();
        t
    }

    /// How many levels of ancestors `a` and `b` share (0 when none).
    #[inline]
    pub fn shared_depth(&self, a: u32, b: u32) -> usize {
        match self.shared.get(a as usize * self.states + b as usize) {
            Some(&d) if d != u8::MAX => d as usize,
            _ => self.walk_shared_depth(a, b),
        }
    }

    fn walk_shared_depth(&self, a: u32, b: u32) -> usize {
        let (mut a, mut b) = (a, b);
        while self.depth[a as usize] > self.depth[b as usize] {
            a = self.parent[a as usize];
        }
        while self.depth[b as usize] > self.depth[a as usize] {
            b = self.parent[b as usize];
        }
        while a != b {
            a = self.parent[a as usize];
            b = self.parent[b as usize];
            if a == NONE || b == NONE {
                return 0;
            }
        }
        self.depth[a as usize] as usize + 1
    }
}
