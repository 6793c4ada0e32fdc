//! The generated file: one `ProtocolCode` per protocol, the backend, the
//! embedded sources and `model()`.

use crate::expr::{Args, Compiler, Cond, Errors, Int, arg_locals, literal, mentions};
use crate::out::Out;
use std::collections::BTreeMap;
use tingu::ir::{self, Expr, IntType, LabelId, Model, Protocol, StateId, Trigger, Type};
use tingu::syntax::ast::{AssignOp, BinaryOp, UnaryOp};

/// One line of text for a comment.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The Rust name of a protocol's code.
fn struct_name(p: &Protocol) -> String {
    format!("{}Code", p.name)
}

/// A Rust string literal holding `text` exactly: raw when possible.
pub(crate) fn string_literal(text: &str) -> String {
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return format!("{text:?}");
    }
    let mut hashes = 1;
    let mut run: Option<usize> = None;
    for ch in text.chars() {
        run = match (ch, run) {
            ('"', _) => Some(0),
            ('#', Some(n)) => Some(n + 1),
            _ => None,
        };
        if let Some(n) = run {
            hashes = hashes.max(n + 1);
        }
    }
    let h = "#".repeat(hashes);
    format!("r{h}\"{text}\"{h}")
}

/// Renders an expression as Tingu source, for comments.
struct Shower<'a> {
    model: &'a Model,
    p: &'a Protocol,
    params: &'a [String],
}

impl Shower<'_> {
    fn show(&self, e: &Expr, outer: u8) -> String {
        let (text, prec) = match e {
            Expr::Const(c) => (literal(*c).replace('_', ""), 7),
            Expr::Var(i) => (self.p.variables[*i as usize].name.clone(), 7),
            Expr::Arg(i) => (
                self.params
                    .get(*i as usize)
                    .cloned()
                    .unwrap_or_else(|| format!("arg{i}")),
                7,
            ),
            Expr::InState(d, s) => {
                let dep = &self.p.dependencies[*d as usize];
                let path = self.model.proto(dep.protocol).path(*s);
                (format!("{} in {path}", dep.name), 7)
            }
            Expr::Unary(op, x) => {
                let sym = if *op == UnaryOp::Neg { "-" } else { "!" };
                (format!("{sym}{}", self.show(x, 6)), 6)
            }
            Expr::Binary(op, a, b) => {
                let (prec, sym) = match op {
                    BinaryOp::Or => (1, "||"),
                    BinaryOp::And => (2, "&&"),
                    BinaryOp::Eq => (3, "=="),
                    BinaryOp::Ne => (3, "!="),
                    BinaryOp::Lt => (3, "<"),
                    BinaryOp::Le => (3, "<="),
                    BinaryOp::Gt => (3, ">"),
                    BinaryOp::Ge => (3, ">="),
                    BinaryOp::Add => (4, "+"),
                    BinaryOp::Sub => (4, "-"),
                    BinaryOp::Mul => (5, "*"),
                    BinaryOp::Div => (5, "/"),
                    BinaryOp::Rem => (5, "%"),
                };
                // Left-associative, except comparisons, which do not chain.
                let left = if prec == 3 { prec + 1 } else { prec };
                let text = format!("{} {sym} {}", self.show(a, left), self.show(b, prec + 1));
                (text, prec)
            }
        };
        if prec < outer {
            format!("({text})")
        } else {
            text
        }
    }
}

fn transition_comment(p: &Protocol, t: u32) -> String {
    let tr = &p.transitions[t as usize];
    format!("// #{t} in {}: `{}`", p.path(tr.source), one_line(&tr.text))
}

/// The parameter names of a label's message.
fn label_params(model: &Model, p: &Protocol, l: LabelId) -> Vec<String> {
    let msg = match p.labels[l.0 as usize] {
        ir::Label::Own(m) => &p.messages[m.0 as usize],
        ir::Label::Dep(d, m) => {
            &model.proto(p.dependencies[d as usize].protocol).messages[m.0 as usize]
        }
    };
    msg.params.iter().map(|x| x.name.clone()).collect()
}

