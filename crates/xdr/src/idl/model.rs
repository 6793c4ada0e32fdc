//! The resolved form of a `.x` file: constants evaluated, type names bound,
//! types written in place hoisted to named types, Rust names chosen
//! without collisions, and the rules checked (sizes in range, case labels
//! valid and distinct, no type containing itself by value). The generator
//! and the differential tests' value generator both read it.

use crate::idl::Error;
use crate::idl::ast::{self, Attribute, DeclKind, Definition, Ident, Pos, TypeSpec, Value};
use crate::idl::names::{Names, camel, screaming, snake};
use std::collections::HashMap;

/// An index into [`Model::types`].
pub type TypeId = usize;

/// A whole resolved file.
#[derive(Clone, Debug, Default)]
pub struct Model {
    /// `const` definitions, in order.
    pub consts: Vec<Const>,
    /// Types: the file's, in order, then those hoisted from in-place definitions.
    pub types: Vec<TypeDef>,
    /// RPC programs.
    pub programs: Vec<ProgramDef>,
}

/// A constant.
#[derive(Clone, Debug)]
pub struct Const {
    /// Its XDR name.
    pub xdr_name: String,
    /// Its Rust name.
    pub rust_name: String,
    /// Its value.
    pub value: i128,
}

/// A named type.
#[derive(Clone, Debug)]
pub struct TypeDef {
    /// Its XDR name (for a hoisted type, `parent_field`).
    pub xdr_name: String,
    /// Its Rust name.
    pub rust_name: String,
    /// What it is.
    pub kind: TypeKind,
    /// Where it is defined.
    pub pos: Pos,
}

/// What a named type is.
#[derive(Clone, Debug)]
pub enum TypeKind {
    /// An enum.
    Enum(Vec<Member>),
    /// A struct.
    Struct(Vec<FieldDef>),
    /// A union.
    Union(UnionDef),
    /// A `typedef` that becomes a Rust type alias.
    Alias(Decl),
    /// A `typedef` of variable-length data, which becomes a newtype so that
    /// it keeps its maximum.
    Newtype(Decl),
    /// Not yet lowered (only while resolving).
    Pending,
}

/// An enum member.
#[derive(Clone, Debug)]
pub struct Member {
    /// Its XDR name.
    pub xdr_name: String,
    /// Its Rust variant name.
    pub rust_name: String,
    /// Its value.
    pub value: i32,
}

/// A struct field.
#[derive(Clone, Debug)]
pub struct FieldDef {
    /// Its XDR name.
    pub xdr_name: String,
    /// Its Rust name.
    pub rust_name: String,
    /// Its type and shape.
    pub decl: Decl,
    /// Which way it travels: [`Attribute::In`], [`Attribute::Out`] or
    /// [`Attribute::InOut`] (the default).
    pub direction: Attribute,
}

/// A resolved declaration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decl {
    /// `void`
    Void,
    /// `T x`
    Plain(Ty),
    /// `T x[n]`
    Fixed(Ty, u32),
    /// `T x<max>` (`<>` is `u32::MAX`)
    Var(Ty, u32),
    /// `opaque x[n]`
    FixedOpaque(u32),
    /// `opaque x<max>`
    VarOpaque(u32),
    /// `string x<max>`
    String(u32),
    /// `T *x`
    Optional(Ty),
    /// `[shared] T *x`: an object reference (extension).
    Shared(Ty),
}

/// A resolved type specifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// `int`
    Int,
    /// `unsigned int`
    UInt,
    /// `hyper`
    Hyper,
    /// `unsigned hyper`
    UHyper,
    /// `float`
    Float,
    /// `double`
    Double,
    /// `bool`
    Bool,
    /// A named type.
    Named(TypeId),
}

/// The kind of a union's discriminant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disc {
    /// `int`
    Int,
    /// `unsigned int`
    UInt,
    /// `bool`
    Bool,
    /// An enum.
    Enum(TypeId),
}

