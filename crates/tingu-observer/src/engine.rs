//! The observer engine: one per component instance. It tracks every port
//! and subport instance, checks each message against the protocols
//! (section 3 of docs/tingu.md), runs timers, and reports violations.
//!
//! One step, for a message `m` on instance `p`:
//!
//! ```text
//!   run timers due by now ──▶ direction / liveness / subport checks
//!        │                         │ fail ─▶ violation (blame the sender)
//!        ▼                         ▼
//!   p selects a transition for m ──▶ every listener (an instance whose
//!   (innermost first, guards on       protocol names p.m and is bound to p)
//!    pre-step values)                 selects one too
//!        │ none                            │ none ─▶ violation: blocked by it
//!        ▼                                 ▼
//!   violation                  all actions run on copies, then commit
//!                              (all or nothing) ─▶ leaves move, timers
//!                              re-arm for entered states, spawn, terminate
//! ```
//!
//! Architecture invariant: after construction, a legal message allocates
//! nothing (scratch buffers and the history ring are preallocated; freed
//! subport slots are reused). Violations allocate their report.

use crate::clock::Clock;
use crate::code::{ActionError, Backend, ProtocolCode};
use crate::plan::{self, How, Plan};
use crate::report::{Blame, InstanceSnapshot, Side, Violation, ViolationKind};
use crate::tables::{NONE, Tables};
use std::sync::Arc;
use tingu::ir::{self, Binding, KindId, LabelId, MessageId, Model, StateId, TransitionId, Trigger};
use tingu::syntax::ast::Direction;

/// What the observer does after a violation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Policy {
    /// Record it and go on; the offending message does not change any state.
    #[default]
    Continue,
    /// Record it and stop: every later call reports [`Verdict::Stopped`].
    Stop,
}

/// Observer settings.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// How many recent events reports show (and traces can replay).
    pub history: usize,
    /// What to do after a violation.
    pub policy: Policy,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            history: 32,
            policy: Policy::Continue,
        }
    }
}

/// A port or subport instance, as the host refers to it. Declared ports
/// have fixed handles ([`Observer::port`]); a subport's handle comes from
/// [`Observer::subport`] and goes stale when the subport is freed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Handle {
    index: u32,
    generation: u32,
}

/// The outcome of one call.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// Legal, and no timer expired on the way.
    Ok,
    /// A violation: the message's own, or else a timeout that expired before
    /// it (every violation, several per call included, is in
    /// [`Observer::violations`] and was passed to the hook).
    Violation(Box<Violation>),
    /// The observer stopped after an earlier violation ([`Policy::Stop`]).
    Stopped,
}

impl Verdict {
    /// Whether the step was legal.
    pub fn is_ok(&self) -> bool {
        matches!(self, Verdict::Ok)
    }
}

/// The host's callback for violations.
pub type ViolationHook = Box<dyn FnMut(&Violation) + Send>;

/// Argument slots kept per history record; more are shown as `..`.
pub(crate) const HISTORY_ARGS: usize = 6;
/// Subport nesting kept in addresses of history records.
pub(crate) const ADDRESS_DEPTH: usize = 4;

struct KindInfo {
    protocol: ir::ProtocolId,
    mirror: bool,
    code: Arc<dyn ProtocolCode>,
    /// Top-level port this kind descends from, and the kinds from it down to this one.
    chain: Vec<KindId>,
    /// The protocol's hot-path tables (shared by kinds of one protocol).
    tables: Tables,
    /// Per message: the subport kind it spawns, or `NONE`.
    spawn_child: Vec<u32>,
    /// Per message: the kinds that synchronise on it, the label they name
    /// it by, and whether they are bound to their parent (else to this port).
    listeners: Vec<Vec<(u32, LabelId, bool)>>,
    /// Messages per state row of this kind's plans.
    messages: u32,
    /// Where this kind's plans start in `Observer::plans`.
    plan_base: u32,
}

/// The bit of nesting level `d` in `Instance::reported`. The parser
/// limits nesting to 128 levels, so `d < 128`; deeper levels (which cannot
/// occur) would share the last bit rather than overflow.
#[inline]
fn level_bit(d: usize) -> u128 {
    1u128 << d.min(127)
}

/// The bits of levels `keep..=last` (none when `keep > last`).
#[inline]
pub(crate) fn levels_mask(keep: usize, last: usize) -> u128 {
    if keep > last {
        return 0;
    }
    let upto = if last >= 127 {
        u128::MAX
    } else {
        (1u128 << (last + 1)) - 1
    };
    upto & !(level_bit(keep) - 1)
}

pub(crate) struct Instance {
    pub kind: u32,
    pub generation: u32,
    pub live: bool,
    pub terminated: bool,
    pub parent: u32,
    /// Keys from the top-level port down to this instance.
    pub keys: [i64; ADDRESS_DEPTH],
    pub depth: u8,
    pub leaf: StateId,
    /// The kind's `plan_base` and `messages`, kept here so the fast path
    /// finds its plan without visiting the kind.
    plan_base: u32,
    plan_stride: u32,
    pub vars: Vec<i64>,
    /// Entry time of the active state at each depth.
    entered: Vec<u64>,
    /// Bit `d`: the timeout of the active state at depth `d` was reported
    /// (states nest at most 128 levels, see [`level_bit`]).
    reported: u128,
    /// `after` transitions already handled since their state was entered.
    timed_done: Vec<TransitionId>,
    next_time: u64,
    children: Vec<u32>,
}

impl Record {
    /// A slot of the ring not yet written.
    const UNUSED: Record = Record {
        time: 0,
        kind: 0,
        keys: [0; ADDRESS_DEPTH],
        depth: 0,
        what: What::Message(MessageId(0)),
        args: [0; HISTORY_ARGS],
        nargs: 0,
    };
}

/// A record of the history ring.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Record {
    pub time: u64,
    pub kind: u32,
    pub keys: [i64; ADDRESS_DEPTH],
    pub depth: u8,
    pub what: What,
    pub args: [i64; HISTORY_ARGS],
    pub nargs: u8,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum What {
    Message(MessageId),
    After(TransitionId),
    Timeout(StateId),
}

/// What is due next for an instance.
enum Due {
    After(TransitionId),
    Timeout(u32),
}

/// A protocol observer for one component instance.
pub struct Observer<C: Clock> {
    pub(crate) model: Arc<Model>,
    pub(crate) component: usize,
    kinds: Vec<KindInfo>,
    pub(crate) instances: Vec<Instance>,
    free: Vec<u32>,
    /// Live instances per kind (for listeners bound to a declared port).
    by_kind: Vec<Vec<u32>>,
    clock: C,
    config: Config,
    /// No timer is due before this time. A lower bound: it may be stale
    /// (too early) after a timer was disarmed, which costs one scan in
    /// `run_timers`, never a missed timer.
    earliest: u64,
    /// Every kind's step plans (see `plan.rs`), at each kind's `plan_base`.
    plans: Vec<Plan>,
    /// Whether legal single-instance steps take the fast path (tests turn
    /// it off to compare the two paths).
    fast_path: bool,
    stopped: bool,
    /// A timer violation found before the current step.
    pending: Verdict,
    /// This step's participants: instance, transition, whether it has actions.
    participants: Vec<(u32, TransitionId, bool)>,
    scratch: Vec<i64>,
    /// The history ring: `config.history` records, preallocated, of
    /// which the first `history_len` (in ring order) are in use.
    pub(crate) history: Vec<Record>,
    history_len: usize,
    history_next: usize,
    violations: Vec<Violation>,
    hook: Option<ViolationHook>,
    checked: u64,
}

/// Why an observer could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoSuchComponent(pub String);

impl std::fmt::Display for NoSuchComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no component named `{}`", self.0)
    }
}

