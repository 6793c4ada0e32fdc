//! Guards and action values compiled to Rust expressions.
//!
//! The output has exactly the semantics of [`tingu::ir::Expr::eval`]: every
//! value is an `i64`; `+ - *` and unary `-` use checked arithmetic and fail
//! with `Overflow`; `/` and `%` fail with `DivisionByZero`, then `Overflow`
//! (`i64::MIN / -1`); `&&` and `||` short-circuit; comparisons and `!` give
//! 0 or 1. Operands are evaluated left to right, so when both sides of an
//! operator fail, the left one's error wins, as in the interpreter.
//!
//! Booleans are compiled as Rust `bool`s where the context wants one (a
//! guard, an operand of `&&`), and as `i64::from(..)` where it wants a
//! number. Constant subexpressions are folded when they evaluate without
//! error; what is left reads `vars[i]`, `args.get(i)..` and `deps(d, s)`.
//! Failing operations end in `?`, so they leave the generated function
//! with the error, exactly where the interpreter would stop.

use tingu::ir::Expr;
use tingu::syntax::ast::{BinaryOp, UnaryOp};

/// Rust operator precedence, loosest first (only the levels generated).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Prec {
    Or,
    And,
    Cmp,
    Mul,
    Unary,
    Postfix,
}

/// A compiled integer expression.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Int {
    /// Known at generation time.
    Const(i64),
    /// Rust code of type `i64`.
    Code {
        text: String,
        prec: Prec,
        /// Whether evaluating it can fail (contains `?`).
        fallible: bool,
    },
}

/// A compiled condition.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Cond {
    /// Known at generation time.
    Const(bool),
    /// Rust code of type `bool`.
    Code {
        text: String,
        prec: Prec,
        /// Whether evaluating it can fail (contains `?`).
        fallible: bool,
    },
}

/// How the generated function returns an evaluation error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Errors {
    /// It returns `Result<_, EvalError>` (`select`, `timed_guard`).
    Eval,
    /// It returns `Result<(), ActionError>` (`apply`).
    Action,
}

/// Where argument values come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Args {
    /// From the `args` slice; missing ones read as 0.
    Slice,
    /// Every argument reads as 0 (timed transitions have no message).
    Zero,
}

/// Compiles expressions for one kind of generated function. What the
/// output reads (arguments, helpers) is found in the final text by the
/// caller, since folding may drop what was compiled.
pub(crate) struct Compiler {
    errors: Errors,
    args: Args,
    /// The local that holds each argument (see [`arg_locals`]).
    arg_names: Vec<String>,
    /// Whether a failing operand may be computed ahead, into a temporary
    /// (not on the right of `&&` and `||`, which may not run).
    hoist: bool,
    /// Statements computing temporaries, to run before the expression.
    pre: Vec<String>,
    temps: usize,
}

impl Compiler {
    pub fn new(errors: Errors, args: Args, arg_names: Vec<String>) -> Compiler {
        Compiler {
            errors,
            args,
            arg_names,
            hoist: true,
            pre: Vec::new(),
            temps: 0,
        }
    }

    /// The statements that must run before the expressions compiled since
    /// the last call (temporaries `let eN = ..?;`, in evaluation order).
    pub fn take_pre(&mut self) -> Vec<String> {
        std::mem::take(&mut self.pre)
    }

    /// An operand of a larger expression: when it can fail, it is computed
    /// ahead into a temporary, which keeps the order of evaluation (operands
    /// are hoisted in post-order, as the interpreter evaluates them).
    fn operand(&mut self, v: Int) -> Int {
        if !self.hoist || !v.fallible() {
            return v;
        }
        let name = format!("e{}", self.temps);
        self.temps += 1;
        self.pre.push(format!("let {name} = {};", v.plain()));
        Int::code(name, Prec::Postfix, false)
    }

    /// Compiles `e` without hoisting: it runs only when a short circuit
    /// lets it.
    fn cond_in_place(&mut self, e: &Expr, negate: bool) -> Cond {
        let saved = self.hoist;
        self.hoist = false;
        let c = self.cond(e, negate);
        self.hoist = saved;
        c
    }