/// A union.
#[derive(Clone, Debug)]
pub struct UnionDef {
    /// The discriminant's XDR name.
    pub disc_name: String,
    /// The discriminant's type as written.
    pub disc_ty: Ty,
    /// What the discriminant is once aliases are followed.
    pub disc: Disc,
    /// One arm per `case` label (labels that share a declaration repeat it).
    pub arms: Vec<ArmDef>,
    /// The `default` arm.
    pub default: Option<DefaultArm>,
    /// Whether the cases cover every value of the discriminant (`bool` or
    /// enum), so there is no value left for `default` or an error.
    pub exhaustive: bool,
}

/// A `case` of a union.
#[derive(Clone, Debug)]
pub struct ArmDef {
    /// The label's value.
    pub value: i64,
    /// The label as written.
    pub label: String,
    /// The Rust variant name.
    pub variant: String,
    /// The arm's XDR declaration name (`None` for `void`).
    pub decl_name: Option<String>,
    /// The arm.
    pub decl: Decl,
}

/// The `default` arm of a union.
#[derive(Clone, Debug)]
pub struct DefaultArm {
    /// The Rust variant name.
    pub variant: String,
    /// The arm's XDR declaration name (`None` for `void`).
    pub decl_name: Option<String>,
    /// The arm.
    pub decl: Decl,
}

/// An RPC program.
#[derive(Clone, Debug)]
pub struct ProgramDef {
    /// Its XDR name.
    pub xdr_name: String,
    /// Its Rust constant's name.
    pub rust_name: String,
    /// Its number.
    pub number: u32,
    /// Its versions.
    pub versions: Vec<VersionDef>,
}

/// A version of a program.
#[derive(Clone, Debug)]
pub struct VersionDef {
    /// Its XDR name.
    pub xdr_name: String,
    /// Its Rust constant's name.
    pub rust_name: String,
    /// Its number.
    pub number: u32,
    /// Its procedures.
    pub procedures: Vec<ProcDef>,
}

/// A procedure.
#[derive(Clone, Debug)]
pub struct ProcDef {
    /// Its XDR name.
    pub xdr_name: String,
    /// Its Rust constant's name.
    pub rust_name: String,
    /// Its number.
    pub number: u32,
    /// `result name(args)` as XDR, for documentation.
    pub signature: String,
}

/// How long a chain of typedefs may be.
const MAX_ALIAS_DEPTH: usize = 256;

impl Model {
    /// Follows `typedef`s of plain types from `ty` to a type that is not such a typedef.
    pub fn resolve_alias(&self, mut ty: Ty) -> Ty {
        for _ in 0..=self.types.len() {
            match ty {
                Ty::Named(id) => match &self.types[id].kind {
                    TypeKind::Alias(Decl::Plain(inner)) => ty = *inner,
                    _ => return ty,
                },
                _ => return ty,
            }
        }
        ty
    }

    /// Whether optional data of `ty` needs a `Box` (it could contain
    /// itself): structs, unions and fixed arrays do.
    pub fn needs_box(&self, ty: Ty) -> bool {
        match self.resolve_alias(ty) {
            Ty::Named(id) => match &self.types[id].kind {
                TypeKind::Struct(_) | TypeKind::Union(_) => true,
                TypeKind::Alias(d) => matches!(d, Decl::Fixed(..) | Decl::FixedOpaque(_)),
                _ => false,
            },
            _ => false,
        }
    }
}

/// What a name in the value namespace stands for.
enum ValueDef {
    /// A constant or an enum member with a value.
    Expr(Value),
    /// An enum member without one: the previous member's value plus one.
    After(String),
    /// The first enum member, without a value.
    Zero,
}

struct Resolver<'a> {
    model: Model,
    type_index: HashMap<&'a str, (TypeId, Pos)>,
    values: HashMap<String, (ValueDef, Pos)>,
    memo: HashMap<String, i128>,
    names: Names,
}

