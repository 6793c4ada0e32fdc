//! Protocol passes: headers (dependencies, messages, variables), state
//! trees, and transitions (triggers, guards, actions, targets).

use super::did_you_mean;
use super::exprs::{self, Scope, assignable};
use super::names::{Context, Global};
use crate::diagnostic::Diagnostic;
use crate::ir::{self, Label, LabelId, MessageId, ProtocolId, StateId, Type};
use crate::span::{FileId, Span};
use crate::syntax::ast::{self, Direction};
use std::collections::HashMap;

/// A protocol while it is being checked.
pub(crate) struct ProtoData<'a> {
    pub file: FileId,
    pub ast: &'a ast::Protocol,
    pub ir: ir::Protocol,
    /// No error was reported inside this protocol.
    pub clean: bool,
    /// The syntax of each state, by `StateId`.
    pub state_asts: Vec<&'a ast::State>,
    pub state_names: HashMap<&'a str, StateId>,
    /// The syntax of each transition, by `TransitionId`.
    pub transition_asts: Vec<&'a ast::Transition>,
    /// Dependency spans, by dependency index.
    pub dep_spans: Vec<Span>,
    /// Whether the dependency's protocol resolved.
    pub deps_resolved: bool,
    /// Per message, per parameter: its type did not resolve (already
    /// reported; uses of the argument are not checked, to avoid cascades).
    pub bad_params: Vec<Vec<bool>>,
    /// Per variable: its type did not resolve (already reported).
    pub bad_vars: Vec<bool>,
}

pub(crate) struct Protocols<'a> {
    pub list: Vec<ProtoData<'a>>,
}

impl<'a> Protocols<'a> {
    pub fn new(cx: &mut Context<'a>) -> Protocols<'a> {
        let list = cx
            .protocols
            .iter()
            .map(|&(file, ast)| ProtoData {
                file,
                ast,
                ir: ir::Protocol::empty(ast.name.name.clone(), ast.docs.clone(), ast.name.span),
                // A syntax error inside the protocol leaves its tree partial:
                // its analyses would report the parts that are missing.
                clean: !cx.lib.load_errors.iter().any(|e| {
                    e.file == ast.span.file && ast.span.start <= e.start && e.start < ast.span.end
                }),
                state_asts: Vec::new(),
                state_names: HashMap::new(),
                transition_asts: Vec::new(),
                dep_spans: Vec::new(),
                deps_resolved: true,
                bad_params: Vec::new(),
                bad_vars: Vec::new(),
            })
            .collect::<Vec<ProtoData<'a>>>();
        // Diagnostics show port types by protocol name before the model's
        // protocols are final: give the model named shells until then.
        cx.model.protocols = list.iter().map(|p| p.ir.clone()).collect();
        Protocols { list }
    }

    pub fn get(&self, id: ProtocolId) -> &ProtoData<'a> {
        &self.list[id.0 as usize]
    }

    pub fn into_ir(self) -> Vec<ir::Protocol> {
        self.list.into_iter().map(|p| p.ir).collect()
    }

    /// Runs `f` on each protocol, marking it unclean if `f` reported errors.
    fn each(
        &mut self,
        cx: &mut Context<'a>,
        mut f: impl FnMut(&mut Context<'a>, &Protocols<'a>, usize) -> ProtoData<'a>,
    ) {
        for i in 0..self.list.len() {
            let before = cx.diags.error_count();
            let mut updated = f(cx, self, i);
            if cx.diags.error_count() > before {
                updated.clean = false;
            }
            self.list[i] = updated;
        }
    }

    // ---- pass 1: headers --------------------------------------------------------

    pub fn headers(&mut self, cx: &mut Context<'a>) {
        self.each(cx, |cx, all, i| {
            let mut p = all.list[i].clone_shell();
            header(cx, &mut p);
            p
        });
    }

    // ---- pass 2: state trees ----------------------------------------------------

