//! The pretty-printer: a syntax tree back to canonical Tingu source.
//!
//! The output parses back to an equal tree (spans aside), and printing is a
//! fixpoint: `print(parse(print(f))) == print(f)`. Layout is fixed: four-space
//! indents, one declaration per line, sections (`dependencies:`, `messages:`,
//! `variables:`, `states:`, `ports:`) at the indentation of their declaration
//! with their members one level deeper, and expressions with the fewest
//! parentheses that keep their meaning. Plain comments are not part of the
//! tree and so are not printed; `///` doc comments are.

use super::ast::*;
use std::fmt::Write as _;

const INDENT: &str = "    ";

/// Prints a file as canonical Tingu source.
///
/// Items are separated by a blank line, except consecutive imports, which are
/// kept together. Empty `dependencies:`, `messages:`, `variables:` and
/// `ports:` sections are left out; a `states:` section is printed whenever the
/// protocol has one (`Some`), even an empty one.
///
/// The tree is taken to be one the parser could have produced: names are
/// not keywords, doc lines hold no line break and no trailing blanks, import
/// paths hold no `"` or line break, and integers are at most `i64::MAX`.
/// Trees that break these rules print, but do not parse back equal.
pub fn print(file: &File) -> String {
    let mut p = Printer::default();
    let mut prev: Option<&Item> = None;
    for item in &file.items {
        if let Some(prev) = prev
            && !(matches!(prev, Item::Import(_)) && matches!(item, Item::Import(_)))
        {
            p.out.push('\n');
        }
        p.item(item);
        prev = Some(item);
    }
    p.out
}

/// Prints an expression on one line, with the fewest parentheses that keep
/// its meaning under Tingu's precedence rules: binary operators associate to
/// the left, comparisons do not chain, and prefix operators bind tighter than
/// any binary operator.
pub fn print_expr(expr: &Expr) -> String {
    let mut out = String::new();
    write_expr(&mut out, expr);
    out
}

fn is_comparison(op: BinaryOp) -> bool {
    use BinaryOp::*;
    matches!(op, Eq | Ne | Lt | Le | Gt | Ge)
}

fn write_expr(out: &mut String, expr: &Expr) {
    match &expr.kind {
        ExprKind::Int(v) => {
            let _ = write!(out, "{v}");
        }
        ExprKind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        ExprKind::Name(name) => out.push_str(&name.name),
        ExprKind::Unary(op, operand) => {
            out.push_str(match op {
                UnaryOp::Neg => "-",
                UnaryOp::Not => "!",
            });
            let paren = matches!(operand.kind, ExprKind::Binary(..));
            write_operand(out, operand, paren);
        }
        ExprKind::Binary(op, lhs, rhs) => {
            let prec = op.precedence();
            // Left operand: looser operators need parentheses; an equal one
            // associates by itself, except that comparisons never chain.
            let lhs_paren = match lhs.kind {
                ExprKind::Binary(inner, ..) => {
                    inner.precedence() < prec || (is_comparison(*op) && is_comparison(inner))
                }
                _ => false,
            };
            // Right operand: everything left-associates, so an operator of
            // equal precedence on the right needs parentheses too.
            let rhs_paren = match rhs.kind {
                ExprKind::Binary(inner, ..) => inner.precedence() <= prec,
                _ => false,
            };
            write_operand(out, lhs, lhs_paren);
            out.push(' ');
            out.push_str(op.symbol());
            out.push(' ');
            write_operand(out, rhs, rhs_paren);
        }
        ExprKind::InState { dependency, path } => {
            out.push_str(&dependency.name);
            out.push_str(" in ");
            write_joined(out, path, ".");
        }
    }
}

fn write_operand(out: &mut String, expr: &Expr, paren: bool) {
    if paren {
        out.push('(');
        write_expr(out, expr);
        out.push(')');
    } else {
        write_expr(out, expr);
    }
}

fn write_joined(out: &mut String, names: &[Ident], sep: &str) {
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        out.push_str(&name.name);
    }
}

/// `(a, b)`, or nothing for `None`.
fn write_binders(out: &mut String, names: Option<&[Ident]>) {
    if let Some(names) = names {
        out.push('(');
        write_joined(out, names, ", ");
        out.push(')');
    }
}

#[derive(Default)]
struct Printer {
    out: String,
    depth: usize,
}