/// Resolves a parsed file.
pub fn resolve(spec: &ast::Spec) -> Result<Model, Error> {
    let mut r = Resolver {
        model: Model::default(),
        type_index: HashMap::new(),
        values: HashMap::new(),
        memo: HashMap::new(),
        names: Names::default(),
    };
    r.declare(spec)?;
    for (name, v) in [("TRUE", 1), ("FALSE", 0)] {
        r.values.entry(name.to_string()).or_insert((
            ValueDef::Expr(Value::Number(v, Pos::default())),
            Pos::default(),
        ));
    }
    r.lower(spec)?;
    check_alias_depth(&r.model)?;
    check_by_value_cycles(&r.model)?;
    Ok(r.model)
}

/// Where each type name and value name is defined; every enum member,
/// also in types written in place.
fn collect_members<'s>(spec: &'s TypeSpec, out: &mut Vec<&'s ast::EnumBody>) {
    match spec {
        TypeSpec::Enum(body) => out.push(body),
        TypeSpec::Struct(body) => {
            for f in &body.fields {
                collect_decl_members(&f.decl, out);
            }
        }
        TypeSpec::Union(body) => {
            collect_decl_members(&body.discriminant, out);
            for arm in &body.arms {
                collect_decl_members(&arm.decl, out);
            }
            if let Some(d) = &body.default {
                collect_decl_members(d, out);
            }
        }
        _ => {}
    }
}

fn collect_decl_members<'s>(decl: &'s ast::Declaration, out: &mut Vec<&'s ast::EnumBody>) {
    match &decl.kind {
        DeclKind::Plain(t)
        | DeclKind::FixedArray(t, _)
        | DeclKind::VarArray(t, _)
        | DeclKind::Optional(t) => collect_members(t, out),
        _ => {}
    }
}

fn typedef_name(decl: &ast::Declaration) -> Result<&Ident, Error> {
    decl.name
        .as_ref()
        .ok_or_else(|| Error::new(decl.pos, "a `typedef` needs a name, not `void`"))
}

impl<'a> Resolver<'a> {
    fn define_value(&mut self, id: &Ident, def: ValueDef) -> Result<(), Error> {
        if let Some((_, first)) = self.values.get(&id.name) {
            return Err(Error::new(
                id.pos,
                format!("`{}` is already defined at {first}", id.name),
            ));
        }
        self.values.insert(id.name.clone(), (def, id.pos));
        Ok(())
    }

    fn define_type(&mut self, id: &'a Ident) -> Result<(), Error> {
        if let Some((_, first)) = self.type_index.get(id.name.as_str()) {
            return Err(Error::new(
                id.pos,
                format!("type `{}` is already defined at {first}", id.name),
            ));
        }
        let rust_name = self.names.claim(camel(&id.name));
        self.type_index
            .insert(&id.name, (self.model.types.len(), id.pos));
        self.model.types.push(TypeDef {
            xdr_name: id.name.clone(),
            rust_name,
            kind: TypeKind::Pending,
            pos: id.pos,
        });
        Ok(())
    }

    fn define_members(&mut self, body: &ast::EnumBody) -> Result<(), Error> {
        let mut prev: Option<&str> = None;
        for (id, value) in &body.members {
            let def = match (value, prev) {
                (Some(v), _) => ValueDef::Expr(v.clone()),
                (None, Some(p)) => ValueDef::After(p.to_string()),
                (None, None) => ValueDef::Zero,
            };
            self.define_value(id, def)?;
            prev = Some(&id.name);
        }
        Ok(())
    }

