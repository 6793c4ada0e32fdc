//! Structural analyses of each protocol's statechart: reachability, dead
//! ends, termination, timeouts that cannot be met, determinism (rule 8) and
//! unused declarations. They run only on protocols with no errors so far, so
//! that one mistake does not cascade into many reports.

use super::names::Context;
use super::protocols::{ProtoData, Protocols};
use crate::diagnostic::Diagnostic;
use crate::ir::{self, Expr, Label, StateId, Trigger};
use crate::syntax::ast::{BinaryOp, UnaryOp};
use std::collections::HashMap;

pub(crate) fn run(cx: &mut Context<'_>, protos: &mut Protocols<'_>) {
    for i in 0..protos.list.len() {
        let before = cx.diags.error_count();
        let p = &protos.list[i];
        if !p.clean {
            continue;
        }
        if p.ast.states.is_none() {
            cx.diags.push(
                Diagnostic::warning(
                    p.ast.name.span,
                    format!("protocol `{}` has no states", p.ir.name),
                )
                .label("every message is legal at any time")
                .help("add a `states:` section to say in which order messages are legal"),
            );
        } else if p.ir.initial_leaf.is_some() {
            structure(cx, p);
            timeouts(cx, p);
            determinism(cx, protos, p);
        }
        unused(cx, p);
        if cx.diags.error_count() > before {
            protos.list[i].clean = false;
        }
    }
}

/// Transitions grouped by the state that declares them.
fn by_state(p: &ir::Protocol) -> Vec<Vec<usize>> {
    let mut v = vec![Vec::new(); p.states.len()];
    for (i, t) in p.transitions.iter().enumerate() {
        v[t.source.0 as usize].push(i);
    }
    v
}

fn structure(cx: &mut Context<'_>, data: &ProtoData<'_>) {
    let p = &data.ir;
    let Some(initial) = p.initial_leaf else {
        return;
    };
    let declared = by_state(p);
    let nl = p.leaves.len();
    // Leaf graph: successors of each leaf, and how many transitions apply.
    let mut succ: Vec<Vec<u32>> = vec![Vec::new(); nl];
    let mut applicable = vec![0usize; nl];
    let mut leaving = vec![0usize; nl];
    for (li, &leaf) in p.leaves.iter().enumerate() {
        for s in p.ancestors(leaf) {
            for &t in &declared[s.0 as usize] {
                applicable[li] += 1;
                if let Some(target) = p.transitions[t].target_leaf {
                    let ti = p.state(target).leaf_index.unwrap_or(0);
                    succ[li].push(ti);
                    if target != leaf {
                        leaving[li] += 1;
                    }
                }
            }
        }
    }
    let leaf_of = |s: StateId| p.state(s).leaf_index.unwrap_or(0) as usize;
    let mut reached = vec![false; nl];
    let mut stack = vec![leaf_of(initial)];
    reached[leaf_of(initial)] = true;
    while let Some(l) = stack.pop() {
        if p.state(p.leaves[l]).is_final {
            continue;
        }
        for &n in &succ[l] {
            if !reached[n as usize] {
                reached[n as usize] = true;
                stack.push(n as usize);
            }
        }
    }
    let mut state_reached = vec![false; p.states.len()];
    for (li, &leaf) in p.leaves.iter().enumerate() {
        if reached[li] {
            for s in p.ancestors(leaf) {
                state_reached[s.0 as usize] = true;
            }
        }
    }
    let targeted = |s: StateId| {
        p.transitions
            .iter()
            .any(|t| t.target.is_some_and(|x| p.is_within(x, s)))
    };
    for (si, st) in p.states.iter().enumerate() {
        let id = StateId(si as u32);
        if state_reached[si] || st.parent.is_some_and(|q| !state_reached[q.0 as usize]) {
            continue;
        }
        let d = Diagnostic::error(st.span, format!("state `{}` is unreachable", st.name));
        let d = if targeted(id) {
            d.label("every transition into it starts in an unreachable state")
        } else {
            d.label("no transition leads here").help(format!(
                "add a transition `... -> {}`, or remove the state",
                st.name
            ))
        };
        cx.diags.push(d);
    }
    let mut stuck = vec![false; nl];
    for (li, &leaf) in p.leaves.iter().enumerate() {
        let st = p.state(leaf);
        if !reached[li] || st.is_final {
            continue;
        }
        if applicable[li] == 0 {
            stuck[li] = true;
            cx.diags.push(
                Diagnostic::error(st.span, format!("state `{}` is a dead end", st.name))
                    .label("no message is legal here, and it is not final")
                    .help(format!(
                        "add a transition out of `{}`, or make it `final`",
                        st.name
                    )),
            );
        } else if leaving[li] == 0 {
            stuck[li] = true;
            cx.diags.push(
                Diagnostic::warning(st.span, format!("state `{}` can never be left", st.name))
                    .label("no transition leads out of it")
                    .help("add a transition to another state, or make it `final` if the protocol ends here"),
            );
        }
    }
    // Termination: every reachable state should be able to reach a final state.
    let finals: Vec<usize> = (0..nl).filter(|&l| p.state(p.leaves[l]).is_final).collect();
    if finals.is_empty() {
        return;
    }
    let mut pred: Vec<Vec<u32>> = vec![Vec::new(); nl];
    for (l, ns) in succ.iter().enumerate() {
        if p.state(p.leaves[l]).is_final {
            continue;
        }
        for &n in ns {
            pred[n as usize].push(l as u32);
        }
    }
    let mut can_end = vec![false; nl];
    let mut stack = finals.clone();
    for &f in &finals {
        can_end[f] = true;
    }
    while let Some(l) = stack.pop() {
        for &q in &pred[l] {
            if !can_end[q as usize] {
                can_end[q as usize] = true;
                stack.push(q as usize);
            }
        }
    }
    let trapped: Vec<usize> = (0..nl)
        .filter(|&l| reached[l] && !can_end[l] && !stuck[l])
        .collect();
    if let Some(&first) = trapped.first() {
        let names: Vec<String> = trapped
            .iter()
            .map(|&l| format!("`{}`", p.state(p.leaves[l]).name))
            .collect();
        cx.diags.push(
            Diagnostic::warning(
                p.state(p.leaves[first]).span,
                format!(
                    "the protocol can never terminate once it reaches `{}`",
                    p.state(p.leaves[first]).name
                ),
            )
            .label("no final state is reachable from here")
            .note(format!(
                "states that cannot reach a final state: {}",
                names.join(", ")
            )),
        );
    }
}

