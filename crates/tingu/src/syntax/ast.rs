//! The syntax tree of a `.tingu` file, as written (names are not resolved).
//!
//! Every node keeps the [`Span`] it came from; spans do not take part in
//! equality, so a tree printed and parsed again compares equal to the first.

use crate::span::Span;

/// A parsed file: its top-level items in source order.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct File {
    /// Top-level declarations.
    pub items: Vec<Item>,
}

/// A name as written, with its span.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ident {
    /// The text.
    pub name: String,
    /// Where.
    pub span: Span,
}

/// Documentation from `///` comments, one entry per line, without the slashes.
pub type Docs = Vec<String>;

/// A top-level declaration.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// `import "path";`
    Import(Import),
    /// `enum name { A, B = 3 }`
    Enum(EnumDecl),
    /// `type name = other;`
    TypeAlias(TypeAlias),
    /// `opaque name;`
    Opaque(Opaque),
    /// `const type NAME = expr;`
    Const(Const),
    /// `protocol Name { ... }`
    Protocol(Protocol),
    /// `component name { ports: ... }`
    Component(Component),
}

impl Item {
    /// The declared name (the path for an import).
    pub fn name(&self) -> Option<&Ident> {
        match self {
            Item::Import(_) => None,
            Item::Enum(e) => Some(&e.name),
            Item::TypeAlias(t) => Some(&t.name),
            Item::Opaque(o) => Some(&o.name),
            Item::Const(c) => Some(&c.name),
            Item::Protocol(p) => Some(&p.name),
            Item::Component(c) => Some(&c.name),
        }
    }
}

/// `import "other.tingu";`: the path is relative to the importing file.
#[derive(Clone, Debug, PartialEq)]
pub struct Import {
    /// The path, without quotes.
    pub path: String,
    /// The span of the quoted path.
    pub path_span: Span,
}

/// `enum power_level_t { D0, D1, D2, D3 }`. Variants are ordered as written.
#[derive(Clone, Debug, PartialEq)]
pub struct EnumDecl {
    /// Doc comment.
    pub docs: Docs,
    /// The type name.
    pub name: Ident,
    /// The variants, in order.
    pub variants: Vec<Variant>,
}

/// One enum variant, optionally with an explicit value.
#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    /// Its name (global, like a C enumerator).
    pub name: Ident,
    /// `= value`, if given.
    pub value: Option<Expr>,
}

/// `type error_t = i32;`
#[derive(Clone, Debug, PartialEq)]
pub struct TypeAlias {
    /// Doc comment.
    pub docs: Docs,
    /// The new name.
    pub name: Ident,
    /// The type it stands for.
    pub ty: Ident,
}

/// `opaque packet_t;`: a handle compared by identity only.
#[derive(Clone, Debug, PartialEq)]
pub struct Opaque {
    /// Doc comment.
    pub docs: Docs,
    /// The type name.
    pub name: Ident,
}

/// `const u32 MAX_URBS = 8;`
#[derive(Clone, Debug, PartialEq)]
pub struct Const {
    /// Doc comment.
    pub docs: Docs,
    /// Its type.
    pub ty: Ident,
    /// Its name.
    pub name: Ident,
    /// Its value (a constant expression).
    pub value: Expr,
}

/// `protocol Name { dependencies: messages: variables: states: }`
#[derive(Clone, Debug, PartialEq)]
pub struct Protocol {
    /// Doc comment: the prose that explains the protocol.
    pub docs: Docs,
    /// The protocol's name.
    pub name: Ident,
    /// Other protocols whose messages this one names, `Lifecycle lc;`.
    pub dependencies: Vec<Dependency>,
    /// The messages of the protocol.
    pub messages: Vec<Message>,
    /// Typed variables with initial values.
    pub variables: Vec<Variable>,
    /// The top-level states. `None` when there is no `states:` section.
    pub states: Option<Vec<State>>,
    /// The span of the whole declaration.
    pub span: Span,
}

/// `Lifecycle lc;` in `dependencies:`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dependency {
    /// The protocol depended on.
    pub protocol: Ident,
    /// The local name used in triggers (`lc.startComplete`).
    pub name: Ident,
}