    /// `let` statements binding to their locals the arguments that `code`
    /// reads.
    pub fn arg_bindings(&self, code: &[String]) -> Vec<String> {
        self.arg_names
            .iter()
            .enumerate()
            .filter(|(_, name)| mentions(code, name))
            .map(|(i, name)| format!("let {name} = {};", read_arg(i)))
            .collect()
    }
}

/// Argument `i` of the message, or 0 when the host gave fewer.
pub(crate) fn read_arg(i: usize) -> String {
    if i == 0 {
        "args.first().copied().unwrap_or(0)".into()
    } else {
        format!("args.get({i}).copied().unwrap_or(0)")
    }
}

/// Whether the code lines (not the comments) use the name `word`.
pub(crate) fn mentions(code: &[String], word: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    code.iter()
        .filter(|l| !l.trim_start().starts_with("//"))
        .any(|l| {
            l.match_indices(word).any(|(i, _)| {
                let before = l[..i].chars().next_back();
                let after = l[i + word.len()..].chars().next();
                !before.is_some_and(|c| ident(c) || c == ':') && !after.is_some_and(ident)
            })
        })
}

/// Locals for a message's arguments: `arg_<parameter>`, or `arg<i>` when the
/// parameter's name would not make a plain snake-case Rust name, or a
/// unique one.
pub(crate) fn arg_locals(params: &[String], count: usize) -> Vec<String> {
    let mut names: Vec<String> = (0..count)
        .map(|i| match params.get(i) {
            Some(p)
                if !p.is_empty()
                    && !p.starts_with('_')
                    && !p.ends_with('_')
                    && !p.contains("__")
                    && p.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') =>
            {
                format!("arg_{p}")
            }
            _ => format!("arg{i}"),
        })
        .collect();
    for i in 0..names.len() {
        if names.iter().filter(|n| **n == names[i]).count() > 1 {
            names[i] = format!("arg{i}");
        }
    }
    names
}

impl Int {
    fn code(text: String, prec: Prec, fallible: bool) -> Int {
        Int::Code {
            text,
            prec,
            fallible,
        }
    }

    pub fn fallible(&self) -> bool {
        matches!(self, Int::Code { fallible: true, .. })
    }

    /// As a receiver of a method call: `x`, `(a / 2)`, `5_i64`, `(-5_i64)`.
    pub fn receiver(&self) -> String {
        match self {
            Int::Const(i64::MIN) => "i64::MIN".into(),
            Int::Const(i64::MAX) => "i64::MAX".into(),
            Int::Const(c) if *c < 0 => format!("(-{}_i64)", digits(c.unsigned_abs())),
            Int::Const(c) => format!("{}_i64", digits(c.unsigned_abs())),
            Int::Code { text, prec, .. } if *prec == Prec::Postfix => text.clone(),
            Int::Code { text, .. } => format!("({text})"),
        }
    }

    /// Where any expression may stand: a function argument, `let v = ..`,
    /// an operand of a comparison.
    pub fn plain(&self) -> String {
        match self {
            Int::Const(c) => literal(*c),
            Int::Code { text, .. } => text.clone(),
        }
    }

    /// As the left operand of `*`, `/`, `%`.
    fn mul_operand(&self) -> String {
        match self {
            Int::Code { text, prec, .. } if *prec < Prec::Mul => format!("({text})"),
            other => other.plain(),
        }
    }
}

impl Cond {
    fn code(text: String, prec: Prec, fallible: bool) -> Cond {
        Cond::Code {
            text,
            prec,
            fallible,
        }
    }

    pub fn fallible(&self) -> bool {
        matches!(self, Cond::Code { fallible: true, .. })
    }

    /// The condition as a 0/1 integer.
    fn into_int(self) -> Int {
        match self {
            Cond::Const(b) => Int::Const(b as i64),
            Cond::Code { text, fallible, .. } => {
                Int::code(format!("i64::from({text})"), Prec::Postfix, fallible)
            }
        }
    }

    /// As an operand of an operator of precedence `outer`.
    fn operand(&self, outer: Prec) -> String {
        match self {
            Cond::Const(b) => b.to_string(),
            Cond::Code { text, prec, .. } if *prec < outer => format!("({text})"),
            Cond::Code { text, .. } => text.clone(),
        }
    }

    /// Where any expression may stand (`if ..`, `Ok(..)`).
    pub fn plain(&self) -> String {
        match self {
            Cond::Const(b) => b.to_string(),
            Cond::Code { text, .. } => text.clone(),
        }
    }
}