    pub fn state_trees(&mut self, cx: &mut Context<'a>) {
        self.each(cx, |cx, all, i| {
            let mut p = all.list[i].clone_shell();
            state_tree(cx, &mut p);
            p
        });
    }

    // ---- pass 3: transitions ----------------------------------------------------

    pub fn transitions(&mut self, cx: &mut Context<'a>) {
        self.each(cx, |cx, all, i| {
            let mut p = all.list[i].clone_shell();
            transitions(cx, all, &mut p);
            p.ir.build_tables();
            p
        });
    }
}

impl<'a> ProtoData<'a> {
    /// A copy to work on while the others are read.
    fn clone_shell(&self) -> ProtoData<'a> {
        ProtoData {
            file: self.file,
            ast: self.ast,
            ir: self.ir.clone(),
            clean: self.clean,
            state_asts: self.state_asts.clone(),
            state_names: self.state_names.clone(),
            transition_asts: self.transition_asts.clone(),
            dep_spans: self.dep_spans.clone(),
            deps_resolved: self.deps_resolved,
            bad_params: self.bad_params.clone(),
            bad_vars: self.bad_vars.clone(),
        }
    }
}

fn duplicate(cx: &mut Context<'_>, what: &str, second: &ast::Ident, first: Span) {
    cx.diags.push(
        Diagnostic::error(second.span, format!("duplicate {what} `{}`", second.name))
            .label("declared again here")
            .with(first, "first declared here"),
    );
}

