//! Checks across protocols: dependency cycles, and dependency-induced dead
//! ends (rule 3: a dependency message is legal only if every protocol that
//! names it allows it, so a protocol that names `lc.stop` must allow it in
//! every state it can be in while the Lifecycle can send `stop`).

use super::names::Context;
use super::protocols::Protocols;
use crate::diagnostic::Diagnostic;
use crate::ir::{self, Label, LabelId, MessageId, ProtocolId, StateId};
use crate::syntax::ast::Direction;
use std::collections::{HashMap, HashSet};

/// The product exploration stops after this many combined states.
pub(crate) const PRODUCT_LIMIT: usize = 200_000;

/// Reports dependency cycles; returns, per protocol, whether it is on one.
pub(crate) fn cycles(cx: &mut Context<'_>, protos: &Protocols<'_>) -> Vec<bool> {
    let n = protos.list.len();
    let mut on_cycle = vec![false; n];
    // 0 = unvisited, 1 = on the stack, 2 = done.
    let mut color = vec![0u8; n];
    let mut reported: HashSet<Vec<usize>> = HashSet::new();
    for start in 0..n {
        if color[start] != 0 {
            continue;
        }
        // Iterative DFS with an explicit path.
        let mut path: Vec<(usize, usize)> = vec![(start, 0)];
        color[start] = 1;
        while let Some(&mut (node, ref mut next)) = path.last_mut() {
            let deps = &protos.list[node].ir.dependencies;
            if *next < deps.len() {
                let d = *next;
                *next += 1;
                let to = deps[d].protocol.0 as usize;
                match color[to] {
                    0 => {
                        color[to] = 1;
                        path.push((to, 0));
                    }
                    1 => {
                        let from = path.iter().position(|(x, _)| *x == to).unwrap_or(0);
                        let members: Vec<usize> = path[from..].iter().map(|(x, _)| *x).collect();
                        for &m in &members {
                            on_cycle[m] = true;
                        }
                        let mut key = members.clone();
                        key.sort();
                        if reported.insert(key) {
                            let mut names: Vec<String> = members
                                .iter()
                                .map(|&m| format!("`{}`", protos.list[m].ir.name))
                                .collect();
                            names.push(format!("`{}`", protos.list[to].ir.name));
                            let span = protos.list[node].dep_spans[d];
                            let (from_name, to_name) =
                                (&protos.list[node].ir.name, &protos.list[to].ir.name);
                            let d = if node == to {
                                Diagnostic::error(span, "dependency cycle")
                                    .label(format!("`{from_name}` depends on itself"))
                                    .help(
                                        "a protocol cannot be its own dependency: remove this one",
                                    )
                            } else {
                                Diagnostic::error(span, "dependency cycle")
                                    .label(format!("`{from_name}` depends on `{to_name}`, which closes the cycle"))
                                    .note(format!("the cycle: {}", names.join(" → ")))
                                    .help("a protocol may name another's messages, but not in a circle: merge them or drop one direction")
                            };
                            cx.diags.push(d);
                        }
                    }
                    _ => {}
                }
            } else {
                color[node] = 2;
                path.pop();
            }
        }
    }
    on_cycle
}

/// One side of the product: a protocol, or a stateless one (every message legal).
struct View<'p> {
    proto: &'p ir::Protocol,
}

impl View<'_> {
    /// Number of resting points (leaves; 1 for a stateless protocol).
    fn initial(&self) -> u32 {
        self.proto
            .initial_leaf
            .map_or(0, |l| self.proto.state(l).leaf_index.unwrap_or(0))
    }

    fn stateless(&self) -> bool {
        self.proto.states.is_empty()
    }

    fn is_final(&self, leaf: u32) -> bool {
        !self.stateless() && self.proto.state(self.proto.leaves[leaf as usize]).is_final
    }

    /// Next leaves when `label` arrives in `leaf` (guards ignored), or
    /// `None` when nothing is enabled.
    fn moves(&self, leaf: u32, label: LabelId) -> Option<Vec<u32>> {
        if self.stateless() {
            return Some(vec![0]);
        }
        let l = self.proto.leaves[leaf as usize];
        let c = self.proto.candidates(l, label);
        if c.is_empty() {
            return None;
        }
        Some(c.iter().map(|&t| self.next(leaf, t)).collect())
    }

    fn next(&self, leaf: u32, t: ir::TransitionId) -> u32 {
        self.proto.transitions[t.0 as usize]
            .target_leaf
            .map_or(leaf, |s| self.proto.state(s).leaf_index.unwrap_or(0))
    }

    /// Moves that do not synchronise with the other side: `after`, and
    /// messages outside the shared alphabet (`shared` says which are shared).
    fn silent_moves(&self, leaf: u32, shared: &dyn Fn(LabelId) -> bool) -> Vec<u32> {
        if self.stateless() {
            return Vec::new();
        }
        let l = self.proto.leaves[leaf as usize];
        let mut out = Vec::new();
        for (i, _) in self.proto.labels.iter().enumerate() {
            let label = LabelId(i as u32);
            if shared(label) {
                continue;
            }
            for &t in self.proto.candidates(l, label) {
                out.push(self.next(leaf, t));
            }
        }
        if let Some(li) = self.proto.state(l).leaf_index {
            for &t in &self.proto.timed[li as usize] {
                out.push(self.next(leaf, t));
            }
        }
        out
    }
}