/// Which way a message travels, seen from the side the protocol describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Environment to driver: `in`, triggered with `?`.
    In,
    /// Driver to environment: `out`, triggered with `!`.
    Out,
}

impl Direction {
    /// The keyword: `in` or `out`.
    pub fn keyword(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }

    /// The trigger sigil: `?` or `!`.
    pub fn sigil(self) -> &'static str {
        match self {
            Direction::In => "?",
            Direction::Out => "!",
        }
    }

    /// The other direction (what `mirror` does).
    pub fn flip(self) -> Direction {
        match self {
            Direction::In => Direction::Out,
            Direction::Out => Direction::In,
        }
    }
}

/// `[concurrent] in|out name(type a, Proto p);`
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// Doc comment.
    pub docs: Docs,
    /// Marked `concurrent`: data path, may run in parallel in hybrid mode.
    pub concurrent: bool,
    /// `in` or `out`.
    pub direction: Direction,
    /// The message name.
    pub name: Ident,
    /// Parameters, C-style.
    pub params: Vec<Param>,
    /// The whole declaration.
    pub span: Span,
}

/// `type name`. A protocol name as type spawns a subport.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// Its type (or a protocol).
    pub ty: Ident,
    /// Its name.
    pub name: Ident,
}

/// `type name [= expr];` in `variables:`.
#[derive(Clone, Debug, PartialEq)]
pub struct Variable {
    /// Its type.
    pub ty: Ident,
    /// Its name.
    pub name: Ident,
    /// Initial value; the type's zero when absent.
    pub init: Option<Expr>,
}

/// A time span as written: `5s`, `200ms`, `50us`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DurationLit {
    /// The number.
    pub value: u64,
    /// The unit.
    pub unit: TimeUnit,
    /// Where.
    pub span: Span,
}

impl DurationLit {
    /// The duration in microseconds (saturating).
    pub fn micros(&self) -> u64 {
        self.value.saturating_mul(self.unit.micros())
    }
}

impl std::fmt::Display for DurationLit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.value, self.unit.suffix())
    }
}

/// A time unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    /// `us`
    Micros,
    /// `ms`
    Millis,
    /// `s`
    Seconds,
}

impl TimeUnit {
    /// Microseconds per unit.
    pub fn micros(self) -> u64 {
        match self {
            TimeUnit::Micros => 1,
            TimeUnit::Millis => 1_000,
            TimeUnit::Seconds => 1_000_000,
        }
    }

    /// The suffix as written.
    pub fn suffix(self) -> &'static str {
        match self {
            TimeUnit::Micros => "us",
            TimeUnit::Millis => "ms",
            TimeUnit::Seconds => "s",
        }
    }
}

/// `[initial] [final] state name [timeout] ( ; | { members } )`
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    /// Doc comment.
    pub docs: Docs,
    /// Marked `initial`.
    pub initial: bool,
    /// Marked `final`.
    pub is_final: bool,
    /// The state's name (unique in its protocol).
    pub name: Ident,
    /// `[5s]`: how long the protocol may stay in this state.
    pub timeout: Option<DurationLit>,
    /// Sub-states and transitions; `None` for `state x;`.
    pub body: Option<Vec<Member>>,
    /// The whole declaration.
    pub span: Span,
}

impl State {
    /// Sub-states, in order.
    pub fn children(&self) -> impl Iterator<Item = &State> {
        self.body.iter().flatten().filter_map(|m| match m {
            Member::State(s) => Some(s),
            Member::Transition(_) => None,
        })
    }

    /// Own transitions, in order.
    pub fn transitions(&self) -> impl Iterator<Item = &Transition> {
        self.body.iter().flatten().filter_map(|m| match m {
            Member::Transition(t) => Some(t),
            Member::State(_) => None,
        })
    }
}

/// What a state's body holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Member {
    /// A nested state.
    State(State),
    /// A transition out of (or inside) this state.
    Transition(Transition),
}

