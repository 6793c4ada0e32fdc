//! Global names: declarations visible from each file, types, enums and constants.

use super::{did_you_mean, exprs};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::ir::{EnumType, IntType, Model, ProtocolId, Type};
use crate::library::Library;
use crate::span::FileId;
use crate::syntax::ast;
use std::collections::{HashMap, HashSet};

/// What a global name denotes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Global<'a> {
    Enum(u32),
    Alias(&'a ast::TypeAlias),
    Opaque(u32),
    Const(&'a ast::Const),
    Protocol(ProtocolId),
    Component,
    Variant(u32, usize),
}

impl Global<'_> {
    fn what(&self) -> &'static str {
        match self {
            Global::Enum(_) => "enum",
            Global::Alias(_) => "type alias",
            Global::Opaque(_) => "opaque type",
            Global::Const(_) => "constant",
            Global::Protocol(_) => "protocol",
            Global::Component => "component",
            Global::Variant(..) => "enum variant",
        }
    }
}

#[derive(Clone, Copy)]
pub(crate) struct Decl<'a> {
    pub file: FileId,
    pub name: &'a ast::Ident,
    pub global: Global<'a>,
}

/// Shared state of one check run.
pub(crate) struct Context<'a> {
    pub lib: &'a Library,
    pub diags: Diagnostics,
    pub model: Model,
    globals: HashMap<&'a str, Vec<Decl<'a>>>,
    /// Every protocol declaration, by id, with its file.
    pub protocols: Vec<(FileId, &'a ast::Protocol)>,
    /// Every component declaration, with its file.
    pub components: Vec<(FileId, &'a ast::Component)>,
    enum_decls: Vec<(FileId, &'a ast::EnumDecl)>,
    const_values: HashMap<*const ast::Const, Option<(Type, i64)>>,
    const_in_progress: HashSet<*const ast::Const>,
    reported_alias_cycles: HashSet<*const ast::TypeAlias>,
}

impl<'a> Context<'a> {
    pub fn new(lib: &'a Library) -> Context<'a> {
        Context {
            lib,
            diags: Diagnostics::new(),
            model: Model::default(),
            globals: HashMap::new(),
            protocols: Vec::new(),
            components: Vec::new(),
            enum_decls: Vec::new(),
            const_values: HashMap::new(),
            const_in_progress: HashSet::new(),
            reported_alias_cycles: HashSet::new(),
        }
    }

    /// Records every top-level name and reports duplicates visible together.
    pub fn collect_globals(&mut self) {
        let lib = self.lib;
        for (file, ast) in lib.iter() {
            for item in &ast.items {
                let global = match item {
                    ast::Item::Import(_) => continue,
                    ast::Item::Enum(e) => {
                        let id = self.enum_decls.len() as u32;
                        self.enum_decls.push((file, e));
                        self.model.enums.push(EnumType {
                            name: e.name.name.clone(),
                            variants: Vec::new(),
                        });
                        for (i, v) in e.variants.iter().enumerate() {
                            self.declare(file, &v.name, Global::Variant(id, i));
                        }
                        Global::Enum(id)
                    }
                    ast::Item::TypeAlias(t) => Global::Alias(t),
                    ast::Item::Opaque(o) => {
                        self.model.opaques.push(o.name.name.clone());
                        Global::Opaque(self.model.opaques.len() as u32 - 1)
                    }
                    ast::Item::Const(c) => Global::Const(c),
                    ast::Item::Protocol(p) => {
                        self.protocols.push((file, p));
                        Global::Protocol(ProtocolId(self.protocols.len() as u32 - 1))
                    }
                    ast::Item::Component(c) => {
                        self.components.push((file, c));
                        Global::Component
                    }
                };
                if let Some(name) = item.name() {
                    self.declare(file, name, global);
                }
            }
        }
        // Duplicates: two declarations of a name that some file sees together.
        let mut dups = Vec::new();
        for decls in self.globals.values() {
            for (i, b) in decls.iter().enumerate() {
                if let Some(a) = decls[..i]
                    .iter()
                    .find(|a| self.seen_together(a.file, b.file))
                {
                    dups.push((
                        a.name.span,
                        b.name.span,
                        b.name.name.clone(),
                        a.global.what(),
                    ));
                }
            }
        }
        dups.sort_by_key(|d| (d.1.file, d.1.start));
        for (first, second, name, what) in dups {
            self.diags.push(
                Diagnostic::error(second, format!("`{name}` is declared twice"))
                    .label("second declaration")
                    .with(first, format!("first declared here as {} {what}", article(what)))
                    .note("types, constants, enum variants, protocols and components share one namespace"),
            );
        }
    }

    fn declare(&mut self, file: FileId, name: &'a ast::Ident, global: Global<'a>) {
        self.globals
            .entry(&name.name)
            .or_default()
            .push(Decl { file, name, global });
    }

    fn seen_together(&self, a: FileId, b: FileId) -> bool {
        a == b
            || self
                .lib
                .iter()
                .any(|(f, _)| self.sees(f, a) && self.sees(f, b))
    }

    fn sees(&self, from: FileId, target: FileId) -> bool {
        self.lib.visible(from).binary_search(&target).is_ok()
    }

    /// The declaration `name` denotes in `file`, if any.
    pub fn lookup(&self, file: FileId, name: &str) -> Option<Global<'a>> {
        self.globals
            .get(name)?
            .iter()
            .find(|d| self.sees(file, d.file))
            .map(|d| d.global)
    }

    /// Every global name visible from `file` (for suggestions).
    pub fn visible_names(&self, file: FileId) -> Vec<&'a str> {
        let mut names: Vec<&'a str> = self
            .globals
            .iter()
            .filter(|(_, ds)| ds.iter().any(|d| self.sees(file, d.file)))
            .map(|(n, _)| *n)
            .collect();
        names.sort();
        names
    }

    /// Resolves a type name. Protocol names resolve only when `allow_port`.
    pub fn resolve_type(
        &mut self,
        file: FileId,
        name: &ast::Ident,
        allow_port: bool,
    ) -> Option<Type> {
        self.resolve_type_inner(file, name, allow_port, &mut Vec::new())
    }

    fn resolve_type_inner(
        &mut self,
        file: FileId,
        name: &ast::Ident,
        allow_port: bool,
        seen: &mut Vec<&'a ast::TypeAlias>,
    ) -> Option<Type> {
        if name.name == "bool" {
            return Some(Type::Bool);
        }
        if let Some(int) = IntType::from_name(&name.name) {
            return Some(Type::Int(int));
        }
        match self.lookup(file, &name.name) {
            Some(Global::Enum(e)) => Some(Type::Enum(e)),
            Some(Global::Opaque(o)) => Some(Type::Opaque(o)),
            Some(Global::Protocol(p)) if allow_port => Some(Type::Port(p)),
            Some(Global::Protocol(_)) => {
                self.diags.push(
                    Diagnostic::error(name.span, format!("protocol `{}` used as a value type", name.name))
                        .label("a protocol is not a value type")
                        .note("protocol-typed parameters of messages spawn subports; variables and constants cannot hold ports"),
                );
                None
            }
            Some(Global::Alias(alias)) => {
                let ptr = alias as *const ast::TypeAlias;
                if let Some(pos) = seen.iter().position(|a| std::ptr::eq(*a, alias)) {
                    if self.reported_alias_cycles.insert(ptr) {
                        let d = Diagnostic::error(
                            alias.name.span,
                            format!("type alias `{}` refers to itself", alias.name.name),
                        )
                        .label("this alias never reaches a real type");
                        let d = if seen.len() - pos > 1 {
                            let names: Vec<String> = seen[pos..]
                                .iter()
                                .chain(std::iter::once(&alias))
                                .map(|a| format!("`{}`", a.name.name))
                                .collect();
                            d.note(format!("the cycle: {}", names.join(" → ")))
                        } else {
                            d
                        };
                        self.diags.push(d);
                    }
                    return None;
                }
                seen.push(alias);
                self.resolve_type_inner(alias.name.span.file, &alias.ty, allow_port, seen)
            }
            Some(other) => {
                self.diags.push(
                    Diagnostic::error(name.span, format!("`{}` is not a type", name.name)).label(
                        format!("this is {} {}", article(other.what()), other.what()),
                    ),
                );
                None
            }
            None => {
                let mut candidates = self.visible_names(file);
                candidates.extend(["bool", "u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64"]);
                let d = Diagnostic::error(name.span, format!("unknown type `{}`", name.name))
                    .label("not declared");
                let d = did_you_mean(d, &name.name, candidates);
                let d = if d.help.is_none() {
                    d.help("declare it (`type`, `enum` or `opaque`), or import the file that does")
                } else {
                    d
                };
                self.diags.push(d);
                None
            }
        }
    }

    /// Computes enum variant values (explicit ones are constant expressions).
    pub fn resolve_enums(&mut self) {
        for (id, &(file, decl)) in self.enum_decls.clone().iter().enumerate() {
            let mut next = 0i64;
            let mut variants = Vec::new();
            for v in &decl.variants {
                if let Some(value) = &v.value {
                    match self.const_expr(file, value) {
                        Some((Type::Int(_), x)) => next = x,
                        Some((ty, _)) => {
                            let shown = self.model.show_type(&ty);
                            self.diags.push(
                                Diagnostic::error(value.span, "enum values must be integers")
                                    .label(format!("this is a `{shown}`")),
                            );
                        }
                        None => {}
                    }
                }
                variants.push((v.name.name.clone(), next));
                next = next.saturating_add(1);
            }
            if decl.variants.is_empty() {
                self.diags.push(
                    Diagnostic::error(decl.name.span, format!("enum `{}` has no variants", decl.name.name))
                        .label("empty enum")
                        .help("an enum needs at least one variant; its first variant is the default value"),
                );
            }
            self.model.enums[id].variants = variants;
        }
    }

    /// Checks aliases (their target must resolve) and constants.
    pub fn check_type_items(&mut self) {
        let lib = self.lib;
        for (file, ast) in lib.iter() {
            for item in &ast.items {
                match item {
                    ast::Item::TypeAlias(t) => {
                        self.resolve_type(file, &t.ty, false);
                    }
                    ast::Item::Const(c) => {
                        self.const_value(c);
                    }
                    _ => {}
                }
            }
        }
    }

    /// The (memoised) type and value of a constant.
    pub fn const_value(&mut self, c: &'a ast::Const) -> Option<(Type, i64)> {
        let file = c.name.span.file;
        let key = c as *const ast::Const;
        if let Some(v) = self.const_values.get(&key) {
            return *v;
        }
        if !self.const_in_progress.insert(key) {
            self.diags.push(
                Diagnostic::error(
                    c.name.span,
                    format!("constant `{}` depends on itself", c.name.name),
                )
                .label("its value refers back to it"),
            );
            self.const_values.insert(key, None);
            return None;
        }
        let declared = self.resolve_type(file, &c.ty, false);
        let value = self.const_expr(file, &c.value);
        let result = match (declared, value) {
            (Some(ty), Some((vty, v))) => {
                if exprs::assignable(ty, vty) {
                    if let Type::Int(int) = ty {
                        let (lo, hi) = int.range();
                        if v < lo || v > hi {
                            self.diags.push(
                                Diagnostic::error(
                                    c.value.span,
                                    format!("{v} does not fit in `{}`", int.name()),
                                )
                                .label(format!("the range of `{}` is {lo}..={hi}", int.name())),
                            );
                        }
                    }
                    Some((ty, v))
                } else {
                    let (want, got) = (self.model.show_type(&ty), self.model.show_type(&vty));
                    self.diags.push(
                        Diagnostic::error(c.value.span, "mismatched types")
                            .label(format!("expected `{want}`, found `{got}`")),
                    );
                    None
                }
            }
            _ => None,
        };
        self.const_in_progress.remove(&key);
        self.const_values.insert(key, result);
        result
    }

    /// Evaluates a constant expression in file scope.
    pub fn const_expr(&mut self, file: FileId, e: &ast::Expr) -> Option<(Type, i64)> {
        let scope = exprs::Scope {
            file,
            binders: &[],
            variables: &[],
            dependencies: &[],
        };
        let (ir, ty) = exprs::typecheck(self, &scope, e)?;
        match ir.eval(&|_| 0, &|_| 0, &|_, _| false) {
            Ok(v) => Some((ty, v)),
            Err(err) => {
                self.diags.push(
                    Diagnostic::error(e.span, "cannot evaluate constant expression").label(
                        match err {
                            crate::ir::EvalError::DivisionByZero => "division by zero",
                            crate::ir::EvalError::Overflow => "the result does not fit in 64 bits",
                        },
                    ),
                );
                None
            }
        }
    }
}

/// "a" or "an".
pub(crate) fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}
