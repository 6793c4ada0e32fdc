//! Typing of expressions (guards, actions, initial values, constants) and
//! their translation to [`ir::Expr`](crate::ir::Expr).
//!
//! Types: `bool`, integers (all widths mix; values are 64-bit in
//! expressions), enums (ordered by value, compared only with the same enum),
//! opaque handles and subport keys (compared with `==` / `!=` only).

use super::did_you_mean;
use super::names::{Context, Global};
use crate::diagnostic::Diagnostic;
use crate::ir::{Expr, IntType, StateId, Type};
use crate::span::FileId;
use crate::syntax::ast::{self, BinaryOp, ExprKind, UnaryOp};

/// Whether a value of type `got` may be stored in `want`.
pub(crate) fn assignable(want: Type, got: Type) -> bool {
    matches!((want, got), (Type::Int(_), Type::Int(_))) || want == got
}

/// Looks a dependency's state path up; `Err` carries the diagnostic.
pub(crate) type StateLookup<'s> =
    &'s dyn Fn(usize, &[ast::Ident]) -> Result<StateId, Box<Diagnostic>>;

/// What names an expression can see.
pub(crate) struct Scope<'s> {
    pub file: FileId,
    /// Trigger argument names and their types (index = argument position).
    pub binders: &'s [(Option<&'s ast::Ident>, Type)],
    /// Protocol variables and their types.
    pub variables: &'s [(&'s str, Type)],
    /// Dependency local names, with a lookup for their states.
    pub dependencies: &'s [&'s str],
}

/// Types `e`; reports errors and returns `None` when it does not type.
pub(crate) fn typecheck(
    cx: &mut Context<'_>,
    scope: &Scope<'_>,
    e: &ast::Expr,
) -> Option<(Expr, Type)> {
    typecheck_with(cx, scope, e, &|_, path| {
        Err(Box::new(Diagnostic::error(
            path[0].span,
            "no dependency states here",
        )))
    })
}