/// An integer literal, with `_` between thousands when long.
pub(crate) fn literal(c: i64) -> String {
    match c {
        i64::MIN => "i64::MIN".into(),
        i64::MAX => "i64::MAX".into(),
        c if c < 0 => format!("-{}", digits(c.unsigned_abs())),
        c => digits(c.unsigned_abs()),
    }
}

fn digits(v: u64) -> String {
    let s = v.to_string();
    if s.len() <= 5 {
        return s;
    }
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push('_');
        }
        out.push(ch);
    }
    out
}

fn is_comparison(op: BinaryOp) -> bool {
    matches!(
        op,
        BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge
    )
}

fn symbol(op: BinaryOp) -> &'static str {
    match op {
        BinaryOp::Or => "||",
        BinaryOp::And => "&&",
        BinaryOp::Eq => "==",
        BinaryOp::Ne => "!=",
        BinaryOp::Lt => "<",
        BinaryOp::Le => "<=",
        BinaryOp::Gt => ">",
        BinaryOp::Ge => ">=",
        BinaryOp::Add => "+",
        BinaryOp::Sub => "-",
        BinaryOp::Mul => "*",
        BinaryOp::Div => "/",
        BinaryOp::Rem => "%",
    }
}

/// `!(a op b)` as `a op' b`.
fn negated(op: BinaryOp) -> BinaryOp {
    match op {
        BinaryOp::Eq => BinaryOp::Ne,
        BinaryOp::Ne => BinaryOp::Eq,
        BinaryOp::Lt => BinaryOp::Ge,
        BinaryOp::Le => BinaryOp::Gt,
        BinaryOp::Gt => BinaryOp::Le,
        BinaryOp::Ge => BinaryOp::Lt,
        other => other,
    }
}

/// `a op b` as `b op' a`.
fn mirrored(op: BinaryOp) -> BinaryOp {
    match op {
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::Le => BinaryOp::Ge,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::Ge => BinaryOp::Le,
        other => other,
    }
}

fn compare(op: BinaryOp, a: i64, b: i64) -> bool {
    match op {
        BinaryOp::Eq => a == b,
        BinaryOp::Ne => a != b,
        BinaryOp::Lt => a < b,
        BinaryOp::Le => a <= b,
        BinaryOp::Gt => a > b,
        _ => a >= b,
    }
}

/// Folds `a op b` of two constants, when that evaluates without error.
fn fold(op: BinaryOp, a: i64, b: i64) -> Option<i64> {
    Expr::Binary(op, Box::new(Expr::Const(a)), Box::new(Expr::Const(b)))
        .eval(&|_| 0, &|_| 0, &|_, _| false)
        .ok()
}