fn header<'a>(cx: &mut Context<'a>, p: &mut ProtoData<'a>) {
    let ast = p.ast;
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for dep in &ast.dependencies {
        if let Some(&first) = seen.get(dep.name.name.as_str()) {
            duplicate(cx, "dependency", &dep.name, first);
            continue;
        }
        seen.insert(&dep.name.name, dep.name.span);
        match cx.lookup(p.file, &dep.protocol.name) {
            Some(Global::Protocol(id)) => {
                p.ir.dependencies.push(ir::Dependency {
                    name: dep.name.name.clone(),
                    protocol: id,
                });
                p.dep_spans.push(dep.name.span);
            }
            other => {
                p.deps_resolved = false;
                let d = match other {
                    Some(_) => Diagnostic::error(
                        dep.protocol.span,
                        format!("`{}` is not a protocol", dep.protocol.name),
                    )
                    .label("a dependency must name a protocol"),
                    None => {
                        let protocols: Vec<&str> = cx
                            .protocols
                            .iter()
                            .map(|(_, a)| a.name.name.as_str())
                            .collect();
                        let d = Diagnostic::error(
                            dep.protocol.span,
                            format!("unknown protocol `{}`", dep.protocol.name),
                        )
                        .label("no such protocol");
                        did_you_mean(d, &dep.protocol.name, protocols)
                    }
                };
                cx.diags.push(d);
            }
        }
    }
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for m in &ast.messages {
        if let Some(&first) = seen.get(m.name.name.as_str()) {
            duplicate(cx, "message", &m.name, first);
            continue;
        }
        seen.insert(&m.name.name, m.name.span);
        let mut params = Vec::new();
        let mut spawns = None;
        let mut param_names: HashMap<&str, Span> = HashMap::new();
        let mut bad = Vec::new();
        for (i, param) in m.params.iter().enumerate() {
            if let Some(&first) = param_names.get(param.name.name.as_str()) {
                duplicate(cx, "parameter", &param.name, first);
            }
            param_names.insert(&param.name.name, param.name.span);
            let ty = cx.resolve_type(p.file, &param.ty, true);
            bad.push(ty.is_none());
            let ty = ty.unwrap_or(Type::Bool);
            if let Type::Port(proto) = ty {
                if let Some((first, _)) = spawns {
                    let first: &ast::Param = &m.params[first];
                    cx.diags.push(
                        Diagnostic::error(param.ty.span, "a message can spawn at most one subport")
                            .label("second subport")
                            .with(first.ty.span, "first subport"),
                    );
                } else {
                    spawns = Some((i, proto));
                }
            }
            params.push(ir::Param {
                name: param.name.name.clone(),
                ty,
            });
        }
        p.bad_params.push(bad);
        p.ir.messages.push(ir::Message {
            name: m.name.name.clone(),
            direction: m.direction,
            concurrent: m.concurrent,
            params,
            spawns,
            docs: m.docs.clone(),
        });
    }
    // The alphabet starts with the protocol's own messages: LabelId == MessageId.
    p.ir.labels = (0..p.ir.messages.len())
        .map(|i| Label::Own(MessageId(i as u32)))
        .collect();
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for v in &ast.variables {
        if let Some(&first) = seen.get(v.name.name.as_str()) {
            duplicate(cx, "variable", &v.name, first);
            continue;
        }
        seen.insert(&v.name.name, v.name.span);
        if let Some(g) = cx.lookup(p.file, &v.name.name)
            && matches!(g, Global::Const(_) | Global::Variant(..))
        {
            let what = match g {
                Global::Const(_) => "a constant",
                _ => "an enum variant",
            };
            cx.diags.push(
                Diagnostic::error(
                    v.name.span,
                    format!("variable `{}` has the name of {what}", v.name.name),
                )
                .label("shadows a global name")
                .help("rename the variable"),
            );
        }
        let resolved = cx.resolve_type(p.file, &v.ty, false);
        p.bad_vars.push(resolved.is_none());
        let Some(ty) = resolved else {
            p.ir.variables.push(ir::Variable {
                name: v.name.name.clone(),
                ty: Type::Bool,
                init: 0,
            });
            continue;
        };
        if let Type::Opaque(_) = ty {
            cx.diags.push(
                Diagnostic::error(v.ty.span, "variables cannot hold opaque handles")
                    .label("opaque type")
                    .note("opaque values can be compared in guards, but not stored"),
            );
        }
        let init = match &v.init {
            None => match ty {
                Type::Enum(e) => cx.model.enums[e as usize]
                    .variants
                    .first()
                    .map_or(0, |x| x.1),
                _ => 0,
            },
            Some(e) => match cx.const_expr(p.file, e) {
                Some((vty, value)) => {
                    if !assignable(ty, vty) {
                        let (want, got) = (cx.model.show_type(&ty), cx.model.show_type(&vty));
                        cx.diags.push(
                            Diagnostic::error(e.span, "mismatched types")
                                .label(format!("expected `{want}`, found `{got}`")),
                        );
                    } else if let Type::Int(int) = ty {
                        check_range(cx, int, value, e.span);
                    }
                    value
                }
                None => 0,
            },
        };
        p.ir.variables.push(ir::Variable {
            name: v.name.name.clone(),
            ty,
            init,
        });
    }
}

fn check_range(cx: &mut Context<'_>, int: ir::IntType, value: i64, span: Span) {
    let (lo, hi) = int.range();
    if value < lo || value > hi {
        cx.diags.push(
            Diagnostic::error(span, format!("{value} does not fit in `{}`", int.name()))
                .label(format!("the range of `{}` is {lo}..={hi}", int.name())),
        );
    }
}

fn state_tree<'a>(cx: &mut Context<'a>, p: &mut ProtoData<'a>) {
    let Some(states) = &p.ast.states else { return };
    if states.is_empty() {
        cx.diags.push(
            Diagnostic::error(
                p.ast.name.span,
                format!(
                    "protocol `{}` has an empty `states:` section",
                    p.ast.name.name
                ),
            )
            .label("no states")
            .help("add an `initial state`, or remove `states:` to allow every message at any time"),
        );
        return;
    }
    let top = add_states(cx, p, states, None, 0);
    let declared = states.iter().any(|s| s.initial);
    if let Some(initial) = pick_initial(cx, p, &top, declared, p.ast.name.span, "protocol") {
        p.ir.initial_leaf = Some(p.ir.entry_leaf(initial));
    }
}