impl Printer {
    /// Writes one line at the current indentation.
    fn line(&mut self, text: &str) {
        for _ in 0..self.depth {
            self.out.push_str(INDENT);
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn docs(&mut self, docs: &Docs) {
        for doc in docs {
            if doc.is_empty() {
                self.line("///");
            } else {
                self.line(&format!("/// {doc}"));
            }
        }
    }

    /// `head {`, the body one level deeper, `}`; `head {}` when empty.
    fn block(&mut self, head: &str, empty: bool, body: impl FnOnce(&mut Printer)) {
        if empty {
            self.line(&format!("{head} {{}}"));
        } else {
            self.line(&format!("{head} {{"));
            body(self);
            self.line("}");
        }
    }

    /// A `name:` section header with its members one level deeper.
    fn section<T>(&mut self, name: &str, members: &[T], mut one: impl FnMut(&mut Printer, &T)) {
        self.line(&format!("{name}:"));
        self.depth += 1;
        for m in members {
            one(self, m);
        }
        self.depth -= 1;
    }

    fn item(&mut self, item: &Item) {
        match item {
            Item::Import(i) => self.line(&format!("import \"{}\";", i.path)),
            Item::Enum(e) => {
                self.docs(&e.docs);
                self.block(
                    &format!("enum {}", e.name.name),
                    e.variants.is_empty(),
                    |p| {
                        p.depth += 1;
                        for v in &e.variants {
                            match &v.value {
                                Some(value) => {
                                    p.line(&format!("{} = {},", v.name.name, print_expr(value)))
                                }
                                None => p.line(&format!("{},", v.name.name)),
                            }
                        }
                        p.depth -= 1;
                    },
                );
            }
            Item::TypeAlias(t) => {
                self.docs(&t.docs);
                self.line(&format!("type {} = {};", t.name.name, t.ty.name));
            }
            Item::Opaque(o) => {
                self.docs(&o.docs);
                self.line(&format!("opaque {};", o.name.name));
            }
            Item::Const(c) => {
                self.docs(&c.docs);
                self.line(&format!(
                    "const {} {} = {};",
                    c.ty.name,
                    c.name.name,
                    print_expr(&c.value)
                ));
            }
            Item::Protocol(p) => self.protocol(p),
            Item::Component(c) => {
                self.docs(&c.docs);
                self.block(
                    &format!("component {}", c.name.name),
                    c.ports.is_empty(),
                    |p| p.section("ports", &c.ports, Printer::port),
                );
            }
        }
    }

    fn protocol(&mut self, proto: &Protocol) {
        self.docs(&proto.docs);
        let empty = proto.dependencies.is_empty()
            && proto.messages.is_empty()
            && proto.variables.is_empty()
            && proto.states.is_none();
        self.block(&format!("protocol {}", proto.name.name), empty, |p| {
            if !proto.dependencies.is_empty() {
                p.section("dependencies", &proto.dependencies, |p, d| {
                    p.line(&format!("{} {};", d.protocol.name, d.name.name))
                });
            }
            if !proto.messages.is_empty() {
                p.section("messages", &proto.messages, Printer::message);
            }
            if !proto.variables.is_empty() {
                p.section("variables", &proto.variables, |p, v| match &v.init {
                    Some(init) => p.line(&format!(
                        "{} {} = {};",
                        v.ty.name,
                        v.name.name,
                        print_expr(init)
                    )),
                    None => p.line(&format!("{} {};", v.ty.name, v.name.name)),
                });
            }
            if let Some(states) = &proto.states {
                p.section("states", states, Printer::state);
            }
        });
    }

    fn message(&mut self, m: &Message) {
        self.docs(&m.docs);
        let mut s = String::new();
        if m.concurrent {
            s.push_str("concurrent ");
        }
        let _ = write!(s, "{} {}(", m.direction.keyword(), m.name.name);
        for (i, param) in m.params.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            let _ = write!(s, "{} {}", param.ty.name, param.name.name);
        }
        s.push_str(");");
        self.line(&s);
    }

    fn state(&mut self, state: &State) {
        self.docs(&state.docs);
        let mut head = String::new();
        if state.initial {
            head.push_str("initial ");
        }
        if state.is_final {
            head.push_str("final ");
        }
        head.push_str("state ");
        head.push_str(&state.name.name);
        if let Some(timeout) = &state.timeout {
            let _ = write!(head, " [{timeout}]");
        }
        match &state.body {
            None => self.line(&format!("{head};")),
            Some(body) => self.block(&head, body.is_empty(), |p| {
                p.depth += 1;
                for member in body {
                    match member {
                        Member::State(s) => p.state(s),
                        Member::Transition(t) => p.transition(t),
                    }
                }
                p.depth -= 1;
            }),
        }
    }

    fn transition(&mut self, t: &Transition) {
        let mut s = String::new();
        match &t.trigger {
            Trigger::Message {
                direction,
                message,
                args,
            } => {
                s.push_str(direction.sigil());
                s.push_str(&message.name);
                write_binders(&mut s, args.as_deref());
            }
            Trigger::Dependency {
                dependency,
                message,
                args,
            } => {
                let _ = write!(s, "{}.{}", dependency.name, message.name);
                write_binders(&mut s, args.as_deref());
            }
            Trigger::After(d) => {
                let _ = write!(s, "after({d})");
            }
        }
        if let Some(guard) = &t.guard {
            s.push_str(" [");
            write_expr(&mut s, guard);
            s.push(']');
        }
        for (i, action) in t.actions.iter().enumerate() {
            s.push_str(if i == 0 { " / " } else { ", " });
            let _ = write!(s, "{} {} ", action.variable.name, action.op.symbol());
            write_expr(&mut s, &action.value);
        }
        if let Some(target) = &t.target {
            s.push_str(" -> ");
            s.push_str(&target.name);
        }
        s.push(';');
        self.line(&s);
    }

    fn port(&mut self, port: &Port) {
        let mut s = String::new();
        if port.mirror {
            s.push_str("mirror ");
        }
        let _ = write!(s, "{} {}", port.protocol.name, port.name.name);
        write_binders(&mut s, port.bindings.as_deref());
        s.push(';');
        self.line(&s);
    }
}