    /// Pass one: every name, so that definitions may refer forward.
    fn declare(&mut self, spec: &'a ast::Spec) -> Result<(), Error> {
        for def in &spec.definitions {
            let mut bodies = Vec::new();
            match def {
                Definition::Const(id, v) => {
                    self.define_value(id, ValueDef::Expr(v.clone()))?;
                    let rust_name = self.names.claim(screaming(&id.name));
                    self.model.consts.push(Const {
                        xdr_name: id.name.clone(),
                        rust_name,
                        value: 0,
                    });
                }
                Definition::Typedef(decl) => {
                    self.define_type(typedef_name(decl)?)?;
                    collect_decl_members(decl, &mut bodies);
                }
                Definition::Enum(id, body) => {
                    self.define_type(id)?;
                    bodies.push(body);
                }
                Definition::Struct(id, body) => {
                    self.define_type(id)?;
                    for f in &body.fields {
                        collect_decl_members(&f.decl, &mut bodies);
                    }
                }
                Definition::Union(id, body) => {
                    self.define_type(id)?;
                    collect_decl_members(&body.discriminant, &mut bodies);
                    for arm in &body.arms {
                        collect_decl_members(&arm.decl, &mut bodies);
                    }
                    if let Some(d) = &body.default {
                        collect_decl_members(d, &mut bodies);
                    }
                }
                Definition::Program(p) => {
                    self.define_value(&p.name, ValueDef::Expr(p.number.clone()))?;
                    for v in &p.versions {
                        self.define_value(&v.name, ValueDef::Expr(v.number.clone()))?;
                        for proc in &v.procedures {
                            self.define_value(&proc.name, ValueDef::Expr(proc.number.clone()))?;
                        }
                    }
                }
            }
            for body in bodies {
                self.define_members(body)?;
            }
        }
        Ok(())
    }

    /// The value of a named constant or enum member, following references
    /// without recursion.
    fn eval_name(&mut self, id: &Ident) -> Result<i128, Error> {
        // Each link's value is the next link's value plus its `add`.
        let mut chain: Vec<(String, i128)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut name = id.name.clone();
        let mut pos = id.pos;
        let base = loop {
            if let Some(&v) = self.memo.get(&name) {
                break v;
            }
            if !seen.insert(name.clone()) {
                return Err(Error::new(
                    pos,
                    format!("the value of `{name}` depends on itself"),
                ));
            }
            let Some((def, _)) = self.values.get(&name) else {
                return Err(Error::new(pos, format!("unknown constant `{name}`")));
            };
            match def {
                ValueDef::Zero => {
                    chain.push((name, 0));
                    break 0;
                }
                ValueDef::Expr(Value::Number(n, _)) => {
                    let n = *n;
                    chain.push((name, 0));
                    break n;
                }
                ValueDef::Expr(Value::Name(next)) => {
                    let next = next.clone();
                    chain.push((name, 0));
                    name = next.name;
                    pos = next.pos;
                }
                ValueDef::After(prev) => {
                    let prev = prev.clone();
                    chain.push((name, 1));
                    name = prev;
                }
            }
        };
        let mut value = base;
        for (n, add) in chain.into_iter().rev() {
            value += add;
            self.memo.insert(n, value);
        }
        self.memo
            .get(&id.name)
            .copied()
            .ok_or_else(|| Error::new(id.pos, format!("unknown constant `{}`", id.name)))
    }

    fn eval(&mut self, v: &Value) -> Result<i128, Error> {
        match v {
            Value::Number(n, _) => Ok(*n),
            Value::Name(id) => self.eval_name(id),
        }
    }

    fn size(&mut self, v: &Value, what: &str) -> Result<u32, Error> {
        let n = self.eval(v)?;
        u32::try_from(n).map_err(|_| {
            Error::new(
                v.pos(),
                format!("{what} must be between 0 and 4294967295, not {n}"),
            )
        })
    }

    fn max(&mut self, v: &Option<Value>) -> Result<u32, Error> {
        match v {
            None => Ok(u32::MAX),
            Some(v) => self.size(v, "a maximum length"),
        }
    }

