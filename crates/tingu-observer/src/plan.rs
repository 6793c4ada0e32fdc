//! Step plans: what the engine's fast path needs to know, per (state,
//! message) of one kind of port, to check a legal message without the
//! general path's bookkeeping.
//!
//! ```text
//!   message m arrives in leaf s
//!          │
//!          ▼
//!   plans[s * messages + m] ──General──▶ general path (listeners, spawns,
//!          │                             violations: everything)
//!          ├──Select──▶ code.select() ──▶ move_to (generic state change)
//!          │
//!          └──Static──▶ transition, target leaf, levels to re-enter and
//!                       the new deadline are all known: a few stores
//! ```
//!
//! A step is planned only if it involves one instance: no other port or
//! subport synchronises on the message, and it spawns nothing. The plans
//! are derived from the intermediate form, so interpreted and compiled
//! observers share them; `tests/fast_path.rs` checks that the fast path
//! and the general path agree.

use crate::tables::{NONE, Tables};
use tingu::ir::{LabelId, Protocol, StateId};
use tingu::syntax::ast::Direction;

/// How a message arriving in a state is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum How {
    /// The general path.
    General,
    /// The fast path; the transition is found by `select` (the first
    /// candidate has a guard).
    Select,
    /// The fast path; the transition is `Plan::transition`.
    Static,
}

/// The plan of one (state, message) pair.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plan {
    pub how: How,
    /// The message's declared direction (every plan, `General` included:
    /// a message in the other direction takes the general path).
    pub direction: Direction,
    /// `Static`: the transition has actions.
    pub actions: bool,
    /// `Static`: the transition taken.
    pub transition: u32,
    /// `Static`: the new leaf, or `NONE` when the leaf stays (internal
    /// transition or self-transition: nothing is re-entered).
    pub target: u32,
    /// `Static` with a target: the levels `keep..=last` are entered anew.
    pub keep: u8,
    /// See `keep`.
    pub last: u8,
    /// `Static` with a target: the bits of `Instance::reported` that stay
    /// (all but the levels entered anew).
    pub keep_reported: u128,
    /// `Static` with a target: the target is final (the generic state
    /// change handles termination).
    pub is_final: bool,
    /// `Static` with a target: the target is timed (see `Tables::timed`).
    pub timed: bool,
    /// `Static` with a timed target whose only timer is one timeout on a
    /// level entered anew: that timeout, so the deadline is `now` plus it.
    /// 0 when the deadline must be computed.
    pub fresh_timeout: u64,
    /// `Static` with a target: the source and the target leaf have the
    /// same timers, all on levels that are kept (no `after`), so the
    /// instance's next deadline does not change.
    pub keeps_deadline: bool,
}

impl Plan {
    const GENERAL: Plan = Plan {
        how: How::General,
        direction: Direction::In,
        actions: false,
        transition: NONE,
        target: NONE,
        keep: 0,
        last: 0,
        keep_reported: u128::MAX,
        is_final: false,
        timed: false,
        fresh_timeout: 0,
        keeps_deadline: false,
    };
}

/// The plans of a kind whose protocol is `proto`: `spawn` and `listeners`
/// are per message (the parameter that spawns a subport or `NONE`; the
/// kinds that synchronise on it).
pub(crate) fn plans(
    proto: &Protocol,
    tables: &Tables,
    listeners: &[Vec<(u32, LabelId, bool)>],
) -> Vec<Plan> {
    let n = proto.messages.len();
    let mut plans = vec![Plan::GENERAL; proto.states.len() * n];
    let depth_levels = tables
        .depth
        .iter()
        .map(|&d| d as usize + 1)
        .max()
        .unwrap_or(1);
    for s in 0..proto.states.len() {
        for m in 0..n {
            plans[s * n + m].direction = tables.direction[m];
            let solo = listeners.get(m).is_none_or(Vec::is_empty) && tables.spawn[m] == NONE;
            let candidates = proto.candidates(StateId(s as u32), LabelId(m as u32));
            let Some(&first) = candidates.first() else {
                continue; // illegal here: the general path reports it
            };
            if !solo {
                continue;
            }
            let plan = &mut plans[s * n + m];
            if proto.transitions[first.0 as usize].guard.is_some() {
                plan.how = How::Select;
                continue;
            }
            plan.how = How::Static;
            plan.transition = first.0;
            plan.actions = tables.actions[first.0 as usize];
            let new = tables.target[first.0 as usize];
            if new == NONE || new == s as u32 {
                continue;
            }
            let keep = tables.shared_depth(s as u32, new);
            let last = (tables.depth[new as usize] as usize).min(depth_levels - 1);
            let (Ok(keep), Ok(last)) = (u8::try_from(keep), u8::try_from(last)) else {
                plan.how = How::Select; // deeper than a plan records
                continue;
            };
            plan.target = new;
            plan.keep = keep;
            plan.last = last;
            plan.keep_reported = !crate::engine::levels_mask(keep.into(), last.into());
            plan.is_final = tables.is_final[new as usize];
            plan.timed = tables.timed[new as usize];
            let timeouts = |x: usize| {
                &tables.timeouts[tables.timeouts_at[x] as usize..tables.timeouts_at[x + 1] as usize]
            };
            let afters = |x: usize| tables.afters_at[x + 1] - tables.afters_at[x];
            let t = new as usize;
            if let [(d, us)] = timeouts(t)
                && afters(t) == 0
                && *d >= u16::from(keep)
            {
                plan.fresh_timeout = *us;
            }
            plan.keeps_deadline = afters(t) == 0
                && afters(s) == 0
                && timeouts(t) == timeouts(s)
                && timeouts(t).iter().all(|&(d, _)| d < u16::from(keep));
        }
    }
    plans
}