/// The parameter names of the message that triggers a transition.
fn trigger_params(model: &Model, p: &Protocol, t: &ir::Transition) -> Vec<String> {
    match t.trigger {
        Trigger::Label(l) => label_params(model, p, l),
        Trigger::After(_) => Vec::new(),
    }
}

/// The test that a new value `v` does not fit the type, if the type needs
/// one (not `i64`, not enums: the interpreter checks neither).
fn out_of_range(ty: Type) -> Option<String> {
    match ty {
        Type::Bool => Some("!(0..=1).contains(&v)".into()),
        Type::Int(IntType::I64) => None,
        Type::Int(IntType::U64) => Some("v < 0".into()),
        Type::Int(int) => {
            let (lo, hi) = int.range();
            Some(format!("!({}..={}).contains(&v)", literal(lo), literal(hi)))
        }
        _ => None,
    }
}

fn fits(ty: Type, v: i64) -> bool {
    match ty {
        Type::Int(int) => {
            let (lo, hi) = int.range();
            (lo..=hi).contains(&v)
        }
        Type::Bool => v == 0 || v == 1,
        _ => true,
    }
}

/// `1 | 3..=5`: a pattern for these increasing numbers.
fn or_pattern(numbers: &[u32]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < numbers.len() {
        let mut j = i;
        while j + 1 < numbers.len() && numbers[j + 1] == numbers[j] + 1 {
            j += 1;
        }
        match j - i {
            0 => parts.push(numbers[i].to_string()),
            1 => parts.push(format!("{} | {}", numbers[i], numbers[j])),
            _ => parts.push(format!("{}..={}", numbers[i], numbers[j])),
        }
        i = j + 1;
    }
    parts.join(" | ")
}

/// The lines of `out` since `start`.
fn lines_since(out: &Out, start: usize) -> Vec<String> {
    out.text[start..].lines().map(str::to_string).collect()
}

/// A generated trait method: its doc, signature (parameters the body does
/// not read get a leading `_`), the imports its body needs, and the body.
struct Method<'a> {
    doc: &'a [&'a str],
    name: &'a str,
    /// `(name, type)`, after `&self`.
    params: &'a [(&'a str, &'a str)],
    ret: &'a str,
    body: Vec<String>,
}

const IMPORTS: [(&str, &str); 5] = [
    ("ActionError", "::tingu_observer::code::ActionError"),
    ("EvalError", "::tingu::ir::EvalError"),
    ("LabelId", "::tingu::ir::LabelId"),
    ("StateId", "::tingu::ir::StateId"),
    ("TransitionId", "::tingu::ir::TransitionId"),
];

impl Method<'_> {
    fn write(&self, out: &mut Out) {
        for d in self.doc {
            out.line(format!("/// {d}"));
        }
        out.open(format!("fn {}(", self.name));
        out.line("&self,");
        for (name, ty) in self.params {
            let read = mentions(&self.body, name);
            out.line(format!("{}{name}: {ty},", if read { "" } else { "_" }));
        }
        out.close(format!(") -> {} {{", self.ret));
        out.indent += 1;
        for (name, path) in IMPORTS {
            if mentions(&self.body, name) {
                out.line(format!("use {path};"));
            }
        }
        out.lines(&self.body);
        out.indent -= 1;
        out.line("}");
    }
}

/// `(leaf state number, label number)`: what `select` matches on.
type Pair = (u32, u32);

struct ProtoGen<'a> {
    model: &'a Model,
    p: &'a Protocol,
    file: &'a str,
}

