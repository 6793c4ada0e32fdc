//! The tree of a `.x` file as written (RFC 4506 section 6, RFC 5531
//! section 12 for programs), before names are resolved.

use std::fmt;

/// A place in the source: 1-based line and column (in characters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// The line, from 1.
    pub line: u32,
    /// The column, from 1.
    pub column: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A name and where it is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where it is.
    pub pos: Pos,
}

/// A whole file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Spec {
    /// The definitions, in order.
    pub definitions: Vec<Definition>,
}

/// A top-level definition.
#[derive(Clone, Debug, PartialEq)]
pub enum Definition {
    /// `const NAME = value;`
    Const(Ident, Value),
    /// `typedef declaration;`
    Typedef(Declaration),
    /// `enum name { ... };`
    Enum(Ident, EnumBody),
    /// `struct name { ... };`
    Struct(Ident, StructBody),
    /// `union name switch (...) { ... };`
    Union(Ident, Box<UnionBody>),
    /// `program NAME { version ... } = number;`
    Program(Program),
}

/// A constant: a number or the name of a constant or enum member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A literal (decimal, hexadecimal or octal, possibly negative).
    Number(i128, Pos),
    /// A named constant.
    Name(Ident),
}

impl Value {
    /// Where the value is written.
    pub fn pos(&self) -> Pos {
        match self {
            Value::Number(_, pos) => *pos,
            Value::Name(id) => id.pos,
        }
    }
}

/// A type specifier.
#[derive(Clone, Debug, PartialEq)]
pub enum TypeSpec {
    /// `int`
    Int,
    /// `unsigned int` (or `unsigned`)
    UnsignedInt,
    /// `hyper`
    Hyper,
    /// `unsigned hyper`
    UnsignedHyper,
    /// `float`
    Float,
    /// `double`
    Double,
    /// `bool`
    Bool,
    /// `enum { ... }`, written in place.
    Enum(EnumBody),
    /// `struct { ... }`, written in place.
    Struct(StructBody),
    /// `union switch (...) { ... }`, written in place.
    Union(Box<UnionBody>),
    /// A type by name (also `struct name`, `enum name`, `union name`).
    Named(Ident),
}

/// A declaration: a name with a type and a shape.
#[derive(Clone, Debug, PartialEq)]
pub struct Declaration {
    /// The name (`None` for `void`).
    pub name: Option<Ident>,
    /// The type and shape.
    pub kind: DeclKind,
    /// Where the declaration starts.
    pub pos: Pos,
}

/// The shape of a declaration.
#[derive(Clone, Debug, PartialEq)]
pub enum DeclKind {
    /// `void`
    Void,
    /// `T x`
    Plain(TypeSpec),
    /// `T x[N]`
    FixedArray(TypeSpec, Value),
    /// `T x<N>` or `T x<>`
    VarArray(TypeSpec, Option<Value>),
    /// `opaque x[N]`
    FixedOpaque(Value),
    /// `opaque x<N>` or `opaque x<>`
    VarOpaque(Option<Value>),
    /// `string x<N>` or `string x<>`
    String(Option<Value>),
    /// `T *x`
    Optional(TypeSpec),
}

/// The members of an enum.
#[derive(Clone, Debug, PartialEq)]
pub struct EnumBody {
    /// Each member with its value (`None`: one more than the previous, 0 first).
    pub members: Vec<(Ident, Option<Value>)>,
}

/// An attribute of a struct field (an extension: `[in]`, `[out]`,
/// `[inout]`, `[shared]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attribute {
    /// Sent with the call.
    In,
    /// Sent with the reply.
    Out,
    /// Sent both ways.
    InOut,
    /// A `*` field that keeps object identity (see `crate::objects`).
    Shared,
}

/// A struct field.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// The attributes written before it.
    pub attributes: Vec<(Attribute, Pos)>,
    /// The declaration.
    pub decl: Declaration,
}

/// The fields of a struct.
#[derive(Clone, Debug, PartialEq)]
pub struct StructBody {
    /// The fields, in order.
    pub fields: Vec<Field>,
}

/// The discriminant and arms of a union.
#[derive(Clone, Debug, PartialEq)]
pub struct UnionBody {
    /// `switch (declaration)`
    pub discriminant: Declaration,
    /// The `case` arms, in order.
    pub arms: Vec<Arm>,
    /// The `default` arm.
    pub default: Option<Declaration>,
}

/// A union arm: one or more `case` labels and a declaration.
#[derive(Clone, Debug, PartialEq)]
pub struct Arm {
    /// The labels.
    pub cases: Vec<Value>,
    /// The declaration.
    pub decl: Declaration,
}

/// An RPC program.
#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    /// Its name.
    pub name: Ident,
    /// Its versions.
    pub versions: Vec<Version>,
    /// Its number.
    pub number: Value,
}

/// A version of an RPC program.
#[derive(Clone, Debug, PartialEq)]
pub struct Version {
    /// Its name.
    pub name: Ident,
    /// Its procedures.
    pub procedures: Vec<Procedure>,
    /// Its number.
    pub number: Value,
}

/// A procedure of a program version.
#[derive(Clone, Debug, PartialEq)]
pub struct Procedure {
    /// Its name.
    pub name: Ident,
    /// What it returns (`None`: `void`).
    pub result: Option<TypeSpec>,
    /// Its arguments (empty: `void`).
    pub args: Vec<TypeSpec>,
    /// Its number.
    pub number: Value,
}