impl std::error::Error for NoSuchComponent {}

impl<C: Clock> Observer<C> {
    /// An observer for component `name` of `model`, every port in its
    /// initial state at the clock's current time.
    pub fn new(
        model: Arc<Model>,
        name: &str,
        backend: &dyn Backend,
        clock: C,
        config: Config,
    ) -> Result<Observer<C>, NoSuchComponent> {
        let component = model
            .components
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| NoSuchComponent(name.to_string()))?;
        let comp = &model.components[component];
        let mut codes: Vec<Option<Arc<dyn ProtocolCode>>> = vec![None; model.protocols.len()];
        let mut tables_of: Vec<Option<Tables>> = vec![None; model.protocols.len()];
        let mut all_plans = Vec::new();
        let kinds = comp
            .kinds
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let code = codes[k.protocol.0 as usize]
                    .get_or_insert_with(|| backend.code(&model, k.protocol))
                    .clone();
                let mut chain = vec![KindId(i as u32)];
                while let Some((parent, _)) =
                    comp.kind(*chain.last().unwrap_or(&KindId(0))).spawned_by
                {
                    chain.push(parent);
                }
                chain.reverse();
                let tables = tables_of[k.protocol.0 as usize]
                    .get_or_insert_with(|| Tables::new(model.proto(k.protocol)))
                    .clone();
                let proto = model.proto(k.protocol);
                let spawn_child = (0..proto.messages.len())
                    .map(|m| {
                        comp.kinds
                            .iter()
                            .position(|c| {
                                c.spawned_by == Some((KindId(i as u32), MessageId(m as u32)))
                            })
                            .map_or(NONE, |c| c as u32)
                    })
                    .collect();
                let listeners: Vec<Vec<(u32, LabelId, bool)>> = k
                    .listeners
                    .iter()
                    .map(|list| {
                        list.iter()
                            .map(|&(lk, label)| {
                                let lkind = comp.kind(lk);
                                let parent_bound =
                                    match model.proto(lkind.protocol).labels[label.0 as usize] {
                                        ir::Label::Dep(d, _) => matches!(
                                            lkind.bindings.get(d as usize),
                                            Some(Binding::Parent)
                                        ),
                                        ir::Label::Own(_) => false,
                                    };
                                (lk.0, label, parent_bound)
                            })
                            .collect()
                    })
                    .collect();
                let base = all_plans.len() as u32;
                all_plans.extend(plan::plans(proto, &tables, &listeners));
                KindInfo {
                    protocol: k.protocol,
                    mirror: k.mirror,
                    code,
                    chain,
                    tables,
                    spawn_child,
                    listeners,
                    messages: proto.messages.len() as u32,
                    plan_base: base,
                }
            })
            .collect::<Vec<_>>();
        let mut max_vars = 0;
        for k in &kinds {
            max_vars = max_vars.max(model.proto(k.protocol).variables.len());
        }
        let mut obs = Observer {
            component,
            kinds,
            instances: Vec::new(),
            free: Vec::new(),
            by_kind: vec![Vec::new(); comp.kinds.len()],
            clock,
            config,
            earliest: u64::MAX,
            plans: all_plans,
            fast_path: true,
            stopped: false,
            pending: Verdict::Ok,
            participants: Vec::with_capacity(16),
            scratch: Vec::with_capacity(16 * max_vars.max(1)),
            history: vec![Record::UNUSED; config.history],
            history_len: 0,
            history_next: 0,
            violations: Vec::new(),
            hook: None,
            checked: 0,
            model,
        };
        let now = obs.clock.now_us();
        for k in 0..obs.model.components[component].port_count {
            obs.create(k as u32, NONE, 0, now);
        }
        obs.recompute_earliest();
        Ok(obs)
    }

    /// Calls `hook` on every violation, as it happens.
    pub fn on_violation(&mut self, hook: impl FnMut(&Violation) + Send + 'static) {
        self.hook = Some(Box::new(hook));
    }

    /// The model the observer checks against.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The component.
    pub fn component(&self) -> &ir::Component {
        &self.model.components[self.component]
    }

    /// The clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// The handle of a declared port, by name.
    pub fn port(&self, name: &str) -> Option<Handle> {
        let k = self.component().port(name)?;
        Some(Handle {
            index: k.0,
            generation: self.instances[k.0 as usize].generation,
        })
    }

    /// The live subport spawned from `parent` by message `spawner` with `key`.
    pub fn subport(&self, parent: Handle, spawner: MessageId, key: i64) -> Option<Handle> {
        let p = self.instance(parent)?;
        let comp = self.component();
        p.children.iter().copied().find_map(|c| {
            let child = &self.instances[c as usize];
            let by = comp.kind(KindId(child.kind)).spawned_by.map(|(_, m)| m);
            (child.live && by == Some(spawner) && child.keys[child.depth as usize] == key)
                .then_some(Handle {
                    index: c,
                    generation: child.generation,
                })
        })
    }

    pub(crate) fn instance(&self, h: Handle) -> Option<&Instance> {
        self.instances
            .get(h.index as usize)
            .filter(|i| i.generation == h.generation && i.live)
    }

    /// The protocol a handle's instance speaks.
    pub fn protocol_of(&self, h: Handle) -> Option<&ir::Protocol> {
        self.instance(h)
            .map(|i| self.model.proto(self.kinds[i.kind as usize].protocol))
    }

    /// The active state path of an instance (`Lifecycle.attached.running`).
    pub fn state_of(&self, h: Handle) -> Option<String> {
        let i = self.instance(h)?;
        let p = self.model.proto(self.kinds[i.kind as usize].protocol);
        Some(if p.states.is_empty() {
            p.name.clone()
        } else {
            format!("{}.{}", p.name, p.path(i.leaf))
        })
    }

    /// Whether the declared port or subport has terminated.
    pub fn is_terminated(&self, h: Handle) -> bool {
        self.instances
            .get(h.index as usize)
            .is_none_or(|i| i.generation != h.generation || !i.live || i.terminated)
    }

    /// Whether every port and subport has terminated (the component may be destroyed).
    pub fn component_terminated(&self) -> bool {
        self.instances.iter().all(|i| !i.live || i.terminated)
    }

    /// Every violation so far.
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// How many steps (messages and timer events) were checked.
    pub fn checked(&self) -> u64 {
        self.checked
    }

    /// Turns the fast path for legal single-instance steps on (the
    /// default) or off. Verdicts, reports and states are the same either
    /// way; the tests compare the two.
    #[doc(hidden)]
    pub fn set_fast_path(&mut self, on: bool) {
        self.fast_path = on;
    }

    /// Whether the observer stopped ([`Policy::Stop`]).
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Every live port and subport (terminated declared ports included).
    pub fn handles(&self) -> Vec<Handle> {
        self.instances
            .iter()
            .enumerate()
            .filter(|(_, i)| i.live)
            .map(|(n, i)| Handle {
                index: n as u32,
                generation: i.generation,
            })
            .collect()
    }

    /// The trace address of a live port or subport.
    pub fn address_of(&self, h: Handle) -> Option<crate::trace::Address> {
        let inst = self.instance(h)?;
        let comp = self.component();
        let chain = &self.kinds[inst.kind as usize].chain;
        let mut path = Vec::new();
        for (level, k) in chain.iter().enumerate().skip(1) {
            let (parent, m) = comp.kind(*k).spawned_by?;
            let msg = self.model.proto(comp.kind(parent).protocol).messages[m.0 as usize]
                .name
                .clone();
            path.push((msg, inst.keys[level.min(ADDRESS_DEPTH - 1)]));
        }
        Some(crate::trace::Address {
            port: comp.kind(chain[0]).name.clone(),
            path,
        })
    }

    /// The active leaf state of a live port or subport.
    pub fn leaf_of(&self, h: Handle) -> Option<StateId> {
        self.instance(h).filter(|i| !i.terminated).map(|i| i.leaf)
    }

    /// The variables of a live port or subport.
    pub fn variables_of(&self, h: Handle) -> Option<&[i64]> {
        self.instance(h).map(|i| i.vars.as_slice())
    }

    /// The earliest pending timeout deadline (not `after` transitions), if any.
    pub fn next_timeout(&self) -> Option<u64> {
        let mut best: Option<u64> = None;
        for inst in self.instances.iter().filter(|i| i.live && !i.terminated) {
            let p = self.model.proto(self.kinds[inst.kind as usize].protocol);
            if p.states.is_empty() {
                continue;
            }
            for s in p.ancestors(inst.leaf) {
                let st = p.state(s);
                if let Some(t) = st.timeout_us
                    && inst.reported & level_bit(st.depth as usize) == 0
                {
                    let at = inst.entered[st.depth as usize].saturating_add(t);
                    best = Some(best.map_or(at, |b| b.min(at)));
                }
            }
        }
        best
    }

    /// Puts every port back in its initial state at the clock's current
    /// time, as if the component were made again (a driver restart), and
    /// forgets violations and history. Subports are freed (their handles go
    /// stale); declared ports keep their handles. Nothing is allocated.
    pub fn reset(&mut self) {
        let now = self.clock.now_us();
        let ports = self.model.components[self.component].port_count;
        for list in &mut self.by_kind {
            list.clear();
        }
        self.free.clear();
        for (n, inst) in self.instances.iter_mut().enumerate().rev() {
            inst.children.clear();
            if n >= ports {
                if inst.live {
                    inst.generation = inst.generation.wrapping_add(1);
                }
                inst.live = false;
                self.free.push(n as u32);
            }
        }
        for k in 0..ports as u32 {
            self.create_in(Some(k), k, NONE, 0, now);
        }
        self.violations.clear();
        self.history_len = 0;
        self.history_next = 0;
        self.stopped = false;
        self.pending = Verdict::Ok;
        self.recompute_earliest();
    }

    // ---- instances ----------------------------------------------------------------

    fn create(&mut self, kind: u32, parent: u32, key: i64, now: u64) -> u32 {
        let slot = self.free.pop();
        self.create_in(slot, kind, parent, key, now)
    }

    /// Makes an instance in `slot` (a free or reset slot), or in a new one.
    fn create_in(&mut self, slot: Option<u32>, kind: u32, parent: u32, key: i64, now: u64) -> u32 {
        let proto = self.model.proto(self.kinds[kind as usize].protocol);
        let nvars = proto.variables.len();
        let depth_levels = proto
            .states
            .iter()
            .map(|s| s.depth as usize + 1)
            .max()
            .unwrap_or(1);
        let leaf = proto.initial_leaf.unwrap_or(StateId(0));
        let (keys, depth) = if parent == NONE {
            ([0; ADDRESS_DEPTH], 0u8)
        } else {
            let p = &self.instances[parent as usize];
            let mut keys = p.keys;
            let d = (p.depth as usize + 1).min(ADDRESS_DEPTH - 1);
            keys[d] = key;
            (keys, d as u8)
        };
        let index = match slot {
            Some(i) => i,
            None => {
                self.instances.push(Instance {
                    kind,
                    generation: 0,
                    live: false,
                    terminated: false,
                    parent: NONE,
                    keys: [0; ADDRESS_DEPTH],
                    depth: 0,
                    leaf,
                    plan_base: 0,
                    plan_stride: 0,
                    vars: Vec::new(),
                    entered: Vec::new(),
                    reported: 0,
                    timed_done: Vec::new(),
                    next_time: u64::MAX,
                    children: Vec::new(),
                });
                self.instances.len() as u32 - 1
            }
        };
        let code = self.kinds[kind as usize].code.clone();
        let inst = &mut self.instances[index as usize];
        inst.kind = kind;
        inst.live = true;
        inst.terminated = false;
        inst.parent = parent;
        inst.keys = keys;
        inst.depth = depth;
        inst.leaf = leaf;
        inst.plan_base = self.kinds[kind as usize].plan_base;
        inst.plan_stride = self.kinds[kind as usize].messages;
        inst.vars.clear();
        inst.vars.resize(nvars, 0);
        code.init(&mut inst.vars);
        inst.entered.clear();
        inst.entered.resize(depth_levels, now);
        inst.reported = 0;
        inst.timed_done.clear();
        inst.children.clear();
        if parent != NONE {
            self.instances[parent as usize].children.push(index);
        }
        self.by_kind[kind as usize].push(index);
        self.recompute_next(index);
        index
    }

    /// Ends instance `i` (it reached a final state). A declared port stays
    /// addressable (its handle is fixed); so does a subport whose own
    /// subports live on, until the last of them is freed (their addresses
    /// go through it). Any other subport is freed.
    fn terminate(&mut self, i: u32) {
        let is_port = self.instances[i as usize].parent == NONE
            && (i as usize) < self.model.components[self.component].port_count;
        let inst = &mut self.instances[i as usize];
        inst.next_time = u64::MAX;
        if is_port || !inst.children.is_empty() {
            inst.terminated = true;
            let kind = inst.kind as usize;
            self.by_kind[kind].retain(|&x| x != i);
            return;
        }
        self.free_instance(i);
    }

    /// Frees subport `i`, then its parent if that is a terminated subport
    /// kept only for its children and `i` was the last of them.
    fn free_instance(&mut self, mut i: u32) {
        let ports = self.model.components[self.component].port_count;
        loop {
            let inst = &mut self.instances[i as usize];
            inst.live = false;
            inst.generation = inst.generation.wrapping_add(1);
            inst.children.clear();
            let parent = inst.parent;
            let kind = inst.kind as usize;
            self.by_kind[kind].retain(|&x| x != i);
            self.free.push(i);
            if parent == NONE {
                return;
            }
            let p = &mut self.instances[parent as usize];
            p.children.retain(|&x| x != i);
            let p_is_port = p.parent == NONE && (parent as usize) < ports;
            if p.live && p.terminated && !p_is_port && p.children.is_empty() {
                i = parent;
                continue;
            }
            return;
        }
    }

    // ---- timers -----------------------------------------------------------------

    fn due(&self, i: u32) -> Option<(u64, Due)> {
        let inst = &self.instances[i as usize];
        if !inst.live || inst.terminated {
            return None;
        }
        let tables = &self.kinds[inst.kind as usize].tables;
        if tables.stateless {
            return None;
        }
        let leaf = inst.leaf.0 as usize;
        let mut best: Option<(u64, Due)> = None;
        // Deadlines first: at equal times the timeout is checked before an
        // `after` timer (docs/tingu.md, rule 7), matching the checker's
        // warning that an `after` not shorter than its state's timeout
        // never fires in time.
        let (from, to) = (tables.timeouts_at[leaf], tables.timeouts_at[leaf + 1]);
        for &(d, timeout) in &tables.timeouts[from as usize..to as usize] {
            let d = d as usize;
            if inst.reported & level_bit(d) == 0 {
                let at = inst.entered[d].saturating_add(timeout);
                if best.as_ref().is_none_or(|(b, _)| at < *b) {
                    best = Some((at, Due::Timeout(d as u32)));
                }
            }
        }
        let (from, to) = (tables.afters_at[leaf], tables.afters_at[leaf + 1]);
        for &(t, d, delay) in &tables.afters[from as usize..to as usize] {
            if inst.timed_done.contains(&t) {
                continue;
            }
            let at = inst.entered[d as usize].saturating_add(delay);
            if best.as_ref().is_none_or(|(b, _)| at < *b) {
                best = Some((at, Due::After(t)));
            }
        }
        best
    }

    fn recompute_next(&mut self, i: u32) {
        let next = self.due(i).map_or(u64::MAX, |(t, _)| t);
        self.instances[i as usize].next_time = next;
    }

    fn recompute_earliest(&mut self) {
        self.earliest = self
            .instances
            .iter()
            .filter(|i| i.live && !i.terminated)
            .map(|i| i.next_time)
            .min()
            .unwrap_or(u64::MAX);
    }

    /// Runs every timer due by the clock's current time: `after`
    /// transitions fire, expired timeouts are violations. Returns the first
    /// violation, if any.
    pub fn advance(&mut self) -> Verdict {
        let now = self.clock.now_us();
        self.run_timers(now)
    }

    fn run_timers(&mut self, now: u64) -> Verdict {
        if self.stopped {
            return Verdict::Stopped;
        }
        let mut first = Verdict::Ok;
        self.recompute_earliest();
        while self.earliest <= now {
            let Some(i) = (0..self.instances.len() as u32)
                .filter(|&i| {
                    self.instances[i as usize].live && !self.instances[i as usize].terminated
                })
                .min_by_key(|&i| self.instances[i as usize].next_time)
            else {
                break;
            };
            let Some((at, due)) = self.due(i) else {
                self.instances[i as usize].next_time = u64::MAX;
                self.recompute_earliest();
                continue;
            };
            self.checked += 1;
            match due {
                Due::After(t) => {
                    let verdict = self.fire_after(i, t, at);
                    if matches!(first, Verdict::Ok) {
                        first = verdict;
                    }
                    if self.stopped {
                        return first;
                    }
                }
                Due::Timeout(depth) => {
                    self.instances[i as usize].reported |= level_bit(depth as usize);
                    let inst = &self.instances[i as usize];
                    let proto = self.model.proto(self.kinds[inst.kind as usize].protocol);
                    let state = proto
                        .ancestors(inst.leaf)
                        .find(|s| proto.state(*s).depth == depth)
                        .unwrap_or(inst.leaf);
                    self.record(i, What::Timeout(state), &[], at);
                    let v = self.timeout_violation(i, depth, at, now);
                    let verdict = self.violation(v);
                    if matches!(first, Verdict::Ok) {
                        first = verdict;
                    }
                    if self.stopped {
                        return first;
                    }
                }
            }
            self.recompute_next(i);
            self.recompute_earliest();
        }
        first
    }

    /// Fires `after` transition `t` of instance `i` at time `at`. The step
    /// is all or nothing (rule 9): the actions run on a copy of the
    /// variables, kept only if every action succeeds. An `after` that does
    /// not change the leaf (internal or self-transition) fires once per
    /// visit. Returns the spec-error violation, if any.
    fn fire_after(&mut self, i: u32, t: TransitionId, at: u64) -> Verdict {
        let kind = self.instances[i as usize].kind as usize;
        let code = self.kinds[kind].code.clone();
        let ok = {
            let deps = |d: u32, s: StateId| self.dep_in_state(i, d, s);
            code.timed_guard(t, &self.instances[i as usize].vars, &deps)
        };
        match ok {
            Ok(true) => {
                let mut vars = std::mem::take(&mut self.scratch);
                vars.clear();
                vars.extend_from_slice(&self.instances[i as usize].vars);
                let result = {
                    let deps = |d: u32, s: StateId| self.dep_in_state(i, d, s);
                    code.apply(t, &mut vars, &[], &deps)
                };
                if result.is_ok() {
                    self.instances[i as usize].vars.copy_from_slice(&vars);
                }
                self.scratch = vars;
                self.record(i, What::After(t), &[], at);
                match result {
                    Ok(()) => {
                        let before = self.instances[i as usize].leaf;
                        self.move_to(i, t, at);
                        let inst = &mut self.instances[i as usize];
                        if inst.live && !inst.terminated && inst.leaf == before {
                            inst.timed_done.push(t);
                        }
                        Verdict::Ok
                    }
                    Err(e) => {
                        self.instances[i as usize].timed_done.push(t);
                        let v = self.spec_error(i, Some(t), e, at);
                        self.violation(v)
                    }
                }
            }
            Ok(false) => {
                self.instances[i as usize].timed_done.push(t);
                Verdict::Ok
            }
            Err(e) => {
                self.instances[i as usize].timed_done.push(t);
                let v = self.spec_error(i, Some(t), ActionError::Eval(e), at);
                self.violation(v)
            }
        }
    }

    // ---- messages ---------------------------------------------------------------

    /// Checks message `message` of `port`'s protocol, travelling in
    /// `direction` (as the spec's trigger would write it: `In` for `?`),
    /// with argument values `args`, at the clock's current time.
    pub fn message(
        &mut self,
        port: Handle,
        direction: Direction,
        message: MessageId,
        args: &[i64],
    ) -> Verdict {
        if self.fast_path
            && let Some(v) = self.try_fast(port, direction, message, args)
        {
            return v;
        }
        let v = self.message_inner(port, direction, message, args);
        self.finish(v)
    }

    /// The fast path of [`Observer::message`]: a legal step of one live
    /// instance, with no timer due, that involves no other instance (see
    /// [`KindInfo::plan`]). `None` sends the message down the general
    /// path, which checks everything and reports violations; nothing has
    /// changed by then.
    #[inline]
    fn try_fast(
        &mut self,
        port: Handle,
        direction: Direction,
        message: MessageId,
        args: &[i64],
    ) -> Option<Verdict> {
        let now = self.clock.now_us();
        if self.stopped || self.earliest <= now {
            return None;
        }
        let i = port.index;
        let inst = self.instances.get(i as usize)?;
        if inst.generation != port.generation || !inst.live || inst.terminated {
            return None;
        }
        if message.0 >= inst.plan_stride {
            return None;
        }
        let at = inst.plan_base as usize
            + inst.leaf.0 as usize * inst.plan_stride as usize
            + message.0 as usize;
        let plan = *self.plans.get(at)?;
        if plan.direction != direction {
            return None;
        }
        let t = match plan.how {
            How::General => return None,
            How::Select => {
                let k = &self.kinds[inst.kind as usize];
                let deps = |d: u32, s: StateId| self.dep_in_state(i, d, s);
                let t = match k
                    .code
                    .select(inst.leaf, LabelId(message.0), &inst.vars, args, &deps)
                {
                    Ok(Some(t)) => t,
                    _ => return None,
                };
                if k.tables.actions[t.0 as usize] {
                    self.apply_fast(i, t, args)?;
                }
                t
            }
            How::Static => {
                let t = TransitionId(plan.transition);
                if plan.actions {
                    self.apply_fast(i, t, args)?;
                }
                t
            }
        };
        self.checked += 1;
        self.record(i, What::Message(message), args, now);
        if plan.how != How::Static || plan.is_final {
            self.move_to(i, t, now);
        } else if plan.target != NONE {
            self.enter_planned(i, &plan, now);
        }
        Some(Verdict::Ok)
    }

    /// Runs the actions of transition `t` of instance `i` on a copy of its
    /// variables and keeps the result if they all succeed; `None` (nothing
    /// changed) when one fails, for the general path to report.
    fn apply_fast(&mut self, i: u32, t: TransitionId, args: &[i64]) -> Option<()> {
        let mut vars = std::mem::take(&mut self.scratch);
        vars.clear();
        vars.extend_from_slice(&self.instances[i as usize].vars);
        let result = {
            let code = &self.kinds[self.instances[i as usize].kind as usize].code;
            let deps = |d: u32, s: StateId| self.dep_in_state(i, d, s);
            code.apply(t, &mut vars, args, &deps)
        };
        if result.is_ok() {
            self.instances[i as usize].vars.copy_from_slice(&vars);
        }
        self.scratch = vars;
        result.ok()
    }

    /// The state change of a `Static` plan with a non-final target: what
    /// `move_to` does, with the levels and the deadline known in advance.
    #[inline(always)]
    fn enter_planned(&mut self, i: u32, plan: &Plan, now: u64) {
        let inst = &mut self.instances[i as usize];
        let (keep, last) = (plan.keep as usize, plan.last as usize);
        if let Some(levels) = inst.entered.get_mut(keep..=last) {
            for e in levels {
                *e = now;
            }
        }
        inst.reported &= plan.keep_reported;
        if !inst.timed_done.is_empty() {
            let tables = &self.kinds[inst.kind as usize].tables;
            inst.timed_done
                .retain(|t| (tables.source_depth[t.0 as usize] as usize) < keep);
        }
        inst.leaf = StateId(plan.target);
        if plan.keeps_deadline {
            return;
        }
        if !plan.timed {
            inst.next_time = u64::MAX;
            return;
        }
        let next = if plan.fresh_timeout != 0 {
            now.saturating_add(plan.fresh_timeout)
        } else {
            self.due(i).map_or(u64::MAX, |(t, _)| t)
        };
        self.instances[i as usize].next_time = next;
        if next < self.earliest {
            self.earliest = next;
        }
    }

    #[inline(never)]
    fn message_inner(
        &mut self,
        port: Handle,
        direction: Direction,
        message: MessageId,
        args: &[i64],
    ) -> Verdict {
        let now = self.clock.now_us();
        if let Some(v) = self.before_step(now) {
            return v;
        }
        let Some(inst) = self.instance(port) else {
            let v = self.stale_handle(port, direction, now);
            return self.violation(v);
        };
        let i = port.index;
        let kind = inst.kind as usize;
        let terminated = inst.terminated;
        let m = message.0 as usize;
        let k = &self.kinds[kind];
        let Some(&declared) = k.tables.direction.get(m) else {
            return Verdict::Ok; // a typed host cannot get here; replay checks names
        };
        let sender = side(direction, k.mirror);
        if terminated {
            let v = self.illegal(
                i,
                message,
                args,
                now,
                sender,
                ViolationKind::AfterTermination,
            );
            return self.violation(v);
        }
        if declared != direction {
            let v = self.illegal(i, message, args, now, sender, ViolationKind::WrongDirection);
            return self.violation(v);
        }
        let label = LabelId(message.0);
        // Select, for this instance and every listener, on pre-step values.
        self.participants.clear();
        match self.select(i, label, args) {
            Ok(Some(t)) => {
                let acts = self.has_actions(i, t);
                self.participants.push((i, t, acts));
            }
            Ok(None) => {
                let v = self.illegal(
                    i,
                    message,
                    args,
                    now,
                    sender,
                    ViolationKind::Illegal { blocked_by: None },
                );
                return self.violation(v);
            }
            Err(e) => {
                let mut v = self.spec_error(i, None, ActionError::Eval(e), now);
                self.note_offending(&mut v, i, message, args, now, sender);
                return self.violation(v);
            }
        }
        for n in 0..self.kinds[kind].listeners[m].len() {
            let (lkind, llabel, parent_bound) = self.kinds[kind].listeners[m][n];
            for c in 0..self.by_kind[lkind as usize].len() {
                let l = self.by_kind[lkind as usize][c];
                let li = &self.instances[l as usize];
                if !li.live || li.terminated || (parent_bound && li.parent != i) {
                    continue;
                }
                match self.select(l, llabel, args) {
                    Ok(Some(t)) => {
                        let acts = self.has_actions(l, t);
                        self.participants.push((l, t, acts));
                    }
                    Ok(None) => {
                        let blocker = &self.instances[l as usize];
                        let blocked_by =
                            Some(self.address(blocker.kind, &blocker.keys, blocker.depth));
                        let mut v = self.illegal(
                            i,
                            message,
                            args,
                            now,
                            sender,
                            ViolationKind::Illegal { blocked_by },
                        );
                        v.detail = self.blocked_detail(i, l, llabel);
                        return self.violation(v);
                    }
                    Err(e) => {
                        let mut v = self.spec_error(l, None, ActionError::Eval(e), now);
                        self.note_offending(&mut v, i, message, args, now, sender);
                        return self.violation(v);
                    }
                }
            }
        }
        // A spawned key must be new.
        let spawn_param = self.kinds[kind].tables.spawn[m];
        let spawn =
            (spawn_param != NONE).then(|| args.get(spawn_param as usize).copied().unwrap_or(0));
        if let Some(key) = spawn {
            let spawner = Handle {
                index: i,
                generation: port.generation,
            };
            if self.subport(spawner, message, key).is_some() {
                let v = self.illegal(
                    i,
                    message,
                    args,
                    now,
                    sender,
                    ViolationKind::DuplicateSubport { key },
                );
                return self.violation(v);
            }
        }
        // Run every participant's actions on copies; commit only if all
        // succeed. Transitions without actions (most) skip the copy.
        self.scratch.clear();
        for n in 0..self.participants.len() {
            let (p, t, acts) = self.participants[n];
            if !acts {
                continue;
            }
            let start = self.scratch.len();
            self.scratch
                .extend_from_slice(&self.instances[p as usize].vars);
            let mut vars = std::mem::take(&mut self.scratch);
            let result = {
                let code = &self.kinds[self.instances[p as usize].kind as usize].code;
                let deps = |d: u32, s: StateId| self.dep_in_state(p, d, s);
                code.apply(t, &mut vars[start..], args, &deps)
            };
            self.scratch = vars;
            if let Err(e) = result {
                let mut v = self.spec_error(p, Some(t), e, now);
                self.note_offending(&mut v, i, message, args, now, sender);
                return self.violation(v);
            }
        }
        self.record(i, What::Message(message), args, now);
        let mut offset = 0;
        for n in 0..self.participants.len() {
            let (p, t, acts) = self.participants[n];
            if acts {
                let len = self.instances[p as usize].vars.len();
                let (inst, scratch) = (&mut self.instances[p as usize], &self.scratch);
                inst.vars.copy_from_slice(&scratch[offset..offset + len]);
                offset += len;
            }
            self.move_to(p, t, now);
        }
        if spawn.is_some() {
            let child = self.kinds[kind].spawn_child[m];
            if child != NONE {
                self.create(child, i, spawn.unwrap_or(0), now);
                self.recompute_earliest();
            }
        }
        Verdict::Ok
    }

    /// Reports a message that `port`'s protocol does not declare (rule 4:
    /// the fault of whoever sent it, as the sigil and `mirror` say).
    pub fn undeclared(&mut self, port: Handle, direction: Direction, name: &str) -> Verdict {
        let v = self.undeclared_inner(port, direction, name);
        self.finish(v)
    }

    fn undeclared_inner(&mut self, port: Handle, direction: Direction, name: &str) -> Verdict {
        let now = self.clock.now_us();
        if let Some(v) = self.before_step(now) {
            return v;
        }
        let Some(inst) = self.instance(port) else {
            let v = self.stale_handle(port, direction, now);
            return self.violation(v);
        };
        let sender = side(direction, self.kinds[inst.kind as usize].mirror);
        let mut v = self.base(
            port.index,
            ViolationKind::UnknownMessage {
                name: name.to_string(),
            },
            now,
        );
        v.blame = sender.blame();
        v.sender = Some(sender);
        v.message = Some(format!("{}{name}", direction.sigil()));
        v.detail = format!("`{}` declares no message `{name}`", v.protocol);
        v.history.push(format!(
            "{}  {}  {}{name}   # <-- violation",
            crate::trace::format_time(now),
            v.port,
            direction.sigil()
        ));
        self.violation(v)
    }

    /// Reports a message addressed to subport `key` of `parent` (spawned by
    /// `spawner`) that is not alive.
    pub fn unknown_subport(
        &mut self,
        parent: Handle,
        spawner: MessageId,
        key: i64,
        direction: Direction,
        name: &str,
    ) -> Verdict {
        let v = self.unknown_subport_inner(parent, spawner, key, direction, name);
        self.finish(v)
    }

    fn unknown_subport_inner(
        &mut self,
        parent: Handle,
        spawner: MessageId,
        key: i64,
        direction: Direction,
        name: &str,
    ) -> Verdict {
        let now = self.clock.now_us();
        if let Some(v) = self.before_step(now) {
            return v;
        }
        let Some(inst) = self.instance(parent) else {
            let v = self.stale_handle(parent, direction, now);
            return self.violation(v);
        };
        let kind = inst.kind;
        let child = comp_child_kind(&self.model.components[self.component], kind, spawner);
        let sender = side(direction, self.kinds[kind as usize].mirror);
        let mut v = self.base(
            parent.index,
            ViolationKind::UnknownSubport { key: Some(key) },
            now,
        );
        let proto = self.model.proto(self.kinds[kind as usize].protocol);
        let spawn_name = proto
            .messages
            .get(spawner.0 as usize)
            .map_or("?", |m| m.name.as_str())
            .to_string();
        v.port = format!("{}/{spawn_name}:{key}", v.port);
        if let Some(ck) = child {
            v.protocol = self
                .model
                .proto(self.kinds[ck as usize].protocol)
                .name
                .clone();
        }
        v.state = String::new();
        v.legal = Vec::new();
        v.blame = sender.blame();
        v.sender = Some(sender);
        v.message = Some(format!("{}{name}", direction.sigil()));
        v.detail = format!(
            "no live subport with key {key} was spawned by `{spawn_name}` (never spawned, or already terminated)"
        );
        v.history.push(format!(
            "{}  {}  {}{name}   # <-- violation",
            crate::trace::format_time(now),
            v.port,
            direction.sigil()
        ));
        self.violation(v)
    }

    /// Runs due timers before a step; `Some` when the observer is (or just
    /// got) stopped. A timer violation found on the way is kept in
    /// `pending` and returned by [`Observer::finish`] if the step itself is legal.
    fn before_step(&mut self, now: u64) -> Option<Verdict> {
        if self.stopped {
            return Some(Verdict::Stopped);
        }
        if self.earliest <= now {
            let v = self.run_timers(now);
            if self.stopped {
                return Some(v);
            }
            self.pending = v;
        }
        self.checked += 1;
        None
    }

    /// Whether transition `t` of instance `p` has actions to run.
    #[inline]
    fn has_actions(&self, p: u32, t: TransitionId) -> bool {
        t.0 != u32::MAX
            && self.kinds[self.instances[p as usize].kind as usize]
                .tables
                .actions[t.0 as usize]
    }

    /// Recomputes instance `i`'s next timer and keeps `earliest` right,
    /// without scanning when nothing timed is involved.
    fn update_next(&mut self, i: u32) {
        let inst = &self.instances[i as usize];
        let old = inst.next_time;
        let timed = self.kinds[inst.kind as usize]
            .tables
            .timed
            .get(inst.leaf.0 as usize)
            .copied()
            .unwrap_or(true);
        if !timed && old == u64::MAX {
            return;
        }
        let new = if timed && inst.live && !inst.terminated {
            self.due(i).map_or(u64::MAX, |(t, _)| t)
        } else {
            u64::MAX
        };
        self.instances[i as usize].next_time = new;
        // `earliest` stays a lower bound; a later one is found lazily.
        if new < self.earliest {
            self.earliest = new;
        }
    }

    /// The verdict of a call: the step's own violation, else a timer
    /// violation found before it, else `Ok`.
    #[inline]
    fn finish(&mut self, v: Verdict) -> Verdict {
        if v.is_ok() && self.pending.is_ok() {
            return v;
        }
        let pending = std::mem::replace(&mut self.pending, Verdict::Ok);
        if v.is_ok() { pending } else { v }
    }

    fn select(
        &self,
        i: u32,
        label: LabelId,
        args: &[i64],
    ) -> Result<Option<TransitionId>, ir::EvalError> {
        let inst = &self.instances[i as usize];
        let k = &self.kinds[inst.kind as usize];
        if k.tables.stateless {
            // A protocol without states allows everything.
            return Ok(Some(TransitionId(u32::MAX)));
        }
        let deps = |d: u32, s: StateId| self.dep_in_state(i, d, s);
        k.code.select(inst.leaf, label, &inst.vars, args, &deps)
    }

    /// Whether dependency `dep` of instance `i` is in `state`.
    fn dep_in_state(&self, i: u32, dep: u32, state: StateId) -> bool {
        let inst = &self.instances[i as usize];
        let comp = &self.model.components[self.component];
        let target = match comp.kind(KindId(inst.kind)).bindings.get(dep as usize) {
            Some(Binding::Port(k)) => k.0,
            Some(Binding::Parent) => inst.parent,
            None => NONE,
        };
        let Some(t) = self.instances.get(target as usize) else {
            return false;
        };
        if !t.live {
            return false;
        }
        let p = self.model.proto(self.kinds[t.kind as usize].protocol);
        !p.states.is_empty() && p.is_within(t.leaf, state)
    }

    /// Moves instance `i` along transition `t` (taken at `now`).
    fn move_to(&mut self, i: u32, t: TransitionId, now: u64) {
        if t.0 == u32::MAX {
            return; // stateless protocol
        }
        let inst = &mut self.instances[i as usize];
        let tables = &self.kinds[inst.kind as usize].tables;
        let new = tables.target[t.0 as usize];
        let old = inst.leaf.0;
        if new == NONE || new == old {
            return;
        }
        // Common ancestors keep their entry times (local transitions).
        let keep = tables.shared_depth(old, new);
        let last = (tables.depth[new as usize] as usize).min(inst.entered.len().saturating_sub(1));
        for d in keep..=last {
            inst.entered[d] = now;
        }
        inst.reported &= !levels_mask(keep, last);
        if !inst.timed_done.is_empty() {
            inst.timed_done
                .retain(|t| (tables.source_depth[t.0 as usize] as usize) < keep);
        }
        inst.leaf = StateId(new);
        if tables.is_final[new as usize] {
            self.terminate(i);
            self.recompute_earliest();
        } else {
            self.update_next(i);
        }
    }

    #[inline(always)]
    fn record(&mut self, i: u32, what: What, args: &[i64], time: u64) {
        let inst = &self.instances[i as usize];
        let Some(r) = self.history.get_mut(self.history_next) else {
            return; // no history kept
        };
        r.time = time;
        r.kind = inst.kind;
        r.keys = inst.keys;
        r.depth = inst.depth;
        r.what = what;
        r.nargs = args.len().min(u8::MAX as usize) as u8;
        // Arguments past `nargs` are never read.
        for (slot, v) in r.args.iter_mut().zip(args) {
            *slot = *v;
        }
        self.history_next += 1;
        if self.history_next == self.history.len() {
            self.history_next = 0;
        }
        if self.history_len < self.history.len() {
            self.history_len += 1;
        }
    }

    /// The history ring in time order.
    pub(crate) fn history_in_order(&self) -> impl Iterator<Item = &Record> {
        let (a, b) = if self.history_len < self.history.len() {
            (&self.history[..self.history_len], &self.history[..0])
        } else {
            (
                &self.history[self.history_next..],
                &self.history[..self.history_next],
            )
        };
        a.iter().chain(b.iter())
    }

    // ---- violations -------------------------------------------------------------

    fn violation(&mut self, v: Violation) -> Verdict {
        if let Some(hook) = &mut self.hook {
            hook(&v);
        }
        if self.config.policy == Policy::Stop {
            self.stopped = true;
        }
        self.violations.push(v.clone());
        Verdict::Violation(Box::new(v))
    }

    fn base(&self, i: u32, kind: ViolationKind, time: u64) -> Violation {
        let inst = &self.instances[i as usize];
        let proto = self.model.proto(self.kinds[inst.kind as usize].protocol);
        Violation {
            kind,
            blame: Blame::Spec,
            time_us: time,
            component: self.component().name.clone(),
            port: self.address(inst.kind, &inst.keys, inst.depth),
            protocol: proto.name.clone(),
            state: if proto.states.is_empty() {
                proto.name.clone()
            } else {
                format!("{}.{}", proto.name, proto.path(inst.leaf))
            },
            message: None,
            sender: None,
            legal: self.legal_here(i),
            others: self.snapshots(Some(i)),
            history: self.history_lines(),
            detail: String::new(),
        }
    }

    fn illegal(
        &self,
        i: u32,
        message: MessageId,
        args: &[i64],
        now: u64,
        sender: Side,
        kind: ViolationKind,
    ) -> Violation {
        let inst = &self.instances[i as usize];
        let proto = self.model.proto(self.kinds[inst.kind as usize].protocol);
        let msg = &proto.messages[message.0 as usize];
        let rendered = self.render_message(proto, message, args);
        // The sigil as sent (it differs from the declared one for a wrong direction).
        let mirror = self.kinds[inst.kind as usize].mirror;
        let sigil = match (sender, mirror) {
            (Side::Environment, false) | (Side::Driver, true) => "?",
            _ => "!",
        };
        let detail = match &kind {
            ViolationKind::Illegal { blocked_by: None } => {
                format!(
                    "`{}` has no transition for `{rendered}` in this state",
                    proto.name
                )
            }
            ViolationKind::Illegal {
                blocked_by: Some(_),
            } => String::new(),
            ViolationKind::WrongDirection => format!(
                "`{}` is an `{}` message of `{}`: the {} may not send it",
                msg.name,
                msg.direction.keyword(),
                proto.name,
                sender.noun()
            ),
            ViolationKind::AfterTermination => format!(
                "`{}` has terminated: no further message is legal",
                proto.name
            ),
            ViolationKind::DuplicateSubport { key } => {
                format!(
                    "a subport with key {key} spawned by `{}` is still alive",
                    msg.name
                )
            }
            _ => String::new(),
        };
        let mut v = self.base(i, kind, now);
        v.blame = sender.blame();
        v.sender = Some(sender);
        v.message = Some(format!("{}{}", sigil, rendered));
        v.detail = detail;
        v.history.push(format!(
            "{}  {}  {}{}   # <-- violation",
            crate::trace::format_time(now),
            v.port,
            sigil,
            rendered
        ));
        v
    }

    /// Adds the message being checked to a spec-error report: its text,
    /// sender, and the history line that replays it.
    fn note_offending(
        &self,
        v: &mut Violation,
        i: u32,
        message: MessageId,
        args: &[i64],
        now: u64,
        sender: Side,
    ) {
        let inst = &self.instances[i as usize];
        let proto = self.model.proto(self.kinds[inst.kind as usize].protocol);
        let sigil = proto.messages[message.0 as usize].direction.sigil();
        let rendered = self.render_message(proto, message, args);
        let port = self.address(inst.kind, &inst.keys, inst.depth);
        v.message = Some(format!("{sigil}{rendered}"));
        v.sender = Some(sender);
        v.history.push(format!(
            "{}  {port}  {sigil}{rendered}   # <-- violation",
            crate::trace::format_time(now)
        ));
    }

    fn blocked_detail(&self, i: u32, l: u32, label: LabelId) -> String {
        let inst = &self.instances[i as usize];
        let proto = self.model.proto(self.kinds[inst.kind as usize].protocol);
        let li = &self.instances[l as usize];
        let lp = self.model.proto(self.kinds[li.kind as usize].protocol);
        let candidates: Vec<String> = lp
            .candidates(li.leaf, label)
            .iter()
            .map(|t| format!("`{}`", lp.transitions[t.0 as usize].text))
            .collect();
        let why = if candidates.is_empty() {
            "has no transition for it there".to_string()
        } else {
            format!(
                "has only {} there, and no guard holds",
                candidates.join(", ")
            )
        };
        format!(
            "`{}` allows it, but port `{}` ({}, in state `{}`) names this message and {why} (rule 3: all or nothing)",
            proto.name,
            self.address(li.kind, &li.keys, li.depth),
            lp.name,
            if lp.states.is_empty() {
                lp.name.clone()
            } else {
                lp.path(li.leaf)
            }
        )
    }

    fn stale_handle(&self, h: Handle, direction: Direction, now: u64) -> Violation {
        let sender = match self.instances.get(h.index as usize) {
            Some(inst) => side(direction, self.kinds[inst.kind as usize].mirror),
            None => side(direction, false),
        };
        Violation {
            kind: ViolationKind::UnknownSubport { key: None },
            blame: sender.blame(),
            time_us: now,
            component: self.component().name.clone(),
            port: format!("<freed subport #{}>", h.index),
            protocol: String::new(),
            state: String::new(),
            message: None,
            sender: Some(sender),
            legal: Vec::new(),
            others: self.snapshots(None),
            history: self.history_lines(),
            detail: "the subport this message is addressed to has terminated and was freed".into(),
        }
    }

    fn timeout_violation(&self, i: u32, depth: u32, deadline: u64, now: u64) -> Violation {
        let inst = &self.instances[i as usize];
        let kind = &self.kinds[inst.kind as usize];
        let proto = self.model.proto(kind.protocol);
        let state = proto
            .ancestors(inst.leaf)
            .find(|s| proto.state(*s).depth == depth)
            .unwrap_or(inst.leaf);
        let limit = proto.state(state).timeout_us.unwrap_or(0);
        let blame = self.timeout_blame(inst.kind, state);
        let mut v = self.base(
            i,
            ViolationKind::Timeout {
                state: proto.path(state),
                limit_us: limit,
            },
            deadline,
        );
        v.blame = blame;
        v.detail = format!(
            "state `{}` was entered at {} and has a timeout of {}; nothing left it by {} (noticed at {})",
            proto.path(state),
            crate::trace::format_time(deadline - limit),
            ir::format_micros(limit),
            crate::trace::format_time(deadline),
            crate::trace::format_time(now),
        );
        v
    }

    /// Who could have left `state` in time: the senders of the message
    /// transitions that leave it (its own and its sub-states'; if none,
    /// inherited ones; if none either, both sides).
    fn timeout_blame(&self, kind: u32, state: StateId) -> Blame {
        let k = &self.kinds[kind as usize];
        let comp = &self.model.components[self.component];
        let proto = self.model.proto(k.protocol);
        // Only message transitions count: an `after` is nobody's move.
        let leaves_state = |t: &ir::Transition| {
            matches!(t.trigger, Trigger::Label(_))
                && t.target.is_some_and(|x| !proto.is_within(x, state))
        };
        let own: Vec<&ir::Transition> = proto
            .transitions
            .iter()
            .filter(|t| proto.is_within(t.source, state) && leaves_state(t))
            .collect();
        let chosen = if own.is_empty() {
            proto
                .transitions
                .iter()
                .filter(|t| proto.is_within(state, t.source) && leaves_state(t))
                .collect()
        } else {
            own
        };
        let (mut driver, mut env) = (false, false);
        for t in chosen {
            let Trigger::Label(l) = t.trigger else {
                continue;
            };
            let s = match proto.labels[l.0 as usize] {
                ir::Label::Own(m) => side(proto.messages[m.0 as usize].direction, k.mirror),
                ir::Label::Dep(d, m) => {
                    let target = match comp.kind(KindId(kind)).bindings.get(d as usize) {
                        Some(Binding::Port(p)) => p.0 as usize,
                        _ => comp
                            .kind(KindId(kind))
                            .spawned_by
                            .map_or(kind as usize, |(p, _)| p.0 as usize),
                    };
                    let dk = &self.kinds[target];
                    let dp = self.model.proto(dk.protocol);
                    side(dp.messages[m.0 as usize].direction, dk.mirror)
                }
            };
            match s {
                Side::Driver => driver = true,
                Side::Environment => env = true,
            }
        }
        match (driver, env) {
            (true, false) => Blame::Driver,
            (false, true) => Blame::Environment,
            _ => Blame::Both,
        }
    }

    fn spec_error(&self, i: u32, t: Option<TransitionId>, e: ActionError, now: u64) -> Violation {
        let inst = &self.instances[i as usize];
        let proto = self.model.proto(self.kinds[inst.kind as usize].protocol);
        let what = match e {
            ActionError::Eval(ir::EvalError::DivisionByZero) => "division by zero".to_string(),
            ActionError::Eval(ir::EvalError::Overflow) => "arithmetic overflow".to_string(),
            ActionError::OutOfRange { variable, value } => {
                let v = &proto.variables[variable as usize];
                format!(
                    "{value} does not fit variable `{}` of type `{}`",
                    v.name,
                    self.model.show_type(&v.ty)
                )
            }
        };
        let mut v = self.base(i, ViolationKind::SpecError, now);
        v.detail = match t {
            Some(t) if t.0 != u32::MAX => {
                format!("{what} in `{}`", proto.transitions[t.0 as usize].text)
            }
            _ => format!("{what} in a guard"),
        };
        v
    }

    // ---- report pieces ----------------------------------------------------------

    pub(crate) fn address(&self, kind: u32, keys: &[i64; ADDRESS_DEPTH], depth: u8) -> String {
        let comp = &self.model.components[self.component];
        let chain = &self.kinds[kind as usize].chain;
        let mut out = comp.kind(chain[0]).name.clone();
        for (level, k) in chain.iter().enumerate().skip(1) {
            let Some((parent, m)) = comp.kind(*k).spawned_by else {
                continue;
            };
            let msg = &self.model.proto(comp.kind(parent).protocol).messages[m.0 as usize].name;
            let key = if level <= depth as usize {
                keys[level.min(ADDRESS_DEPTH - 1)].to_string()
            } else {
                "?".into()
            };
            out.push_str(&format!("/{msg}:{key}"));
        }
        out
    }

    /// `name(arg, ...)` with values as traces write them (enum variants by
    /// name, booleans, integers), so the text replays.
    pub(crate) fn render_message(
        &self,
        proto: &ir::Protocol,
        message: MessageId,
        args: &[i64],
    ) -> String {
        let msg = &proto.messages[message.0 as usize];
        if msg.params.is_empty() {
            return msg.name.clone();
        }
        let vals: Vec<String> = msg
            .params
            .iter()
            .zip(args)
            .map(|(p, v)| crate::generate::to_value(&self.model, p.ty, *v).to_string())
            .collect();
        format!("{}({})", msg.name, vals.join(", "))
    }

    fn legal_here(&self, i: u32) -> Vec<String> {
        let inst = &self.instances[i as usize];
        let proto = self.model.proto(self.kinds[inst.kind as usize].protocol);
        if proto.states.is_empty() || inst.terminated {
            return Vec::new();
        }
        (0..proto.labels.len() as u32)
            .map(LabelId)
            .filter_map(|l| {
                let c = proto.candidates(inst.leaf, l);
                if c.is_empty() {
                    return None;
                }
                let guarded = c
                    .iter()
                    .all(|t| proto.transitions[t.0 as usize].guard.is_some());
                let text = proto.label_text(&self.model, l);
                Some(if guarded {
                    format!("{text} (guarded)")
                } else {
                    text
                })
            })
            .collect()
    }

    fn snapshots(&self, except: Option<u32>) -> Vec<InstanceSnapshot> {
        self.instances
            .iter()
            .enumerate()
            .filter(|(n, inst)| inst.live && Some(*n as u32) != except)
            .map(|(_, inst)| {
                let proto = self.model.proto(self.kinds[inst.kind as usize].protocol);
                InstanceSnapshot {
                    port: self.address(inst.kind, &inst.keys, inst.depth),
                    protocol: proto.name.clone(),
                    state: if inst.terminated {
                        "(terminated)".into()
                    } else if proto.states.is_empty() {
                        "(no states)".into()
                    } else {
                        proto.path(inst.leaf)
                    },
                    variables: proto
                        .variables
                        .iter()
                        .zip(&inst.vars)
                        .map(|(v, x)| (v.name.clone(), self.model.show_value(&v.ty, *x)))
                        .collect(),
                }
            })
            .collect()
    }

    /// The history as trace lines, oldest first.
    pub(crate) fn history_lines(&self) -> Vec<String> {
        self.history_in_order()
            .map(|r| self.record_line(r))
            .collect()
    }

    pub(crate) fn record_line(&self, r: &Record) -> String {
        let port = self.address(r.kind, &r.keys, r.depth);
        let proto = self.model.proto(self.kinds[r.kind as usize].protocol);
        let time = crate::trace::format_time(r.time);
        match r.what {
            What::Message(m) => {
                let msg = &proto.messages[m.0 as usize];
                if r.nargs as usize > HISTORY_ARGS {
                    return format!(
                        "# {time}  {port}  {}{}(...)  (arguments not kept)",
                        msg.direction.sigil(),
                        msg.name
                    );
                }
                let text = self.render_message(proto, m, &r.args[..r.nargs as usize]);
                format!("{time}  {port}  {}{text}", msg.direction.sigil())
            }
            // Timer events are consequences of time: a `tick` replays them.
            What::After(t) => format!(
                "{time}  tick  # {port}: after, {}",
                proto.transitions[t.0 as usize].text
            ),
            What::Timeout(s) => format!("{time}  tick  # {port}: timeout in {}", proto.path(s)),
        }
    }
}