impl ProtoGen<'_> {
    /// The body of a `select` arm for these candidates, or `None` when no
    /// candidate can ever be enabled.
    fn select_arm(&self, cands: &[ir::TransitionId], params: &[String]) -> Option<Vec<String>> {
        let mut cx = Compiler::new(Errors::Eval, Args::Slice, arg_locals(params, params.len()));
        let mut lines = Vec::new();
        let mut enabled = false;
        let mut unconditional = false;
        for &t in cands {
            let tr = &self.p.transitions[t.0 as usize];
            lines.push(transition_comment(self.p, t.0));
            let cond = match &tr.guard {
                None => Cond::Const(true),
                Some(g) => cx.cond(g, false),
            };
            // Temporaries run even when the guard is known: they can fail.
            lines.extend(cx.take_pre());
            match cond {
                Cond::Const(true) => {
                    lines.push(format!("Ok(Some(TransitionId({})))", t.0));
                    enabled = true;
                    unconditional = true;
                    break;
                }
                Cond::Const(false) => lines.push("// (its guard is always false)".into()),
                c => {
                    lines.push(format!("if {} {{", c.plain()));
                    lines.push(format!("    return Ok(Some(TransitionId({})));", t.0));
                    lines.push("}".into());
                    enabled = true;
                }
            }
        }
        if !enabled && !lines.iter().any(|l| l.starts_with("let ")) {
            return None;
        }
        if !unconditional {
            lines.push("Ok(None)".into());
        }
        let mut body = cx.arg_bindings(&lines);
        body.extend(lines);
        Some(body)
    }

    fn select(&self, out: &mut Out) {
        let p = self.p;
        // Pairs with the same arm (an inherited transition, say) share it:
        // body -> pairs, in order of first appearance.
        let mut arms: Vec<(Vec<String>, Vec<Pair>)> = Vec::new();
        let mut index: BTreeMap<Vec<String>, usize> = BTreeMap::new();
        for &leaf in &p.leaves {
            for l in 0..p.labels.len() as u32 {
                let cands = p.candidates(leaf, LabelId(l));
                if cands.is_empty() {
                    continue;
                }
                let params = label_params(self.model, p, LabelId(l));
                let Some(body) = self.select_arm(cands, &params) else {
                    continue;
                };
                match index.get(&body) {
                    Some(&i) => arms[i].1.push((leaf.0, l)),
                    None => {
                        index.insert(body.clone(), arms.len());
                        arms.push((body, vec![(leaf.0, l)]));
                    }
                }
            }
        }
        let mut body = Out::default();
        if arms.is_empty() {
            body.line("Ok(None)");
        } else {
            body.open("match (leaf.0, label.0) {");
            for (lines, pairs) in &arms {
                let mut by_label: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
                for &(leaf, label) in pairs {
                    by_label.entry(label).or_default().push(leaf);
                }
                let mut patterns = Vec::new();
                for (&label, leaves) in &by_label {
                    patterns.push(format!("({}, {label})", or_pattern(leaves)));
                    let names: Vec<String> = leaves.iter().map(|s| p.path(StateId(*s))).collect();
                    body.line(format!(
                        "// message {} in state {}",
                        p.label_text(self.model, LabelId(label)),
                        names.join(", ")
                    ));
                }
                let pattern = patterns.join(" | ");
                if let [comment, single] = lines.as_slice()
                    && !single.starts_with("//")
                {
                    body.line(comment);
                    body.line(format!("{pattern} => {single},"));
                } else {
                    body.open(format!("{pattern} => {{"));
                    body.lines(lines);
                    body.close("}");
                }
            }
            body.line("_ => Ok(None),");
            body.close("}");
        }
        Method {
            doc: &[
                "The first enabled transition for `label` in `leaf`: the candidates",
                "of the pair, innermost state first, then in source order.",
            ],
            name: "select",
            params: &[
                ("leaf", "::tingu::ir::StateId"),
                ("label", "::tingu::ir::LabelId"),
                ("vars", "&[i64]"),
                ("args", "&[i64]"),
                ("deps", "::tingu_observer::code::DepStates<'_>"),
            ],
            ret: "Result<Option<::tingu::ir::TransitionId>, ::tingu::ir::EvalError>",
            body: lines_since(&body, 0),
        }
        .write(out);
    }

    fn timed_guard(&self, out: &mut Out) {
        let p = self.p;
        let mut timed: Vec<u32> = p.timed.iter().flatten().map(|t| t.0).collect();
        timed.sort_unstable();
        timed.dedup();
        let mut body = Out::default();
        let mut arms = 0;
        for t in timed {
            let Some(g) = &p.transitions[t as usize].guard else {
                continue;
            };
            let mut cx = Compiler::new(Errors::Eval, Args::Zero, Vec::new());
            let c = cx.cond(g, false);
            let pre = cx.take_pre();
            if c == Cond::Const(true) && pre.is_empty() {
                continue;
            }
            if arms == 0 {
                body.open("match t.0 {");
            }
            arms += 1;
            body.line(transition_comment(p, t));
            if pre.is_empty() {
                body.line(format!("{t} => Ok({}),", c.plain()));
            } else {
                body.open(format!("{t} => {{"));
                body.lines(&pre);
                body.line(format!("Ok({})", c.plain()));
                body.close("}");
            }
        }
        if arms == 0 {
            body.line("Ok(true)");
        } else {
            body.line("_ => Ok(true),");
            body.close("}");
        }
        Method {
            doc: &[
                "Whether the guard of the timed (`after`) transition `t` holds.",
                "There is no message: arguments read as 0.",
            ],
            name: "timed_guard",
            params: &[
                ("t", "::tingu::ir::TransitionId"),
                ("vars", "&[i64]"),
                ("deps", "::tingu_observer::code::DepStates<'_>"),
            ],
            ret: "Result<bool, ::tingu::ir::EvalError>",
            body: lines_since(&body, 0),
        }
        .write(out);
    }

    /// The statements of one action (after those of the previous ones, so
    /// that it sees the values they stored).
    fn action(&self, a: &ir::Action, params: &[String], cx: &mut Compiler) -> Vec<String> {
        let var = &self.p.variables[a.variable as usize];
        let i = a.variable;
        let shower = Shower {
            model: self.model,
            p: self.p,
            params,
        };
        let mut lines = vec![format!(
            "// {} {} {}",
            var.name,
            a.op.symbol(),
            shower.show(&a.value, 0)
        )];
        let value = cx.int(&a.value);
        lines.extend(cx.take_pre());
        let check = out_of_range(var.ty);
        match (a.op, &value, &check) {
            (AssignOp::Set, Int::Const(c), _) if fits(var.ty, *c) => {
                lines.push(format!("vars[{i}] = {};", literal(*c)));
                return lines;
            }
            (AssignOp::Set, _, None) => {
                lines.push(format!("vars[{i}] = {};", value.plain()));
                return lines;
            }
            (AssignOp::Set, _, _) => lines.push(format!("let v = {};", value.plain())),
            (op, _, _) => {
                let method = if op == AssignOp::Add {
                    "checked_add"
                } else {
                    "checked_sub"
                };
                let sum = format!(
                    "vars[{i}].{method}({}).ok_or(ActionError::Eval(EvalError::Overflow))?",
                    value.plain()
                );
                if check.is_none() {
                    lines.push(format!("vars[{i}] = {sum};"));
                    return lines;
                }
                lines.push(format!("let v = {sum};"));
            }
        }
        if let Some(check) = check {
            lines.push(format!("if {check} {{"));
            lines.push(format!(
                "    return Err(ActionError::OutOfRange {{ variable: {i}, value: v }});"
            ));
            lines.push("}".into());
        }
        lines.push(format!("vars[{i}] = v;"));
        lines
    }

    fn apply(&self, out: &mut Out) {
        let p = self.p;
        let mut body = Out::default();
        let mut arms = 0;
        for (t, tr) in p.transitions.iter().enumerate() {
            if tr.actions.is_empty() {
                continue;
            }
            if arms == 0 {
                body.open("match t.0 {");
            }
            arms += 1;
            let params = trigger_params(self.model, p, tr);
            let mut cx = Compiler::new(
                Errors::Action,
                Args::Slice,
                arg_locals(&params, params.len()),
            );
            let mut lines = Vec::new();
            for a in &tr.actions {
                lines.extend(self.action(a, &params, &mut cx));
            }
            body.line(transition_comment(p, t as u32));
            body.open(format!("{t} => {{"));
            body.lines(&cx.arg_bindings(&lines));
            body.lines(&lines);
            body.line("Ok(())");
            body.close("}");
        }
        if arms == 0 {
            body.line("Ok(())");
        } else {
            body.line("_ => Ok(()),");
            body.close("}");
        }
        Method {
            doc: &[
                "Runs the actions of `t` left to right on `vars`, with checked",
                "arithmetic and every stored value checked against its type.",
            ],
            name: "apply",
            params: &[
                ("t", "::tingu::ir::TransitionId"),
                ("vars", "&mut [i64]"),
                ("args", "&[i64]"),
                ("deps", "::tingu_observer::code::DepStates<'_>"),
            ],
            ret: "Result<(), ::tingu_observer::code::ActionError>",
            body: lines_since(&body, 0),
        }
        .write(out);
    }

    fn init(&self, out: &mut Out) {
        let p = self.p;
        out.line("/// Writes the initial values of the variables.");
        if p.variables.is_empty() {
            out.line("fn init(&self, _vars: &mut [i64]) {}");
            return;
        }
        out.open("fn init(&self, vars: &mut [i64]) {");
        for (i, v) in p.variables.iter().enumerate() {
            out.line(format!(
                "vars[{i}] = {}; // {}: {}",
                literal(v.init),
                v.name,
                self.model.show_type(&v.ty)
            ));
        }
        out.close("}");
    }

    fn generate(&self, out: &mut Out) {
        let p = self.p;
        let name = struct_name(p);
        out.line(format!("// ---- protocol {} ({})", p.name, self.file));
        out.line("");
        out.line(format!(
            "/// Compiled code of protocol `{}`, declared in `{}`.",
            p.name, self.file
        ));
        out.line("///");
        if p.leaves.is_empty() {
            out.line("/// The protocol has no states: every message is legal at any time.");
        } else {
            let leaves: Vec<String> = p
                .leaves
                .iter()
                .map(|s| format!("`{}` = {}", p.path(*s), s.0))
                .collect();
            out.line(format!(
                "/// Leaves, by state number: {}.",
                leaves.join(", ")
            ));
        }
        if !p.variables.is_empty() {
            let vars: Vec<String> = p
                .variables
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    format!(
                        "`vars[{i}]` = `{}: {}`",
                        v.name,
                        self.model.show_type(&v.ty)
                    )
                })
                .collect();
            out.line(format!("/// Variables: {}.", vars.join(", ")));
        }
        out.line("#[derive(Clone, Copy, Debug, Default)]");
        if name.contains('_') || name.starts_with(|c: char| c.is_ascii_lowercase()) {
            out.line("#[allow(non_camel_case_types)]");
        }
        out.line(format!("pub struct {name};"));
        out.line("");
        out.open(format!("impl {name} {{"));
        out.line("/// The protocol's name in the model.");
        out.line(format!("pub const NAME: &str = {:?};", p.name));
        out.line("/// How many states, labels, transitions and variables the protocol");
        out.line("/// had when this code was generated.");
        out.line(format!(
            "pub const SHAPE: [usize; 4] = [{}, {}, {}, {}];",
            p.states.len(),
            p.labels.len(),
            p.transitions.len(),
            p.variables.len()
        ));
        out.close("}");
        out.line("");
        out.open(format!("impl ::tingu_observer::ProtocolCode for {name} {{"));
        self.init(out);
        out.line("");
        self.select(out);
        out.line("");
        self.timed_guard(out);
        out.line("");
        self.apply(out);
        out.close("}");
        out.line("");
    }
}