/// Explores each protocol together with its dependencies and warns where a
/// dependency can send a message that the protocol names but blocks.
pub(crate) fn dead_ends(cx: &mut Context<'_>, protos: &Protocols<'_>, cyclic: &[bool]) {
    for (pi, data) in protos.list.iter().enumerate() {
        let p = &data.ir;
        if !data.clean || cyclic[pi] || p.dependencies.is_empty() || p.initial_leaf.is_none() {
            continue;
        }
        let deps_ok = p.dependencies.iter().all(|d| {
            let dd = protos.get(d.protocol);
            dd.clean
                && !cyclic[d.protocol.0 as usize]
                && (dd.ast.states.is_none() || dd.ir.initial_leaf.is_some())
        });
        if !deps_ok {
            continue;
        }
        explore(cx, protos, ProtocolId(pi as u32));
    }
}

fn explore(cx: &mut Context<'_>, protos: &Protocols<'_>, pid: ProtocolId) {
    let p = &protos.get(pid).ir;
    let me = View { proto: p };
    let deps: Vec<View> = p
        .dependencies
        .iter()
        .map(|d| View {
            proto: &protos.get(d.protocol).ir,
        })
        .collect();
    // Labels of P that are dependency messages: (dep, message) -> label.
    let mut named: HashMap<(u32, MessageId), LabelId> = HashMap::new();
    for (i, l) in p.labels.iter().enumerate() {
        if let Label::Dep(d, m) = *l {
            named.insert((d, m), LabelId(i as u32));
        }
    }
    let start: Vec<u32> = std::iter::once(me.initial())
        .chain(deps.iter().map(View::initial))
        .collect();
    let mut seen: HashSet<Vec<u32>> = HashSet::new();
    seen.insert(start.clone());
    let mut queue = vec![start];
    // (P leaf, dep, message) -> a dependency leaf where it was seen.
    let mut blocked: Vec<((u32, u32, MessageId), u32)> = Vec::new();
    let mut blocked_seen: HashSet<(u32, u32, MessageId)> = HashSet::new();
    let mut truncated = false;
    while let Some(state) = queue.pop() {
        if seen.len() > PRODUCT_LIMIT {
            truncated = true;
            break;
        }
        let mut push = |next: Vec<u32>, queue: &mut Vec<Vec<u32>>| {
            if seen.insert(next.clone()) {
                queue.push(next);
            }
        };
        let pl = state[0];
        if me.is_final(pl) {
            continue; // a terminated instance no longer takes part
        }
        // P's own moves: its messages and `after`; dependency labels are shared.
        let shared = |l: LabelId| matches!(p.labels[l.0 as usize], Label::Dep(..));
        for n in me.silent_moves(pl, &shared) {
            let mut next = state.clone();
            next[0] = n;
            push(next, &mut queue);
        }
        for (di, dep) in deps.iter().enumerate() {
            let dl = state[di + 1];
            if dep.is_final(dl) {
                continue;
            }
            // The dependency's moves on its dependencies' messages and timers.
            let own_only = |l: LabelId| {
                dep.stateless() || matches!(dep.proto.labels[l.0 as usize], Label::Own(_))
            };
            for n in dep.silent_moves(dl, &own_only) {
                let mut next = state.clone();
                next[di + 1] = n;
                push(next, &mut queue);
            }
            for m in 0..dep.proto.messages.len() {
                let m = MessageId(m as u32);
                let Some(dep_next) = dep.moves(dl, LabelId(m.0)) else {
                    continue;
                };
                match named.get(&(di as u32, m)) {
                    None => {
                        for n in dep_next {
                            let mut next = state.clone();
                            next[di + 1] = n;
                            push(next, &mut queue);
                        }
                    }
                    Some(&label) => match me.moves(pl, label) {
                        None => {
                            let key = (pl, di as u32, m);
                            if blocked_seen.insert(key) {
                                blocked.push((key, dl));
                            }
                        }
                        Some(my_next) => {
                            for &a in &my_next {
                                for &b in &dep_next {
                                    let mut next = state.clone();
                                    next[0] = a;
                                    next[di + 1] = b;
                                    push(next, &mut queue);
                                }
                            }
                        }
                    },
                }
            }
        }
    }
    // One report per dependency message, listing every state that blocks it.
    blocked.sort_by_key(|((pl, d, m), _)| (*d, *m, *pl));
    let mut i = 0;
    while i < blocked.len() {
        let ((_, d, m), dl) = blocked[i];
        let mut j = i;
        while j < blocked.len() && blocked[j].0.1 == d && blocked[j].0.2 == m {
            j += 1;
        }
        let leaves: Vec<StateId> = blocked[i..j]
            .iter()
            .map(|((pl, _, _), _)| p.leaves[*pl as usize])
            .collect();
        report_blocked(cx, p, deps[d as usize].proto, d, m, &leaves, dl);
        i = j;
    }
    if truncated {
        cx.diags.push(
            Diagnostic::warning(
                p.span,
                format!("dependency analysis of `{}` stopped early", p.name),
            )
            .label(format!(
                "more than {PRODUCT_LIMIT} combined states with its dependencies"
            )),
        );
    }
}