/// Adds `states` (siblings) and their descendants in preorder; returns their ids.
fn add_states<'a>(
    cx: &mut Context<'a>,
    p: &mut ProtoData<'a>,
    states: impl IntoIterator<Item = &'a ast::State>,
    parent: Option<StateId>,
    depth: u32,
) -> Vec<StateId> {
    let mut ids = Vec::new();
    for s in states {
        if let Some(&first) = p.state_names.get(s.name.name.as_str()) {
            let first_span = p.ir.state(first).span;
            duplicate(cx, "state", &s.name, first_span);
            continue;
        }
        let id = StateId(p.ir.states.len() as u32);
        p.state_names.insert(&s.name.name, id);
        p.state_asts.push(s);
        if let Some(t) = &s.timeout
            && t.micros() == 0
        {
            cx.diags.push(
                Diagnostic::error(t.span, "a timeout must be longer than zero").label("zero"),
            );
        }
        p.ir.states.push(ir::State {
            name: s.name.name.clone(),
            parent,
            children: Vec::new(),
            initial_child: None,
            depth,
            timeout_us: s.timeout.map(|t| t.micros()).filter(|&t| t > 0),
            is_final: s.is_final,
            leaf_index: None,
            docs: s.docs.clone(),
            span: s.name.span,
        });
        if s.is_final {
            if s.initial {
                cx.diags.push(
                    Diagnostic::error(
                        s.name.span,
                        format!("state `{}` is both initial and final", s.name.name),
                    )
                    .label("an instance would terminate before its first message"),
                );
            }
            if parent.is_some() {
                cx.diags.push(
                    Diagnostic::error(s.name.span, format!("final state `{}` is nested", s.name.name))
                        .label("final states must be at the top level")
                        .help("move it out of its super-state; reaching a final state terminates the whole instance"),
                );
            }
            if let Some(t) = &s.timeout {
                cx.diags.push(
                    Diagnostic::error(t.span, format!("timeout on final state `{}`", s.name.name))
                        .label(
                            "a final state can never be left, so this timeout would always expire",
                        )
                        .help("remove the timeout"),
                );
            }
            if let Some(first) = s.body.iter().flatten().next() {
                let span = match first {
                    ast::Member::State(c) => c.name.span,
                    ast::Member::Transition(t) => t.span,
                };
                cx.diags.push(
                    Diagnostic::error(span, format!("final state `{}` has a body", s.name.name))
                        .label("nothing can happen in a final state")
                        .help(format!("write `final state {};`", s.name.name)),
                );
            }
        }
        let children = add_states(cx, p, s.children(), Some(id), depth + 1);
        p.ir.states[id.0 as usize].children = children.clone();
        if children.is_empty() {
            p.ir.states[id.0 as usize].leaf_index = Some(p.ir.leaves.len() as u32);
            p.ir.leaves.push(id);
        } else if !s.is_final {
            let declared = s.children().any(|c| c.initial);
            let initial = pick_initial(cx, p, &children, declared, s.name.span, "state");
            p.ir.states[id.0 as usize].initial_child = initial;
        }
        ids.push(id);
    }
    ids
}