    /// Pass two: every definition, in order.
    fn lower(&mut self, spec: &'a ast::Spec) -> Result<(), Error> {
        let mut consts = 0;
        for def in &spec.definitions {
            match def {
                Definition::Const(id, _) => {
                    let value = self.eval_name(id)?;
                    if value < i128::from(i64::MIN) {
                        return Err(Error::new(
                            id.pos,
                            format!("`{}` = {value} does not fit 64 bits", id.name),
                        ));
                    }
                    self.model.consts[consts].value = value;
                    consts += 1;
                }
                Definition::Typedef(decl) => {
                    let name = typedef_name(decl)?;
                    let id = self.type_index[name.name.as_str()].0;
                    let kind = match &decl.kind {
                        DeclKind::Plain(TypeSpec::Enum(body)) => self.enum_kind(body)?,
                        DeclKind::Plain(TypeSpec::Struct(body)) => {
                            self.struct_kind(&name.name, body)?
                        }
                        DeclKind::Plain(TypeSpec::Union(body)) => {
                            self.union_kind(&name.name, body)?
                        }
                        _ => {
                            let d = self.decl(decl, &name.name)?;
                            match d {
                                Decl::Var(..) | Decl::VarOpaque(_) | Decl::String(_) => {
                                    TypeKind::Newtype(d)
                                }
                                _ => TypeKind::Alias(d),
                            }
                        }
                    };
                    self.model.types[id].kind = kind;
                }
                Definition::Enum(name, body) => {
                    let id = self.type_index[name.name.as_str()].0;
                    self.model.types[id].kind = self.enum_kind(body)?;
                }
                Definition::Struct(name, body) => {
                    let id = self.type_index[name.name.as_str()].0;
                    self.model.types[id].kind = self.struct_kind(&name.name, body)?;
                }
                Definition::Union(name, body) => {
                    let id = self.type_index[name.name.as_str()].0;
                    self.model.types[id].kind = self.union_kind(&name.name, body)?;
                }
                Definition::Program(p) => {
                    let program = self.program(p)?;
                    self.model.programs.push(program);
                }
            }
        }
        Ok(())
    }

    fn ty(&mut self, spec: &TypeSpec, hoist_name: &str, pos: Pos) -> Result<Ty, Error> {
        Ok(match spec {
            TypeSpec::Int => Ty::Int,
            TypeSpec::UnsignedInt => Ty::UInt,
            TypeSpec::Hyper => Ty::Hyper,
            TypeSpec::UnsignedHyper => Ty::UHyper,
            TypeSpec::Float => Ty::Float,
            TypeSpec::Double => Ty::Double,
            TypeSpec::Bool => Ty::Bool,
            TypeSpec::Named(id) => match self.type_index.get(id.name.as_str()) {
                Some(&(t, _)) => Ty::Named(t),
                None => return Err(Error::new(id.pos, format!("unknown type `{}`", id.name))),
            },
            TypeSpec::Enum(body) => {
                let id = self.hoist(hoist_name, pos);
                self.model.types[id].kind = self.enum_kind(body)?;
                Ty::Named(id)
            }
            TypeSpec::Struct(body) => {
                let id = self.hoist(hoist_name, pos);
                self.model.types[id].kind = self.struct_kind(hoist_name, body)?;
                Ty::Named(id)
            }
            TypeSpec::Union(body) => {
                let id = self.hoist(hoist_name, pos);
                self.model.types[id].kind = self.union_kind(hoist_name, body)?;
                Ty::Named(id)
            }
        })
    }

    /// A new type for one written in place.
    fn hoist(&mut self, name: &str, pos: Pos) -> TypeId {
        let rust_name = self.names.claim(camel(name));
        self.model.types.push(TypeDef {
            xdr_name: name.to_string(),
            rust_name,
            kind: TypeKind::Pending,
            pos,
        });
        self.model.types.len() - 1
    }

    /// Lowers a declaration; types written in place are named `parent_name`.
    fn decl(&mut self, d: &ast::Declaration, parent: &str) -> Result<Decl, Error> {
        let hoist = match &d.name {
            Some(id) => format!("{parent}_{}", id.name),
            None => format!("{parent}_void"),
        };
        Ok(match &d.kind {
            DeclKind::Void => Decl::Void,
            DeclKind::Plain(t) => Decl::Plain(self.ty(t, &hoist, d.pos)?),
            DeclKind::FixedArray(t, n) => {
                let t = self.ty(t, &hoist, d.pos)?;
                Decl::Fixed(t, self.size(n, "an array size")?)
            }
            DeclKind::VarArray(t, max) => {
                let t = self.ty(t, &hoist, d.pos)?;
                Decl::Var(t, self.max(max)?)
            }
            DeclKind::FixedOpaque(n) => Decl::FixedOpaque(self.size(n, "an opaque size")?),
            DeclKind::VarOpaque(max) => Decl::VarOpaque(self.max(max)?),
            DeclKind::String(max) => Decl::String(self.max(max)?),
            DeclKind::Optional(t) => Decl::Optional(self.ty(t, &hoist, d.pos)?),
        })
    }