/// See [`crate::generate`].
pub(crate) fn generate(model: &Model, sources: &[(String, String)]) -> String {
    let mut out = Out::default();
    let names: Vec<&str> = sources.iter().map(|(n, _)| n.as_str()).collect();
    out.line(format!(
        "// @generated by tingu-build from {} spec file{}: {}.",
        sources.len(),
        if sources.len() == 1 { "" } else { "s" },
        names.join(", ")
    ));
    out.line("// Do not edit: change the specs and rebuild.");
    out.line("//");
    out.line("// For every protocol, a unit struct implementing `ProtocolCode` with flat");
    out.line("// code: `select` matches on (leaf, label) and tests guards in priority");
    out.line("// order; guards and actions are straight-line Rust over `vars[i]`, the");
    out.line("// arguments and `deps(dependency, state)`, with the interpreter's exact");
    out.line("// semantics (checked arithmetic, short circuits, typed stores). Then");
    out.line("// `CompiledBackend`, the embedded sources and `model()`.");
    out.line("");
    let start = out.text.len();
    for p in &model.protocols {
        let file = sources
            .get(p.span.file.0 as usize)
            .map_or("?", |(n, _)| n.as_str());
        ProtoGen { model, p, file }.generate(&mut out);
    }
    let code = lines_since(&out, start);
    generate_helpers(&mut out, &code);
    generate_backend(&mut out, model);
    generate_model(&mut out, sources);
    out.text
}