/// Finds the one `initial` state among siblings, reporting none or several.
/// `declared`: some sibling is marked `initial` in the source (it may have
/// been dropped as a duplicate, which was reported already).
fn pick_initial(
    cx: &mut Context<'_>,
    p: &ProtoData<'_>,
    siblings: &[StateId],
    declared: bool,
    owner: Span,
    what: &str,
) -> Option<StateId> {
    let initials: Vec<StateId> = siblings
        .iter()
        .copied()
        .filter(|s| p.state_asts[s.0 as usize].initial)
        .collect();
    match initials.as_slice() {
        [one] => Some(*one),
        [] if declared => siblings.first().copied(),
        [] => {
            let first = siblings
                .first()
                .map(|s| p.ir.state(*s).name.clone())
                .unwrap_or_default();
            let d = if what == "protocol" {
                Diagnostic::error(
                    owner,
                    format!(
                        "protocol `{}` has no initial state",
                        cx.lib.sources.snippet(owner)
                    ),
                )
                .label("no state is marked `initial`")
            } else {
                Diagnostic::error(
                    owner,
                    format!(
                        "super-state `{}` has no initial sub-state",
                        cx.lib.sources.snippet(owner)
                    ),
                )
                .label("none of its sub-states is marked `initial`")
            };
            cx.diags
                .push(d.help(format!("mark one `initial`, e.g. `initial state {first}`")));
            siblings.first().copied()
        }
        [first, second, ..] => {
            cx.diags.push(
                Diagnostic::error(p.ir.state(*second).span, "more than one initial state")
                    .label("second `initial`")
                    .with(p.ir.state(*first).span, "first `initial`")
                    .note("each level of a statechart has exactly one initial state"),
            );
            Some(*first)
        }
    }
}

fn transitions<'a>(cx: &mut Context<'a>, all: &Protocols<'a>, p: &mut ProtoData<'a>) {
    let variables: Vec<(&str, Type)> =
        p.ir.variables
            .iter()
            .map(|v| (v.name.as_str(), v.ty))
            .collect();
    let variables: Vec<(String, Type)> = variables
        .into_iter()
        .map(|(n, t)| (n.to_string(), t))
        .collect();
    let dep_names: Vec<String> = p.ir.dependencies.iter().map(|d| d.name.clone()).collect();
    for sid in 0..p.state_asts.len() {
        let state_ast = p.state_asts[sid];
        for t in state_ast.transitions() {
            let Some((trigger, binder_types)) = trigger(cx, all, p, &t.trigger) else {
                continue;
            };
            let binders: Vec<(Option<&ast::Ident>, Type)> = match t.trigger.args() {
                Some(args) => args
                    .iter()
                    .zip(binder_types.iter())
                    .map(|(a, ty)| ((a.name != "_").then_some(a), *ty))
                    .collect(),
                None => Vec::new(),
            };
            check_binders(cx, t.trigger.args().unwrap_or(&[]), &variables);
            // Names whose type did not resolve (reported already): guards
            // and actions that use them are not checked further.
            let bad_params: &[bool] = match trigger {
                ir::Trigger::Label(l) => match p.ir.labels[l.0 as usize] {
                    Label::Own(m) => &p.bad_params[m.0 as usize],
                    Label::Dep(d, m) => {
                        &all.get(p.ir.dependencies[d as usize].protocol).bad_params[m.0 as usize]
                    }
                },
                ir::Trigger::After(_) => &[],
            };
            let poisoned: Vec<&str> = (variables.iter().zip(&p.bad_vars))
                .filter(|(_, bad)| **bad)
                .map(|((n, _), _)| n.as_str())
                .chain(
                    (t.trigger.args().unwrap_or(&[]).iter().zip(bad_params))
                        .filter(|(_, bad)| **bad)
                        .map(|(a, _)| a.name.as_str()),
                )
                .collect();
            let var_refs: Vec<(&str, Type)> =
                variables.iter().map(|(n, t)| (n.as_str(), *t)).collect();
            let dep_refs: Vec<&str> = dep_names.iter().map(String::as_str).collect();
            let scope = Scope {
                file: p.file,
                binders: &binders,
                variables: &var_refs,
                dependencies: &dep_refs,
            };
            let lookup = |d: usize, path: &[ast::Ident]| dep_state(all, &p.ir, d, path);
            let guard = t.guard.as_ref().and_then(|g| {
                if mentions(g, &poisoned) {
                    return None;
                }
                let (ir, ty) = exprs::typecheck_with(cx, &scope, g, &lookup)?;
                if ty != Type::Bool {
                    let found = cx.model.show_type(&ty);
                    cx.diags.push(
                        Diagnostic::error(g.span, "a guard must be a `bool`")
                            .label(format!("this is `{found}`"))
                            .help("compare it, e.g. `[x > 0]`"),
                    );
                    return None;
                }
                Some(ir)
            });
            let mut actions = Vec::new();
            for a in &t.actions {
                if poisoned.contains(&a.variable.name.as_str()) || mentions(&a.value, &poisoned) {
                    continue;
                }
                if let Some(action) = action(cx, &scope, &lookup, a) {
                    actions.push(action);
                }
            }
            let target =
                t.target
                    .as_ref()
                    .and_then(|name| match p.state_names.get(name.name.as_str()) {
                        Some(&s) => Some(s),
                        None => {
                            let d = Diagnostic::error(
                                name.span,
                                format!("unknown state `{}`", name.name),
                            )
                            .label("no state of this protocol has this name");
                            cx.diags.push(did_you_mean(
                                d,
                                &name.name,
                                p.state_names.keys().copied(),
                            ));
                            None
                        }
                    });
            if t.target.is_some() && target.is_none() {
                continue;
            }
            let text = cx
                .lib
                .sources
                .snippet(t.span)
                .trim_end_matches(';')
                .trim()
                .to_string();
            p.transition_asts.push(t);
            p.ir.transitions.push(ir::Transition {
                source: StateId(sid as u32),
                trigger,
                guard,
                actions,
                target,
                target_leaf: target.map(|s| p.ir.entry_leaf(s)),
                span: t.span,
                text,
            });
        }
    }
}