    fn enum_kind(&mut self, body: &ast::EnumBody) -> Result<TypeKind, Error> {
        let mut names = Names::default();
        let mut members: Vec<Member> = Vec::new();
        for (id, _) in &body.members {
            let v = self.eval_name(id)?;
            let value = i32::try_from(v).map_err(|_| {
                Error::new(id.pos, format!("`{}` = {v} does not fit an `int`", id.name))
            })?;
            if let Some(other) = members.iter().find(|m| m.value == value) {
                return Err(Error::new(
                    id.pos,
                    format!(
                        "`{}` has the value {value}, which `{}` already has",
                        id.name, other.xdr_name
                    ),
                ));
            }
            members.push(Member {
                xdr_name: id.name.clone(),
                rust_name: names.claim(camel(&id.name)),
                value,
            });
        }
        Ok(TypeKind::Enum(members))
    }

    fn struct_kind(&mut self, name: &str, body: &ast::StructBody) -> Result<TypeKind, Error> {
        let mut names = Names::default();
        let mut fields: Vec<FieldDef> = Vec::new();
        for f in &body.fields {
            let id = f
                .decl
                .name
                .as_ref()
                .ok_or_else(|| Error::new(f.decl.pos, "a struct field cannot be `void`"))?;
            if fields.iter().any(|g| g.xdr_name == id.name) {
                return Err(Error::new(
                    id.pos,
                    format!("field `{}` is declared twice", id.name),
                ));
            }
            let mut direction = None;
            let mut shared = false;
            for &(a, pos) in &f.attributes {
                if a == Attribute::Shared {
                    shared = true;
                } else if direction.replace(a).is_some() {
                    return Err(Error::new(pos, "a field has at most one direction"));
                }
            }
            let mut decl = self.decl(&f.decl, name)?;
            if shared {
                match decl {
                    Decl::Optional(t) => decl = Decl::Shared(t),
                    _ => {
                        return Err(Error::new(
                            f.decl.pos,
                            "`[shared]` needs an optional field (`T *name`)",
                        ));
                    }
                }
            }
            fields.push(FieldDef {
                xdr_name: id.name.clone(),
                rust_name: names.claim(snake(&id.name)),
                decl,
                direction: direction.unwrap_or(Attribute::InOut),
            });
        }
        Ok(TypeKind::Struct(fields))
    }

    fn union_kind(&mut self, name: &str, body: &ast::UnionBody) -> Result<TypeKind, Error> {
        let dpos = body.discriminant.pos;
        let disc_name = body
            .discriminant
            .name
            .as_ref()
            .ok_or_else(|| Error::new(dpos, "a union's discriminant cannot be `void`"))?
            .name
            .clone();
        let disc_decl = self.decl(&body.discriminant, name)?;
        let bad_disc = || {
            Error::new(
                dpos,
                "a union's discriminant must be an `int`, `unsigned int`, `bool` or enum",
            )
        };
        let Decl::Plain(disc_ty) = disc_decl else {
            return Err(bad_disc());
        };
        let disc = match self.model.resolve_alias(disc_ty) {
            Ty::Int => Disc::Int,
            Ty::UInt => Disc::UInt,
            Ty::Bool => Disc::Bool,
            Ty::Named(id) if matches!(self.model.types[id].kind, TypeKind::Enum(_)) => {
                Disc::Enum(id)
            }
            _ => return Err(bad_disc()),
        };
        let mut names = Names::default();
        let mut arms: Vec<ArmDef> = Vec::new();
        for arm in &body.arms {
            let decl = self.decl(&arm.decl, name)?;
            for label in &arm.cases {
                let v = self.eval(label)?;
                let (value, variant) = self.case(disc, label, v)?;
                if arms.iter().any(|a| a.value == value) {
                    return Err(Error::new(label.pos(), format!("case {v} appears twice")));
                }
                let text = match label {
                    Value::Number(n, _) => n.to_string(),
                    Value::Name(id) => id.name.clone(),
                };
                arms.push(ArmDef {
                    value,
                    label: text,
                    variant: names.claim(variant),
                    decl_name: arm.decl.name.as_ref().map(|n| n.name.clone()),
                    decl: decl.clone(),
                });
            }
        }
        let default = match &body.default {
            None => None,
            Some(d) => Some(DefaultArm {
                variant: names.claim("Default".to_string()),
                decl_name: d.name.as_ref().map(|n| n.name.clone()),
                decl: self.decl(d, name)?,
            }),
        };
        let exhaustive = match disc {
            Disc::Bool => arms.len() == 2,
            Disc::Enum(id) => match &self.model.types[id].kind {
                TypeKind::Enum(members) => members.len() == arms.len(),
                _ => false,
            },
            _ => false,
        };
        Ok(TypeKind::Union(UnionDef {
            disc_name,
            disc_ty,
            disc,
            arms,
            default,
            exhaustive,
        }))
    }