/// `tingu_div` and `tingu_rem`, where the code calls them.
fn generate_helpers(out: &mut Out, code: &[String]) {
    for (name, op, method) in [
        ("tingu_div", "/", "checked_div"),
        ("tingu_rem", "%", "checked_rem"),
    ] {
        if !mentions(code, name) {
            continue;
        }
        out.line(format!(
            "/// `a {op} b` as Tingu computes it: dividing by zero, then overflowing"
        ));
        out.line(format!("/// (`i64::MIN {op} -1`), are errors."));
        out.line("#[inline]");
        out.open(format!(
            "fn {name}(a: i64, b: i64) -> Result<i64, ::tingu::ir::EvalError> {{"
        ));
        out.open("if b == 0 {");
        out.line("return Err(::tingu::ir::EvalError::DivisionByZero);");
        out.close("}");
        out.line(format!(
            "a.{method}(b).ok_or(::tingu::ir::EvalError::Overflow)"
        ));
        out.close("}");
        out.line("");
    }
}

const MISMATCH: &str = "the model does not come from the specs this code was generated from (use `model()`, or rebuild)";

fn generate_backend(out: &mut Out, model: &Model) {
    out.line("/// The generated code of every protocol, as a `tingu_observer::Backend`:");
    out.line("/// use it in place of `InterpretedBackend`, with the model from [`model`].");
    out.line("#[derive(Clone, Copy, Debug, Default)]");
    out.line("pub struct CompiledBackend;");
    out.line("");
    out.open("impl ::tingu_observer::Backend for CompiledBackend {");
    out.line("/// The generated code of `protocol`, found by its name.");
    out.line("///");
    out.line("/// # Panics");
    out.line("///");
    out.line("/// When the model does not come from the specs this code was generated");
    out.line("/// from (no code for the protocol, or a protocol of another shape): the");
    out.line("/// build and the model disagree, so every id could be wrong.");
    out.open("fn code(");
    out.line("&self,");
    out.line("model: &::std::sync::Arc<::tingu::ir::Model>,");
    out.line("protocol: ::tingu::ir::ProtocolId,");
    out.close(") -> ::std::sync::Arc<dyn ::tingu_observer::ProtocolCode> {");
    out.indent += 1;
    out.line("let p = model.proto(protocol);");
    if model.protocols.is_empty() {
        out.line(format!(
            "panic!(\"compiled observers: no generated code for protocol `{{}}`: {MISMATCH}\", p.name)"
        ));
    } else {
        out.line("let (code, shape): (::std::sync::Arc<dyn ::tingu_observer::ProtocolCode>, [usize; 4]) =");
        out.indent += 1;
        out.open("match p.name.as_str() {");
        for p in &model.protocols {
            let s = struct_name(p);
            out.line(format!(
                "{:?} => (::std::sync::Arc::new({s}), {s}::SHAPE),",
                p.name
            ));
        }
        out.line(format!(
            "name => panic!(\"compiled observers: no generated code for protocol `{{name}}`: {MISMATCH}\"),"
        ));
        out.close("};");
        out.indent -= 1;
        out.line(
            "let found = [p.states.len(), p.labels.len(), p.transitions.len(), p.variables.len()];",
        );
        out.open("assert!(");
        out.line("found == shape,");
        out.line(format!(
            "\"compiled observers: protocol `{{}}` has {{found:?}} states, labels, transitions and variables, but its code was generated for {{shape:?}}: {MISMATCH}\","
        ));
        out.line("p.name");
        out.close(");");
        out.line("code");
    }
    out.indent -= 1;
    out.line("}");
    out.close("}");
    out.line("");
}