/// Reports that dependency message `m` of dependency `d` is blocked in `leaves`.
fn report_blocked(
    cx: &mut Context<'_>,
    p: &ir::Protocol,
    dep_proto: &ir::Protocol,
    d: u32,
    m: MessageId,
    leaves: &[StateId],
    dep_leaf: u32,
) {
    let dep = &p.dependencies[d as usize];
    let msg = &dep_proto.messages[m.0 as usize];
    // The innermost state containing every blocked leaf, if all its leaves are blocked.
    let common = p.ancestors(leaves[0]).find(|&a| {
        leaves.iter().all(|&l| p.is_within(l, a))
            && p.leaves
                .iter()
                .filter(|&&l| p.is_within(l, a))
                .all(|l| leaves.contains(l))
    });
    let (span, place) = match common {
        Some(a) => (p.state(a).span, format!("`{}`", p.state(a).name)),
        None if leaves.len() > 1 => (
            p.state(leaves[0]).span,
            format!(
                "`{}` and {} other state{}",
                p.state(leaves[0]).name,
                leaves.len() - 1,
                if leaves.len() == 2 { "" } else { "s" }
            ),
        ),
        None => (
            p.state(leaves[0]).span,
            format!("`{}`", p.state(leaves[0]).name),
        ),
    };
    let where_dep = if dep_proto.states.is_empty() {
        "at any time".to_string()
    } else {
        format!(
            "in state `{}`",
            dep_proto.path(dep_proto.leaves[dep_leaf as usize])
        )
    };
    let who = match msg.direction {
        Direction::In => "the environment may send it then",
        Direction::Out => "the side the protocol describes may need to send it then",
    };
    let mut diag = Diagnostic::warning(span, format!("`{}.{}` is blocked in {place}", dep.name, msg.name))
        .label(format!("no transition here accepts `{}.{}`", dep.name, msg.name))
        .note(format!(
            "`{}` allows `{}` {where_dep} while `{}` is in `{}`, so {who}; since `{}` names `{}.{}`, it must accept it wherever it can be sent (rule 3)",
            dep_proto.name, msg.name, p.name, p.path(leaves[0]), p.name, dep.name, msg.name
        ))
        .help(if common.is_none() && leaves.len() > 1 {
            format!(
                "handle `{}.{}` in each of these states, or in a super-state that encloses them",
                dep.name, msg.name
            )
        } else {
            format!("handle `{}.{}` in {place} or an enclosing state", dep.name, msg.name)
        });
    if common.is_none() {
        for &l in leaves.iter().skip(1).take(4) {
            diag = diag.with(p.state(l).span, "also blocked here");
        }
    }
    cx.diags.push(diag);
}