/// `trigger [guard] / actions -> target;`
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    /// What fires it.
    pub trigger: Trigger,
    /// `[expr]`, a boolean over arguments, variables and dependencies.
    pub guard: Option<Expr>,
    /// `/ x = e, y += 1`
    pub actions: Vec<Action>,
    /// `-> state`; none for an internal transition.
    pub target: Option<Ident>,
    /// The whole transition.
    pub span: Span,
}

/// What fires a transition.
#[derive(Clone, Debug, PartialEq)]
pub enum Trigger {
    /// `?m(a, b)` or `!m`: a message of this protocol.
    Message {
        /// `?` (In) or `!` (Out).
        direction: Direction,
        /// The message.
        message: Ident,
        /// Names bound to the arguments; `None` when no parentheses.
        args: Option<Vec<Ident>>,
    },
    /// `lc.startComplete(...)`: a message of a dependency.
    Dependency {
        /// The dependency's local name.
        dependency: Ident,
        /// The message of the dependency's protocol.
        message: Ident,
        /// Names bound to the arguments; `None` when no parentheses.
        args: Option<Vec<Ident>>,
    },
    /// `after(2s)`: fires by itself once the state has been active that long.
    After(DurationLit),
}

impl Trigger {
    /// The argument binders, if any.
    pub fn args(&self) -> Option<&[Ident]> {
        match self {
            Trigger::Message { args, .. } | Trigger::Dependency { args, .. } => args.as_deref(),
            Trigger::After(_) => None,
        }
    }
}

/// `var op expr`
#[derive(Clone, Debug, PartialEq)]
pub struct Action {
    /// The variable assigned.
    pub variable: Ident,
    /// `=`, `+=` or `-=`.
    pub op: AssignOp,
    /// The value.
    pub value: Expr,
}

/// Assignment operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssignOp {
    /// `=`
    Set,
    /// `+=`
    Add,
    /// `-=`
    Sub,
}

impl AssignOp {
    /// As written.
    pub fn symbol(self) -> &'static str {
        match self {
            AssignOp::Set => "=",
            AssignOp::Add => "+=",
            AssignOp::Sub => "-=",
        }
    }
}

/// An expression with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where.
    pub span: Span,
}

/// Expression forms.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// An integer literal.
    Int(u64),
    /// `true` / `false`.
    Bool(bool),
    /// A variable, argument, constant or enum variant.
    Name(Ident),
    /// `-e`, `!e`.
    Unary(UnaryOp, Box<Expr>),
    /// `a op b`.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `dep in state.path`: whether a dependency is in that state.
    InState {
        /// The dependency's local name.
        dependency: Ident,
        /// The state path, outermost first.
        path: Vec<Ident>,
    },
}

/// Prefix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-`
    Neg,
    /// `!`
    Not,
}

/// Infix operators, loosest binding first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    /// `||`
    Or,
    /// `&&`
    And,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
}

impl BinaryOp {
    /// As written.
    pub fn symbol(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Or => "||",
            And => "&&",
            Eq => "==",
            Ne => "!=",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Rem => "%",
        }
    }

    /// Binding strength: higher binds tighter.
    pub fn precedence(self) -> u8 {
        use BinaryOp::*;
        match self {
            Or => 1,
            And => 2,
            Eq | Ne | Lt | Le | Gt | Ge => 3,
            Add | Sub => 4,
            Mul | Div | Rem => 5,
        }
    }
}

/// `component name { ports: ... }`
#[derive(Clone, Debug, PartialEq)]
pub struct Component {
    /// Doc comment.
    pub docs: Docs,
    /// Its name.
    pub name: Ident,
    /// Its ports.
    pub ports: Vec<Port>,
    /// The whole declaration.
    pub span: Span,
}

/// `[mirror] Protocol name [(binding, ...)];`
#[derive(Clone, Debug, PartialEq)]
pub struct Port {
    /// The component is the other side of the protocol.
    pub mirror: bool,
    /// The protocol spoken.
    pub protocol: Ident,
    /// The port's name.
    pub name: Ident,
    /// Explicit dependency bindings, in the order of the protocol's
    /// `dependencies:`; `None` to bind each dependency by protocol type.
    pub bindings: Option<Vec<Ident>>,
    /// The whole declaration.
    pub span: Span,
}