fn timeouts(cx: &mut Context<'_>, data: &ProtoData<'_>) {
    let p = &data.ir;
    let declared = by_state(p);
    // exits[s]: a transition declared in s or below it leaves s.
    let mut exits = vec![false; p.states.len()];
    for t in &p.transitions {
        let Some(target) = t.target else { continue };
        for a in p.ancestors(t.source) {
            if !p.is_within(target, a) {
                exits[a.0 as usize] = true;
            }
        }
    }
    for (si, st) in p.states.iter().enumerate() {
        let Some(timeout) = st.timeout_us else {
            continue;
        };
        let id = StateId(si as u32);
        let inherited = p.ancestors(id).skip(1).any(|a| {
            declared[a.0 as usize]
                .iter()
                .any(|&t| p.transitions[t].target.is_some_and(|x| !p.is_within(x, id)))
        });
        let span = data.state_asts[si].timeout.map_or(st.span, |t| t.span);
        if !exits[si] && !inherited && !st.is_final {
            cx.diags.push(
                Diagnostic::error(
                    span,
                    format!("timeout on state `{}`, which cannot be left", st.name),
                )
                .label("this timeout would always expire")
                .help("add a transition to a state outside it, or remove the timeout"),
            );
        }
        for &t in &declared[si] {
            if let Trigger::After(after) = p.transitions[t].trigger
                && after >= timeout
            {
                cx.diags.push(
                    Diagnostic::warning(
                        p.transitions[t].span,
                        "this `after` cannot fire before the state times out",
                    )
                    .label("the state's timeout expires first")
                    .with(span, "timeout"),
                );
            }
        }
    }
}