    /// A case label's value and variant name, checked against the discriminant.
    fn case(&self, disc: Disc, label: &Value, v: i128) -> Result<(i64, String), Error> {
        let out_of_range = |what: &str| Error::new(label.pos(), format!("case {v} is not {what}"));
        let named = match label {
            Value::Name(id) => Some(camel(&id.name)),
            Value::Number(..) => None,
        };
        let number_name = || {
            if v < 0 {
                format!("CaseMinus{}", v.unsigned_abs())
            } else {
                format!("Case{v}")
            }
        };
        match disc {
            Disc::Int => {
                let x = i32::try_from(v).map_err(|_| out_of_range("an `int`"))?;
                Ok((i64::from(x), named.unwrap_or_else(number_name)))
            }
            Disc::UInt => {
                let x = u32::try_from(v).map_err(|_| out_of_range("an `unsigned int`"))?;
                Ok((i64::from(x), named.unwrap_or_else(number_name)))
            }
            Disc::Bool => match v {
                0 => Ok((0, "False".to_string())),
                1 => Ok((1, "True".to_string())),
                _ => Err(out_of_range("a `bool` (TRUE or FALSE)")),
            },
            Disc::Enum(id) => {
                let TypeKind::Enum(members) = &self.model.types[id].kind else {
                    return Err(out_of_range("an enum member"));
                };
                let m = members.iter().find(|m| i128::from(m.value) == v);
                let m = m.ok_or_else(|| {
                    out_of_range(&format!("a member of `{}`", self.model.types[id].xdr_name))
                })?;
                Ok((i64::from(m.value), m.rust_name.clone()))
            }
        }
    }

    fn number(&mut self, v: &Value, what: &str) -> Result<u32, Error> {
        let n = self.eval(v)?;
        u32::try_from(n).map_err(|_| {
            Error::new(
                v.pos(),
                format!("{what} must be between 0 and 4294967295, not {n}"),
            )
        })
    }

    fn proc_type(&mut self, t: &Option<TypeSpec>, pos: Pos) -> Result<String, Error> {
        Ok(match t {
            None => "void".to_string(),
            Some(TypeSpec::Int) => "int".to_string(),
            Some(TypeSpec::UnsignedInt) => "unsigned int".to_string(),
            Some(TypeSpec::Hyper) => "hyper".to_string(),
            Some(TypeSpec::UnsignedHyper) => "unsigned hyper".to_string(),
            Some(TypeSpec::Float) => "float".to_string(),
            Some(TypeSpec::Double) => "double".to_string(),
            Some(TypeSpec::Bool) => "bool".to_string(),
            Some(TypeSpec::Named(id)) => {
                self.ty(&TypeSpec::Named(id.clone()), "", pos)?;
                id.name.clone()
            }
            Some(_) => {
                return Err(Error::new(
                    pos,
                    "a procedure's argument or result must be a named type",
                ));
            }
        })
    }