/// Whether `e` names one of `names`.
fn mentions(e: &ast::Expr, names: &[&str]) -> bool {
    match &e.kind {
        ast::ExprKind::Name(n) => names.contains(&n.name.as_str()),
        ast::ExprKind::Unary(_, a) => mentions(a, names),
        ast::ExprKind::Binary(_, a, b) => mentions(a, names) || mentions(b, names),
        _ => false,
    }
}

/// Resolves a trigger to a label (interning dependency labels) and the types
/// of its arguments.
fn trigger<'a>(
    cx: &mut Context<'a>,
    all: &Protocols<'a>,
    p: &mut ProtoData<'a>,
    trigger: &ast::Trigger,
) -> Option<(ir::Trigger, Vec<Type>)> {
    let (label, params, name, args): (Label, Vec<Type>, &ast::Ident, _) = match trigger {
        ast::Trigger::After(d) => {
            if d.micros() == 0 {
                cx.diags.push(
                    Diagnostic::error(d.span, "`after` needs a duration longer than zero")
                        .label("zero"),
                );
                return None;
            }
            return Some((ir::Trigger::After(d.micros()), Vec::new()));
        }
        ast::Trigger::Message {
            direction,
            message,
            args,
        } => {
            let Some(m) = p.ir.message(&message.name) else {
                let d =
                    Diagnostic::error(message.span, format!("unknown message `{}`", message.name))
                        .label(format!("`{}` declares no such message", p.ir.name));
                let d = did_you_mean(
                    d,
                    &message.name,
                    p.ir.messages.iter().map(|m| m.name.as_str()),
                );
                let d = match p
                    .ir
                    .dependencies
                    .iter()
                    .find(|dep| all.get(dep.protocol).ir.message(&message.name).is_some())
                {
                    Some(dep) if d.help.is_none() => d.help(format!(
                        "`{}` is a message of dependency `{}`: write `{}.{}`",
                        message.name, dep.name, dep.name, message.name
                    )),
                    _ => d,
                };
                cx.diags.push(d);
                return None;
            };
            let msg = &p.ir.messages[m.0 as usize];
            if msg.direction != *direction {
                let (declared, sigil) = (msg.direction.keyword(), msg.direction.sigil());
                let meaning = match direction {
                    Direction::In => "`?` receives a message from the environment",
                    Direction::Out => "`!` sends a message to the environment",
                };
                cx.diags.push(
                    Diagnostic::error(
                        message.span,
                        format!("`{}` is an `{declared}` message", message.name),
                    )
                    .label(format!(
                        "{meaning}, but `{}` goes the other way",
                        message.name
                    ))
                    .help(format!("write `{sigil}{}`", message.name)),
                );
                return None;
            }
            let params = msg.params.iter().map(|p| p.ty).collect();
            (Label::Own(m), params, message, args)
        }
        ast::Trigger::Dependency {
            dependency,
            message,
            args,
        } => {
            let Some(d) =
                p.ir.dependencies
                    .iter()
                    .position(|d| d.name == dependency.name)
            else {
                if !p.deps_resolved {
                    return None; // already reported
                }
                let diag = Diagnostic::error(
                    dependency.span,
                    format!("unknown dependency `{}`", dependency.name),
                )
                .label("not declared under `dependencies:`");
                let diag = did_you_mean(
                    diag,
                    &dependency.name,
                    p.ir.dependencies.iter().map(|d| d.name.as_str()),
                );
                let diag = if diag.help.is_none() {
                    diag.help(format!(
                        "declare it: `dependencies: SomeProtocol {};`",
                        dependency.name
                    ))
                } else {
                    diag
                };
                cx.diags.push(diag);
                return None;
            };
            let dep_proto = &all.get(p.ir.dependencies[d].protocol).ir;
            let Some(m) = dep_proto.message(&message.name) else {
                let diag =
                    Diagnostic::error(message.span, format!("unknown message `{}`", message.name))
                        .label(format!("`{}` declares no such message", dep_proto.name));
                cx.diags.push(did_you_mean(
                    diag,
                    &message.name,
                    dep_proto.messages.iter().map(|m| m.name.as_str()),
                ));
                return None;
            };
            let params = dep_proto.messages[m.0 as usize]
                .params
                .iter()
                .map(|p| p.ty)
                .collect();
            (Label::Dep(d as u32, m), params, message, args)
        }
    };
    if let Some(args) = args
        && args.len() != params.len()
    {
        let declared: Vec<String> = match label {
            Label::Own(m) => p.ir.messages[m.0 as usize]
                .params
                .iter()
                .map(|x| x.name.clone())
                .collect(),
            Label::Dep(d, m) => all.get(p.ir.dependencies[d as usize].protocol).ir.messages
                [m.0 as usize]
                .params
                .iter()
                .map(|x| x.name.clone())
                .collect(),
        };
        let span = args.first().map_or(name.span, |a| {
            a.span.to(args.last().map_or(a.span, |l| l.span))
        });
        let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
        cx.diags.push(
            Diagnostic::error(
                span,
                format!(
                    "`{}` has {}, but {} bound here",
                    name.name,
                    plural(params.len(), "parameter"),
                    plural(args.len(), "name"),
                ),
            )
            .label("wrong number of arguments")
            .help(format!(
                "bind all of them, `{}({})`, or none, `{}`",
                name.name,
                declared.join(", "),
                name.name
            )),
        );
        return None;
    }
    let id = match p.ir.label(label) {
        Some(id) => id,
        None => {
            p.ir.labels.push(label);
            LabelId(p.ir.labels.len() as u32 - 1)
        }
    };
    Some((ir::Trigger::Label(id), params))
}