impl Compiler {
    /// How an overflow is returned.
    fn overflow(&self) -> &'static str {
        match self.errors {
            Errors::Eval => "EvalError::Overflow",
            Errors::Action => "ActionError::Eval(EvalError::Overflow)",
        }
    }

    /// What follows a call returning `Result<i64, EvalError>`.
    fn propagate(&self) -> &'static str {
        match self.errors {
            Errors::Eval => "?",
            Errors::Action => ".map_err(ActionError::Eval)?",
        }
    }

    /// The value of `e` as an `i64`.
    pub fn int(&mut self, e: &Expr) -> Int {
        match e {
            Expr::Const(c) => Int::Const(*c),
            Expr::Var(i) => Int::code(format!("vars[{i}]"), Prec::Postfix, false),
            Expr::Arg(i) => match self.args {
                Args::Slice => {
                    let name = self
                        .arg_names
                        .get(*i as usize)
                        .cloned()
                        .unwrap_or_else(|| read_arg(*i as usize));
                    Int::code(name, Prec::Postfix, false)
                }
                Args::Zero => Int::Const(0),
            },
            Expr::InState(..) | Expr::Unary(UnaryOp::Not, _) => self.cond(e, false).into_int(),
            Expr::Binary(op, ..)
                if is_comparison(*op) || matches!(op, BinaryOp::And | BinaryOp::Or) =>
            {
                self.cond(e, false).into_int()
            }
            Expr::Unary(UnaryOp::Neg, x) => {
                let v = self.int(x);
                let v = self.operand(v);
                if let Int::Const(c) = v
                    && let Some(n) = c.checked_neg()
                {
                    return Int::Const(n);
                }
                Int::code(
                    format!("{}.checked_neg().ok_or({})?", v.receiver(), self.overflow()),
                    Prec::Postfix,
                    true,
                )
            }
            Expr::Binary(op, a, b) => {
                let op = *op;
                let va = self.int(a);
                let va = self.operand(va);
                let vb = self.int(b);
                let vb = self.operand(vb);
                if let (Int::Const(x), Int::Const(y)) = (&va, &vb)
                    && let Some(v) = fold(op, *x, *y)
                {
                    return Int::Const(v);
                }
                match op {
                    BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul => {
                        let method = match op {
                            BinaryOp::Add => "checked_add",
                            BinaryOp::Sub => "checked_sub",
                            _ => "checked_mul",
                        };
                        // A constant left operand of a commutative operator
                        // goes right: it cannot fail, so the order of
                        // evaluation is unchanged, and it reads better.
                        let (va, vb) = match (&va, &vb) {
                            (Int::Const(_), Int::Code { .. }) if op != BinaryOp::Sub => (vb, va),
                            _ => (va, vb),
                        };
                        Int::code(
                            format!(
                                "{}.{method}({}).ok_or({})?",
                                va.receiver(),
                                vb.plain(),
                                self.overflow()
                            ),
                            Prec::Postfix,
                            true,
                        )
                    }
                    _ => {
                        // Division by a constant other than 0, 1 and -1 can
                        // neither divide by zero nor overflow.
                        if let Int::Const(c) = vb
                            && c.unsigned_abs() >= 2
                        {
                            let fallible = va.fallible();
                            return Int::code(
                                format!("{} {} {}", va.mul_operand(), symbol(op), literal(c)),
                                Prec::Mul,
                                fallible,
                            );
                        }
                        let helper = if op == BinaryOp::Div {
                            "tingu_div"
                        } else {
                            "tingu_rem"
                        };
                        Int::code(
                            format!(
                                "{helper}({}, {}){}",
                                va.plain(),
                                vb.plain(),
                                self.propagate()
                            ),
                            Prec::Postfix,
                            true,
                        )
                    }
                }
            }
        }
    }

    /// The truth of `e` (or of `!e` when `negate`) as a `bool`.
    pub fn cond(&mut self, e: &Expr, negate: bool) -> Cond {
        match e {
            Expr::Const(c) => Cond::Const((*c != 0) != negate),
            Expr::Unary(UnaryOp::Not, x) => self.cond(x, !negate),
            Expr::InState(d, s) => {
                let call = format!("deps({d}, StateId({}))", s.0);
                if negate {
                    Cond::code(format!("!{call}"), Prec::Unary, false)
                } else {
                    Cond::code(call, Prec::Postfix, false)
                }
            }
            Expr::Binary(op @ (BinaryOp::And | BinaryOp::Or), a, b) => {
                // De Morgan keeps the order and the short-circuit:
                // `!(a && b)` is `!a || !b`, which skips `b` when `a` is false.
                let conjunction = (*op == BinaryOp::And) != negate;
                let ca = self.cond(a, negate);
                let cb = self.cond_in_place(b, negate);
                if conjunction { and(ca, cb) } else { or(ca, cb) }
            }
            Expr::Binary(op, a, b) if is_comparison(*op) => {
                let op = if negate { negated(*op) } else { *op };
                let va = self.int(a);
                let va = self.operand(va);
                let vb = self.int(b);
                let vb = self.operand(vb);
                comparison(op, va, vb, a == b)
            }
            _ => match self.int(e) {
                Int::Const(c) => Cond::Const((c != 0) != negate),
                v => {
                    let fallible = v.fallible();
                    let op = if negate { "==" } else { "!=" };
                    Cond::code(format!("{} {op} 0", v.plain()), Prec::Cmp, fallible)
                }
            },
        }
    }
}

fn and(a: Cond, b: Cond) -> Cond {
    match (a, b) {
        (Cond::Const(false), _) => Cond::Const(false),
        (Cond::Const(true), b) => b,
        (a, Cond::Const(true)) => a,
        (a, Cond::Const(false)) if !a.fallible() => Cond::Const(false),
        (a, b) => {
            let fallible = a.fallible() || b.fallible();
            Cond::code(
                format!("{} && {}", a.operand(Prec::And), b.operand(Prec::And)),
                Prec::And,
                fallible,
            )
        }
    }
}