fn generate_model(out: &mut Out, sources: &[(String, String)]) {
    out.line("/// The spec files this code was generated from: `(name, text)`, in the");
    out.line("/// order they were loaded, named relative to their folder.");
    out.open("pub const SOURCES: &[(&str, &str)] = &[");
    for (name, text) in sources {
        out.line(format!("({name:?}, {}),", string_literal(text)));
    }
    out.close("];");
    out.line("");
    out.line("/// The checked model of [`SOURCES`], built once: the model whose ids the");
    out.line("/// generated code uses. Give it to the observer with [`CompiledBackend`].");
    out.open("pub fn model() -> ::std::sync::Arc<::tingu::ir::Model> {");
    out.line("static MODEL: ::std::sync::OnceLock<::std::sync::Arc<::tingu::ir::Model>> =");
    out.line("    ::std::sync::OnceLock::new();");
    out.line("MODEL");
    out.indent += 1;
    out.open(".get_or_init(|| {");
    out.line("let (lib, mut diagnostics) = ::tingu::Library::from_sources(SOURCES);");
    out.line("let checked = ::tingu::check(&lib);");
    out.line("diagnostics.extend(checked.diagnostics);");
    out.open("match checked.model {");
    out.line("Some(model) => ::std::sync::Arc::new(model),");
    out.line("None => panic!(");
    out.line("    \"the embedded specs do not check:\\n{}\",");
    out.line("    diagnostics.render(&lib.sources, false)");
    out.line("),");
    out.close("}");
    out.close("})");
    out.line(".clone()");
    out.indent -= 1;
    out.close("}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn or_patterns_use_ranges() {
        assert_eq!(or_pattern(&[3]), "3");
        assert_eq!(or_pattern(&[1, 2, 4]), "1 | 2 | 4");
        assert_eq!(or_pattern(&[0, 2, 3, 4, 5, 9]), "0 | 2..=5 | 9");
    }

    #[test]
    fn raw_strings_get_enough_hashes() {
        assert_eq!(string_literal("a"), "r#\"a\"#");
        assert_eq!(string_literal("import \"x\";"), "r#\"import \"x\";\"#");
        assert_eq!(string_literal("\"#"), "r##\"\"#\"##");
        assert_eq!(string_literal("a\r\nb"), "\"a\\r\\nb\"");
    }

    #[test]
    fn mentions_skip_comments_and_longer_names() {
        let code: Vec<String> = [
            "// EvalError in a comment",
            "Ok(Some(TransitionId(1)))",
            "let x = ActionError::Eval(EvalError::Overflow);",
            "arg_xs + ::a::StateId",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert!(mentions(&code, "TransitionId"));
        assert!(mentions(&code, "EvalError"));
        assert!(mentions(&code, "ActionError"));
        assert!(!mentions(&code, "arg_x"));
        assert!(!mentions(&code, "StateId"));
    }
}