fn check_binders(cx: &mut Context<'_>, args: &[ast::Ident], variables: &[(String, Type)]) {
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for a in args {
        if a.name == "_" {
            continue;
        }
        if let Some(&first) = seen.get(a.name.as_str()) {
            duplicate(cx, "argument name", a, first);
        }
        seen.insert(&a.name, a.span);
        if variables.iter().any(|(v, _)| *v == a.name) {
            cx.diags.push(
                Diagnostic::error(
                    a.span,
                    format!("argument `{}` has the name of a variable", a.name),
                )
                .label("would hide the variable in the guard and actions")
                .help("rename the argument"),
            );
        }
    }
}

fn action(
    cx: &mut Context<'_>,
    scope: &Scope<'_>,
    lookup: exprs::StateLookup<'_>,
    a: &ast::Action,
) -> Option<ir::Action> {
    let Some(var) = scope
        .variables
        .iter()
        .position(|(v, _)| *v == a.variable.name)
    else {
        let is_arg = scope
            .binders
            .iter()
            .any(|(b, _)| b.is_some_and(|b| b.name == a.variable.name));
        let d = if is_arg {
            Diagnostic::error(
                a.variable.span,
                format!("cannot assign to argument `{}`", a.variable.name),
            )
            .label("arguments are read-only")
            .help("declare a variable under `variables:` and assign that")
        } else {
            let d = Diagnostic::error(
                a.variable.span,
                format!("unknown variable `{}`", a.variable.name),
            )
            .label("not declared under `variables:`");
            did_you_mean(d, &a.variable.name, scope.variables.iter().map(|(v, _)| *v))
        };
        cx.diags.push(d);
        return None;
    };
    let var_ty = scope.variables[var].1;
    let (value, ty) = exprs::typecheck_with(cx, scope, &a.value, lookup)?;
    if a.op != ast::AssignOp::Set && !matches!(var_ty, Type::Int(_)) {
        let shown = cx.model.show_type(&var_ty);
        cx.diags.push(
            Diagnostic::error(
                a.variable.span,
                format!("`{}` needs an integer variable", a.op.symbol()),
            )
            .label(format!("`{}` is a `{shown}`", a.variable.name)),
        );
        return None;
    }
    let want = if a.op == ast::AssignOp::Set {
        var_ty
    } else {
        Type::Int(ir::IntType::I64)
    };
    if !assignable(want, ty) {
        let (w, g) = (cx.model.show_type(&want), cx.model.show_type(&ty));
        cx.diags.push(
            Diagnostic::error(a.value.span, "mismatched types")
                .label(format!("expected `{w}`, found `{g}`"))
                .with(
                    a.variable.span,
                    format!(
                        "`{}` is a `{}`",
                        a.variable.name,
                        cx.model.show_type(&var_ty)
                    ),
                ),
        );
        return None;
    }
    if let (ir::Expr::Const(v), Type::Int(int), ast::AssignOp::Set) = (&value, var_ty, a.op) {
        check_range(cx, int, *v, a.value.span);
    }
    Some(ir::Action {
        variable: var as u32,
        op: a.op,
        value,
    })
}