fn determinism(cx: &mut Context<'_>, protos: &Protocols<'_>, data: &ProtoData<'_>) {
    let p = &data.ir;
    let declared = by_state(p);
    for list in &declared {
        let mut groups: HashMap<Trigger, Vec<usize>> = HashMap::new();
        for &t in list {
            groups.entry(p.transitions[t].trigger).or_default().push(t);
        }
        let mut groups: Vec<Vec<usize>> = groups.into_values().filter(|g| g.len() > 1).collect();
        groups.sort();
        for group in groups {
            for (j, &tj) in group.iter().enumerate() {
                let b = &p.transitions[tj];
                for &ti in &group[..j] {
                    let a = &p.transitions[ti];
                    let d = match (&a.guard, &b.guard) {
                        (None, None) => Diagnostic::error(
                            b.span,
                            "two transitions with the same trigger and no guard",
                        )
                        .label("second transition")
                        .with(a.span, "first transition")
                        .help("add guards that tell them apart, or remove one")
                        .note("a protocol must be deterministic: one message, one next state"),
                        (None, Some(_)) => {
                            Diagnostic::error(b.span, "this transition can never fire")
                                .label("shadowed")
                                .with(
                                    a.span,
                                    "this unguarded transition with the same trigger always wins",
                                )
                                .help("move the guarded transition above the unguarded one")
                        }
                        (Some(x), Some(y)) if x == y => Diagnostic::error(
                            b.span,
                            "two transitions with the same trigger and the same guard",
                        )
                        .label("second transition")
                        .with(a.span, "first transition")
                        .note("a protocol must be deterministic: one message, one next state"),
                        (Some(x), Some(y)) if may_overlap(protos, p, x, y) => Diagnostic::warning(
                            b.span,
                            "the guards of these transitions may overlap",
                        )
                        .label("second transition")
                        .with(a.span, "first transition")
                        .note("when both guards hold, the first in source order wins")
                        .help("make the guards exclusive, e.g. `[n > 0]` and `[n == 0]`"),
                        _ => continue,
                    };
                    cx.diags.push(d);
                    break;
                }
            }
        }
    }
}

/// A term a guard constrains.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Term {
    Var(u32),
    Arg(u32),
}

/// What a conjunct of a guard says.
enum Atom {
    /// `term op constant`
    Cmp(Term, BinaryOp, i64),
    /// A boolean term and its required value.
    Flag(Term, bool),
    /// `dep in state`, positive or negated.
    In(u32, StateId, bool),
    /// Anything else: proves nothing.
    Other,
}

fn conjuncts<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match e {
        Expr::Binary(BinaryOp::And, a, b) => {
            conjuncts(a, out);
            conjuncts(b, out);
        }
        other => out.push(other),
    }
}

fn term(e: &Expr) -> Option<Term> {
    match e {
        Expr::Var(v) => Some(Term::Var(*v)),
        Expr::Arg(a) => Some(Term::Arg(*a)),
        _ => None,
    }
}

fn negate(op: BinaryOp) -> Option<BinaryOp> {
    use BinaryOp::*;
    Some(match op {
        Eq => Ne,
        Ne => Eq,
        Lt => Ge,
        Le => Gt,
        Gt => Le,
        Ge => Lt,
        _ => return None,
    })
}

fn flip(op: BinaryOp) -> BinaryOp {
    use BinaryOp::*;
    match op {
        Lt => Gt,
        Le => Ge,
        Gt => Lt,
        Ge => Le,
        other => other,
    }
}

fn atom(e: &Expr, positive: bool) -> Atom {
    match e {
        Expr::Unary(UnaryOp::Not, inner) => atom(inner, !positive),
        Expr::InState(d, s) => Atom::In(*d, *s, positive),
        Expr::Var(_) | Expr::Arg(_) => Atom::Flag(term(e).unwrap_or(Term::Var(0)), positive),
        Expr::Binary(op, a, b) => {
            let (t, c, op) = match (term(a), &**b, term(b), &**a) {
                (Some(t), Expr::Const(c), _, _) => (t, *c, *op),
                (_, _, Some(t), Expr::Const(c)) => (t, *c, flip(*op)),
                _ => return Atom::Other,
            };
            let op = if positive { Some(op) } else { negate(op) };
            match op {
                Some(op) if op.precedence() == 3 => Atom::Cmp(t, op, c),
                _ => Atom::Other,
            }
        }
        _ => Atom::Other,
    }
}