    fn program(&mut self, p: &ast::Program) -> Result<ProgramDef, Error> {
        let rust_name = self.names.claim(screaming(&p.name.name));
        let mut versions = Vec::new();
        for v in &p.versions {
            let mut procedures = Vec::new();
            for proc in &v.procedures {
                let result = self.proc_type(&proc.result, proc.name.pos)?;
                let args = if proc.args.is_empty() {
                    "void".to_string()
                } else {
                    let mut args = Vec::new();
                    for a in &proc.args {
                        args.push(self.proc_type(&Some(a.clone()), proc.name.pos)?);
                    }
                    args.join(", ")
                };
                procedures.push(ProcDef {
                    xdr_name: proc.name.name.clone(),
                    rust_name: self.names.claim(screaming(&proc.name.name)),
                    number: self.number(&proc.number, "a procedure number")?,
                    signature: format!("{result} {}({args})", proc.name.name),
                });
            }
            versions.push(VersionDef {
                xdr_name: v.name.name.clone(),
                rust_name: self.names.claim(screaming(&v.name.name)),
                number: self.number(&v.number, "a version number")?,
                procedures,
            });
        }
        Ok(ProgramDef {
            xdr_name: p.name.name.clone(),
            rust_name,
            number: self.number(&p.number, "a program number")?,
            versions,
        })
    }
}

/// The types a declaration holds by value (not behind `*` or `<>`).
fn by_value(decl: &Decl) -> Option<TypeId> {
    match decl {
        Decl::Plain(Ty::Named(id)) | Decl::Fixed(Ty::Named(id), _) => Some(*id),
        _ => None,
    }
}

fn contents(kind: &TypeKind) -> Vec<&Decl> {
    match kind {
        TypeKind::Struct(fields) => fields.iter().map(|f| &f.decl).collect(),
        TypeKind::Union(u) => u
            .arms
            .iter()
            .map(|a| &a.decl)
            .chain(u.default.iter().map(|d| &d.decl))
            .collect(),
        TypeKind::Alias(d) | TypeKind::Newtype(d) => vec![d],
        TypeKind::Enum(_) | TypeKind::Pending => vec![],
    }
}

/// Typedef chains are limited, so that code walking them stays shallow.
fn check_alias_depth(model: &Model) -> Result<(), Error> {
    for t in &model.types {
        let mut ty = t;
        for _ in 0..MAX_ALIAS_DEPTH {
            match &ty.kind {
                TypeKind::Alias(d) => match by_value(d) {
                    Some(next) => ty = &model.types[next],
                    None => break,
                },
                _ => break,
            }
        }
        if matches!(&ty.kind, TypeKind::Alias(d) if by_value(d).is_some()) {
            return Err(Error::new(
                t.pos,
                format!(
                    "typedef `{}` starts a chain of more than {MAX_ALIAS_DEPTH} typedefs (or a cycle)",
                    t.xdr_name
                ),
            ));
        }
    }
    Ok(())
}

/// No type may contain itself by value (Rust, like C, could not size it).
fn check_by_value_cycles(model: &Model) -> Result<(), Error> {
    // Iterative depth-first search: 0 = new, 1 = on the path, 2 = done.
    let mut state = vec![0u8; model.types.len()];
    for start in 0..model.types.len() {
        if state[start] != 0 {
            continue;
        }
        let mut stack: Vec<(TypeId, usize)> = vec![(start, 0)];
        state[start] = 1;
        while let Some(&mut (t, ref mut next)) = stack.last_mut() {
            let children: Vec<TypeId> = contents(&model.types[t].kind)
                .into_iter()
                .filter_map(by_value)
                .collect();
            if let Some(&c) = children.get(*next) {
                *next += 1;
                match state[c] {
                    0 => {
                        state[c] = 1;
                        stack.push((c, 0));
                    }
                    1 => {
                        let ty = &model.types[c];
                        return Err(Error::new(
                            ty.pos,
                            format!(
                                "type `{}` contains itself; put it behind an optional `*` or a variable-length array `<>`",
                                ty.xdr_name
                            ),
                        ));
                    }
                    _ => {}
                }
            } else {
                state[t] = 2;
                stack.pop();
            }
        }
    }
    Ok(())
}