/// [`typecheck`], with a way to resolve `dep in state` paths.
pub(crate) fn typecheck_with(
    cx: &mut Context<'_>,
    scope: &Scope<'_>,
    e: &ast::Expr,
    states: StateLookup<'_>,
) -> Option<(Expr, Type)> {
    let show = |cx: &Context<'_>, t: Type| format!("`{}`", cx.model.show_type(&t));
    match &e.kind {
        ExprKind::Int(v) => Some((Expr::Const(*v as i64), Type::Int(IntType::I64))),
        ExprKind::Bool(b) => Some((Expr::Const(*b as i64), Type::Bool)),
        ExprKind::Name(name) => name_value(cx, scope, name),
        ExprKind::InState { dependency, path } => {
            let Some(d) = scope
                .dependencies
                .iter()
                .position(|n| *n == dependency.name)
            else {
                let d = Diagnostic::error(
                    dependency.span,
                    format!("unknown dependency `{}`", dependency.name),
                )
                .label("not a dependency of this protocol");
                let d = did_you_mean(d, &dependency.name, scope.dependencies.iter().copied());
                cx.diags.push(d.help(
                    "`x in state` tests the state of a dependency declared under `dependencies:`",
                ));
                return None;
            };
            match states(d, path) {
                Ok(s) => Some((Expr::InState(d as u32, s), Type::Bool)),
                Err(diag) => {
                    cx.diags.push(*diag);
                    None
                }
            }
        }
        ExprKind::Unary(op, inner) => {
            let (ir, ty) = typecheck_with(cx, scope, inner, states)?;
            let ok = match op {
                UnaryOp::Neg => matches!(ty, Type::Int(_)),
                UnaryOp::Not => ty == Type::Bool,
            };
            if !ok {
                let (sym, want) = match op {
                    UnaryOp::Neg => ("-", "an integer"),
                    UnaryOp::Not => ("!", "a `bool`"),
                };
                let found = show(cx, ty);
                cx.diags.push(
                    Diagnostic::error(inner.span, format!("`{sym}` needs {want} operand"))
                        .label(format!("this is {found}")),
                );
                return None;
            }
            let ty = if *op == UnaryOp::Neg {
                Type::Int(IntType::I64)
            } else {
                Type::Bool
            };
            Some((Expr::Unary(*op, Box::new(ir)), ty))
        }
        ExprKind::Binary(op, a, b) => {
            let lhs = typecheck_with(cx, scope, a, states);
            let rhs = typecheck_with(cx, scope, b, states);
            let ((la, ta), (lb, tb)) = (lhs?, rhs?);
            let int = |t: Type| matches!(t, Type::Int(_));
            let result = match op {
                BinaryOp::And | BinaryOp::Or => {
                    for (side, t) in [(a, ta), (b, tb)] {
                        if t != Type::Bool {
                            let found = show(cx, t);
                            cx.diags.push(
                                Diagnostic::error(
                                    side.span,
                                    format!("`{}` needs `bool` operands", op.symbol()),
                                )
                                .label(format!("this is {found}"))
                                .help("compare it explicitly, e.g. `x != 0`"),
                            );
                            return None;
                        }
                    }
                    Type::Bool
                }
                BinaryOp::Eq | BinaryOp::Ne => {
                    if !(int(ta) && int(tb) || ta == tb) {
                        let (sa, sb) = (show(cx, ta), show(cx, tb));
                        cx.diags.push(
                            Diagnostic::error(e.span, format!("cannot compare {sa} with {sb}"))
                                .label("these have different types")
                                .with(a.span, format!("this is {sa}"))
                                .with(b.span, format!("this is {sb}")),
                        );
                        return None;
                    }
                    Type::Bool
                }
                BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
                    let ordered = int(ta) && int(tb)
                        || matches!((ta, tb), (Type::Enum(x), Type::Enum(y)) if x == y);
                    if !ordered {
                        let (sa, sb) = (show(cx, ta), show(cx, tb));
                        let d = Diagnostic::error(e.span, format!("cannot order {sa} and {sb}"))
                            .label(format!(
                                "`{}` needs two integers or two values of one enum",
                                op.symbol()
                            ));
                        let d = if matches!(ta, Type::Opaque(_) | Type::Port(_) | Type::Bool) {
                            d.note(
                                "booleans, opaque handles and subports only support `==` and `!=`",
                            )
                        } else {
                            d
                        };
                        cx.diags.push(d);
                        return None;
                    }
                    Type::Bool
                }
                _ => {
                    for (side, t) in [(a, ta), (b, tb)] {
                        if !int(t) {
                            let found = show(cx, t);
                            cx.diags.push(
                                Diagnostic::error(
                                    side.span,
                                    format!("`{}` needs integer operands", op.symbol()),
                                )
                                .label(format!("this is {found}")),
                            );
                            return None;
                        }
                    }
                    Type::Int(IntType::I64)
                }
            };
            Some((Expr::Binary(*op, Box::new(la), Box::new(lb)), result))
        }
    }
}

fn name_value(cx: &mut Context<'_>, scope: &Scope<'_>, name: &ast::Ident) -> Option<(Expr, Type)> {
    if let Some(i) = scope
        .binders
        .iter()
        .position(|(b, _)| b.is_some_and(|b| b.name == name.name))
    {
        return Some((Expr::Arg(i as u32), scope.binders[i].1));
    }
    if let Some(i) = scope.variables.iter().position(|(v, _)| *v == name.name) {
        return Some((Expr::Var(i as u32), scope.variables[i].1));
    }
    match cx.lookup(scope.file, &name.name) {
        Some(Global::Const(c)) => {
            let (ty, v) = cx.const_value(c)?;
            Some((Expr::Const(v), ty))
        }
        Some(Global::Variant(e, i)) => {
            let v = cx.model.enums[e as usize]
                .variants
                .get(i)
                .map_or(i as i64, |x| x.1);
            Some((Expr::Const(v), Type::Enum(e)))
        }
        Some(other) => {
            let what = match other {
                Global::Protocol(_) => "a protocol",
                Global::Component => "a component",
                _ => "a type",
            };
            cx.diags.push(
                Diagnostic::error(name.span, format!("`{}` is {what}, not a value", name.name))
                    .label("expected a value"),
            );
            None
        }
        None => {
            let mut candidates: Vec<&str> = scope
                .binders
                .iter()
                .filter_map(|(b, _)| b.map(|b| b.name.as_str()))
                .collect();
            candidates.extend(scope.variables.iter().map(|(v, _)| *v));
            let globals = cx.visible_names(scope.file);
            candidates.extend(globals.iter().copied());
            let d = Diagnostic::error(name.span, format!("unknown name `{}`", name.name))
                .label("no argument, variable, constant or enum variant has this name");
            cx.diags.push(did_you_mean(d, &name.name, candidates));
            None
        }
    }
}