/// Whether two guards might both hold. Conservative: `true` unless some
/// conjunct of one contradicts a conjunct of the other.
fn may_overlap(protos: &Protocols<'_>, p: &ir::Protocol, x: &Expr, y: &Expr) -> bool {
    let mut list = Vec::new();
    conjuncts(x, &mut list);
    conjuncts(y, &mut list);
    let atoms: Vec<Atom> = list.into_iter().map(|e| atom(e, true)).collect();
    // Integer constraints per term: [lo, hi] minus excluded points.
    let mut ranges: HashMap<Term, (i64, i64, Vec<i64>)> = HashMap::new();
    let mut flags: HashMap<Term, bool> = HashMap::new();
    let mut ins: Vec<(u32, StateId, bool)> = Vec::new();
    for a in &atoms {
        match *a {
            Atom::Cmp(t, op, c) => {
                let r = ranges.entry(t).or_insert((i64::MIN, i64::MAX, Vec::new()));
                match op {
                    BinaryOp::Eq => {
                        r.0 = r.0.max(c);
                        r.1 = r.1.min(c);
                    }
                    BinaryOp::Ne => r.2.push(c),
                    BinaryOp::Lt => r.1 = r.1.min(c.saturating_sub(1)),
                    BinaryOp::Le => r.1 = r.1.min(c),
                    BinaryOp::Gt => r.0 = r.0.max(c.saturating_add(1)),
                    BinaryOp::Ge => r.0 = r.0.max(c),
                    _ => {}
                }
            }
            Atom::Flag(t, v) => {
                if flags.insert(t, v).is_some_and(|old| old != v) {
                    return false;
                }
            }
            Atom::In(d, s, v) => ins.push((d, s, v)),
            Atom::Other => {}
        }
    }
    for (lo, hi, excluded) in ranges.values() {
        if lo > hi {
            return false;
        }
        if (hi - lo) < 64 {
            let all_excluded = (*lo..=*hi).all(|v| excluded.contains(&v));
            if all_excluded {
                return false;
            }
        }
    }
    for (i, &(d1, s1, v1)) in ins.iter().enumerate() {
        for &(d2, s2, v2) in &ins[i + 1..] {
            if d1 != d2 {
                continue;
            }
            let dep = &protos.get(p.dependencies[d1 as usize].protocol).ir;
            let contradiction = match (v1, v2) {
                (true, true) => !dep.is_within(s1, s2) && !dep.is_within(s2, s1),
                (true, false) => dep.is_within(s1, s2),
                (false, true) => dep.is_within(s2, s1),
                (false, false) => false,
            };
            if contradiction {
                return false;
            }
        }
    }
    true
}

fn unused(cx: &mut Context<'_>, data: &ProtoData<'_>) {
    let p = &data.ir;
    let ast = data.ast;
    let has_states = ast.states.is_some();
    let mut used_labels = vec![false; p.labels.len()];
    let mut used_deps = vec![false; p.dependencies.len()];
    let mut used_vars = vec![false; p.variables.len()];
    fn walk(e: &Expr, deps: &mut [bool], vars: &mut [bool]) {
        match e {
            Expr::Var(v) => vars[*v as usize] = true,
            Expr::InState(d, _) => deps[*d as usize] = true,
            Expr::Unary(_, a) => walk(a, deps, vars),
            Expr::Binary(_, a, b) => {
                walk(a, deps, vars);
                walk(b, deps, vars);
            }
            Expr::Const(_) | Expr::Arg(_) => {}
        }
    }
    for t in &p.transitions {
        if let Trigger::Label(l) = t.trigger {
            used_labels[l.0 as usize] = true;
            if let Label::Dep(d, _) = p.labels[l.0 as usize] {
                used_deps[d as usize] = true;
            }
        }
        if let Some(g) = &t.guard {
            walk(g, &mut used_deps, &mut used_vars);
        }
        for a in &t.actions {
            walk(&a.value, &mut used_deps, &mut used_vars);
        }
    }
    if has_states {
        for (m, msg) in p.messages.iter().enumerate() {
            if !used_labels[m] {
                let span = ast
                    .messages
                    .iter()
                    .find(|x| x.name.name == msg.name)
                    .map_or(p.span, |x| x.name.span);
                cx.diags.push(
                    Diagnostic::warning(span, format!("message `{}` is never legal", msg.name))
                        .label("no transition names it")
                        .help(format!(
                            "add a `{}{}` transition, or remove the message",
                            msg.direction.sigil(),
                            msg.name
                        )),
                );
            }
        }
    }
    for (d, dep) in p.dependencies.iter().enumerate() {
        if !used_deps[d] {
            cx.diags.push(
                Diagnostic::warning(
                    data.dep_spans[d],
                    format!("dependency `{}` is never used", dep.name),
                )
                .label("no trigger or guard names it")
                .help("remove it"),
            );
        }
    }
    for (v, var) in p.variables.iter().enumerate() {
        let assigned = p
            .transitions
            .iter()
            .any(|t| t.actions.iter().any(|a| a.variable == v as u32));
        if !used_vars[v] && !assigned {
            let span = ast
                .variables
                .iter()
                .find(|x| x.name.name == var.name)
                .map_or(p.span, |x| x.name.span);
            cx.diags.push(
                Diagnostic::warning(span, format!("variable `{}` is never used", var.name))
                    .label("no guard or action names it")
                    .help("remove it"),
            );
        }
    }
}