/// Who sent a message that the spec writes with `direction`.
pub(crate) fn side(direction: Direction, mirror: bool) -> Side {
    match (direction, mirror) {
        (Direction::In, false) | (Direction::Out, true) => Side::Environment,
        _ => Side::Driver,
    }
}

fn comp_child_kind(comp: &ir::Component, parent_kind: u32, message: MessageId) -> Option<u32> {
    comp.kinds
        .iter()
        .position(|k| k.spawned_by == Some((KindId(parent_kind), message)))
        .map(|k| k as u32)
}

#[cfg(test)]
mod tests {
    use super::{level_bit, levels_mask};

    #[test]
    fn level_masks_cover_exactly_the_levels() {
        assert_eq!(levels_mask(0, 0), 1);
        assert_eq!(levels_mask(1, 3), 0b1110);
        assert_eq!(levels_mask(3, 2), 0);
        assert_eq!(levels_mask(0, 127), u128::MAX);
        assert_eq!(levels_mask(127, 127), 1 << 127);
        assert_eq!(levels_mask(5, 200), !0b11111);
        assert_eq!(level_bit(130), 1 << 127);
        for keep in 0..128 {
            for last in keep..128 {
                assert_eq!(
                    levels_mask(keep, last).count_ones() as usize,
                    last - keep + 1
                );
            }
        }
    }
}