/// Resolves `dep in a.b` to a state of the dependency's protocol.
fn dep_state(
    all: &Protocols<'_>,
    me: &ir::Protocol,
    dep: usize,
    path: &[ast::Ident],
) -> Result<StateId, Box<Diagnostic>> {
    let proto = &all.get(me.dependencies[dep].protocol).ir;
    let mut found: Option<StateId> = None;
    for name in path {
        let Some(s) = proto.state_named(&name.name) else {
            let d = Diagnostic::error(name.span, format!("unknown state `{}`", name.name))
                .label(format!("`{}` has no such state", proto.name));
            return Err(Box::new(did_you_mean(
                d,
                &name.name,
                proto.states.iter().map(|s| s.name.as_str()),
            )));
        };
        if path.len() == 1 {
            return Ok(s);
        }
        if proto.state(s).parent != found {
            let parent = found.map_or("the top level".to_string(), |f| {
                format!("`{}`", proto.state(f).name)
            });
            return Err(Box::new(
                Diagnostic::error(
                    name.span,
                    format!("`{}` is not a sub-state of {parent}", name.name),
                )
                .label("wrong path")
                .help(format!(
                    "the full path is `{}`; a bare state name also works",
                    proto.path(s)
                )),
            ));
        }
        found = Some(s);
    }
    found.ok_or_else(|| Box::new(Diagnostic::error(Span::default(), "empty state path")))
}