fn or(a: Cond, b: Cond) -> Cond {
    match (a, b) {
        (Cond::Const(true), _) => Cond::Const(true),
        (Cond::Const(false), b) => b,
        (a, Cond::Const(false)) => a,
        (a, Cond::Const(true)) if !a.fallible() => Cond::Const(true),
        (a, b) => {
            let fallible = a.fallible() || b.fallible();
            Cond::code(
                format!("{} || {}", a.operand(Prec::Or), b.operand(Prec::Or)),
                Prec::Or,
                fallible,
            )
        }
    }
}

/// `a op b`, folded where the result is known: two constants, the same
/// error-free operand twice, or a bound of `i64` (`x <= i64::MAX`).
fn comparison(op: BinaryOp, a: Int, b: Int, same: bool) -> Cond {
    if let (Int::Const(x), Int::Const(y)) = (&a, &b) {
        return Cond::Const(compare(op, *x, *y));
    }
    if same && !a.fallible() {
        return Cond::Const(matches!(op, BinaryOp::Eq | BinaryOp::Le | BinaryOp::Ge));
    }
    // Put a constant bound on the right: `x op c`.
    let (x, xop, c) = match (&a, &b) {
        (Int::Const(c), _) => (&b, mirrored(op), Some(*c)),
        (_, Int::Const(c)) => (&a, op, Some(*c)),
        _ => (&a, op, None),
    };
    let rewritten = match (c, xop) {
        (Some(i64::MIN), BinaryOp::Lt) | (Some(i64::MAX), BinaryOp::Gt) if !x.fallible() => {
            return Cond::Const(false);
        }
        (Some(i64::MIN), BinaryOp::Ge) | (Some(i64::MAX), BinaryOp::Le) if !x.fallible() => {
            return Cond::Const(true);
        }
        (Some(i64::MIN), BinaryOp::Le) | (Some(i64::MAX), BinaryOp::Ge) => Some(BinaryOp::Eq),
        (Some(i64::MIN), BinaryOp::Gt) | (Some(i64::MAX), BinaryOp::Lt) => Some(BinaryOp::Ne),
        _ => None,
    };
    let (a, b, op) = match (rewritten, c) {
        (Some(new), Some(c)) => (x.clone(), Int::Const(c), new),
        _ => (a, b, op),
    };
    let fallible = a.fallible() || b.fallible();
    Cond::code(
        format!("{} {} {}", a.plain(), symbol(op), b.plain()),
        Prec::Cmp,
        fallible,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tingu::ir::StateId;

    fn c(v: i64) -> Box<Expr> {
        Box::new(Expr::Const(v))
    }
    fn var(i: u32) -> Box<Expr> {
        Box::new(Expr::Var(i))
    }
    fn arg(i: u32) -> Box<Expr> {
        Box::new(Expr::Arg(i))
    }
    fn bin(op: BinaryOp, a: Box<Expr>, b: Box<Expr>) -> Box<Expr> {
        Box::new(Expr::Binary(op, a, b))
    }

    /// A guard's statements and condition, on one line.
    fn guard(e: &Expr) -> String {
        let names = arg_locals(&["a".into(), "b".into()], 2);
        let mut cx = Compiler::new(Errors::Eval, Args::Slice, names);
        let c = cx.cond(e, false).plain();
        let mut out = cx.take_pre();
        out.push(c);
        out.join(" ")
    }

    /// An action value's statements and value, on one line.
    fn value(e: &Expr) -> String {
        let mut cx = Compiler::new(Errors::Action, Args::Slice, Vec::new());
        let v = cx.int(e).plain();
        let mut out = cx.take_pre();
        out.push(v);
        out.join(" ")
    }

    #[test]
    fn comparisons_and_negation() {
        assert_eq!(guard(&bin(BinaryOp::Gt, var(0), c(0))), "vars[0] > 0");
        let not_lt = Expr::Unary(UnaryOp::Not, bin(BinaryOp::Lt, var(0), c(3)));
        assert_eq!(guard(&not_lt), "vars[0] >= 3");
        let not_flag = Expr::Unary(UnaryOp::Not, var(1));
        assert_eq!(guard(&not_flag), "vars[1] == 0");
        let not_and = Expr::Unary(
            UnaryOp::Not,
            bin(
                BinaryOp::And,
                var(1),
                Box::new(Expr::InState(0, StateId(4))),
            ),
        );
        assert_eq!(guard(&not_and), "vars[1] == 0 || !deps(0, StateId(4))");
    }

    #[test]
    fn short_circuit_and_precedence() {
        let e = bin(
            BinaryOp::And,
            bin(BinaryOp::Or, var(0), var(1)),
            bin(
                BinaryOp::Gt,
                bin(BinaryOp::Div, c(10), arg(0)),
                bin(BinaryOp::Rem, arg(1), c(-8)),
            ),
        );
        assert_eq!(
            guard(&e),
            "(vars[0] != 0 || vars[1] != 0) && tingu_div(10, arg_a)? > arg_b % -8"
        );
        // The right of `&&` runs only when the left holds, so nothing is
        // computed ahead out of it; elsewhere, failing operands of larger
        // expressions go to temporaries, in the order they are evaluated.
        let nested = bin(
            BinaryOp::Lt,
            bin(BinaryOp::Add, bin(BinaryOp::Mul, arg(0), c(2)), var(0)),
            c(0),
        );
        assert_eq!(
            guard(&nested),
            "let e0 = arg_a.checked_mul(2).ok_or(EvalError::Overflow)?; \
             let e1 = e0.checked_add(vars[0]).ok_or(EvalError::Overflow)?; e1 < 0"
        );
        let short = bin(BinaryOp::Or, c(0), c(0));
        assert_eq!(guard(&short), "false");
        let guarded = bin(
            BinaryOp::And,
            bin(BinaryOp::Ne, arg(0), c(0)),
            bin(BinaryOp::Gt, bin(BinaryOp::Div, c(10), arg(0)), c(2)),
        );
        assert_eq!(guard(&guarded), "arg_a != 0 && tingu_div(10, arg_a)? > 2");
    }

    #[test]
    fn argument_locals() {
        let params: Vec<String> = ["x", "speedMbps", "_y", "ok_2"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            arg_locals(&params, 5),
            ["arg_x", "arg1", "arg2", "arg_ok_2", "arg4"]
        );
    }

    #[test]
    fn constants_fold() {
        assert_eq!(guard(&bin(BinaryOp::Lt, c(1), c(2))), "true");
        assert_eq!(guard(&bin(BinaryOp::And, c(0), var(0))), "false");
        assert_eq!(guard(&bin(BinaryOp::Le, var(0), c(i64::MAX))), "true");
        assert_eq!(
            guard(&bin(BinaryOp::Ge, c(i64::MIN), var(0))),
            "vars[0] == i64::MIN"
        );
        assert_eq!(guard(&bin(BinaryOp::Eq, var(2), var(2))), "true");
        // An error in a constant stays, to happen at run time.
        assert_eq!(
            value(&bin(BinaryOp::Add, c(i64::MAX), c(1))),
            "i64::MAX.checked_add(1).ok_or(ActionError::Eval(EvalError::Overflow))?"
        );
        assert_eq!(
            value(&bin(BinaryOp::Div, var(0), c(0))),
            "tingu_div(vars[0], 0).map_err(ActionError::Eval)?"
        );
    }

    #[test]
    fn arithmetic_is_checked() {
        assert_eq!(
            value(&bin(BinaryOp::Sub, c(-5), var(0))),
            "(-5_i64).checked_sub(vars[0]).ok_or(ActionError::Eval(EvalError::Overflow))?"
        );
        assert_eq!(
            value(&bin(BinaryOp::Mul, c(3), var(0))),
            "vars[0].checked_mul(3).ok_or(ActionError::Eval(EvalError::Overflow))?"
        );
        assert_eq!(
            value(&Expr::Unary(
                UnaryOp::Neg,
                bin(BinaryOp::Div, var(0), c(1_000_000))
            )),
            "(vars[0] / 1_000_000).checked_neg().ok_or(ActionError::Eval(EvalError::Overflow))?"
        );
        assert_eq!(
            value(&bin(BinaryOp::Lt, var(0), c(4_294_967_295))),
            "i64::from(vars[0] < 4_294_967_295)"
        );
    }
}
