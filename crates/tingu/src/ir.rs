//! The intermediate form: checked protocols as flat automata, and components
//! with their port kinds and bindings. It is what the observer, the code
//! generator, the diagrams and model export consume.
//!
//! Everything is resolved to indices; every value is an `i64` (booleans are
//! 0/1, enum values their declared value, opaque handles and subport keys
//! their raw bits), and all types were checked, so a consumer never meets a
//! name or a type error.
//!
//! ```text
//!   Protocol ──states──▶ State tree (preorder; parent / children / initial child)
//!      │                       leaves: the states an instance can rest in
//!      ├──labels──▶ alphabet: Own(message) | Dep(dependency, message)
//!      ├──transitions──▶ source state, trigger, guard, actions, target
//!      └──table[leaf][label] ──▶ transitions to try, innermost first, then source order
//! ```

use crate::span::Span;
use crate::syntax::ast::{AssignOp, BinaryOp, Direction, UnaryOp};

/// Index of a protocol in [`Model::protocols`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProtocolId(pub u32);
/// Index of a state in [`Protocol::states`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StateId(pub u32);
/// Index of a message in [`Protocol::messages`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(pub u32);
/// Index of a transition in [`Protocol::transitions`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransitionId(pub u32);
/// Index of an alphabet entry in [`Protocol::labels`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LabelId(pub u32);
/// Index of a port kind in [`Component::kinds`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KindId(pub u32);

/// Every checked protocol and component of a library.
#[derive(Clone, Debug, Default)]
pub struct Model {
    /// Enum types, for printing values by name.
    pub enums: Vec<EnumType>,
    /// Opaque handle type names.
    pub opaques: Vec<String>,
    /// Protocols.
    pub protocols: Vec<Protocol>,
    /// Components.
    pub components: Vec<Component>,
}

impl Model {
    /// A protocol by name.
    pub fn protocol(&self, name: &str) -> Option<ProtocolId> {
        self.protocols
            .iter()
            .position(|p| p.name == name)
            .map(|i| ProtocolId(i as u32))
    }

    /// A component by name.
    pub fn component(&self, name: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.name == name)
    }

    /// The protocol with this id.
    pub fn proto(&self, id: ProtocolId) -> &Protocol {
        &self.protocols[id.0 as usize]
    }

    /// A value of type `ty` as a person reads it (`D2`, `true`, `17`).
    pub fn show_value(&self, ty: &Type, value: i64) -> String {
        match ty {
            Type::Bool => (value != 0).to_string(),
            Type::Enum(e) => {
                let def = &self.enums[*e as usize];
                def.variants
                    .iter()
                    .find(|(_, v)| *v == value)
                    .map_or_else(|| format!("{}({value})", def.name), |(n, _)| n.clone())
            }
            Type::Opaque(_) | Type::Port(_) => format!("{:#x}", value as u64),
            Type::Int(_) => value.to_string(),
        }
    }

    /// A type as written.
    pub fn show_type(&self, ty: &Type) -> String {
        match ty {
            Type::Bool => "bool".into(),
            Type::Int(i) => i.name().into(),
            Type::Enum(e) => self.enums[*e as usize].name.clone(),
            Type::Opaque(o) => self.opaques[*o as usize].clone(),
            Type::Port(p) => self.proto(*p).name.clone(),
        }
    }
}

/// An enum type: its name and `(variant, value)` pairs in declared order.
#[derive(Clone, Debug, PartialEq)]
pub struct EnumType {
    /// The type name.
    pub name: String,
    /// Variants and their values.
    pub variants: Vec<(String, i64)>,
}

/// Fixed-width integer types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntType {
    /// `u8`
    U8,
    /// `u16`
    U16,
    /// `u32`
    U32,
    /// `u64` (values above `i64::MAX` are out of range)
    U64,
    /// `i8`
    I8,
    /// `i16`
    I16,
    /// `i32`
    I32,
    /// `i64`
    I64,
}

impl IntType {
    /// The keyword.
    pub fn name(self) -> &'static str {
        match self {
            IntType::U8 => "u8",
            IntType::U16 => "u16",
            IntType::U32 => "u32",
            IntType::U64 => "u64",
            IntType::I8 => "i8",
            IntType::I16 => "i16",
            IntType::I32 => "i32",
            IntType::I64 => "i64",
        }
    }

    /// The type with this keyword.
    pub fn from_name(name: &str) -> Option<IntType> {
        Some(match name {
            "u8" => IntType::U8,
            "u16" => IntType::U16,
            "u32" => IntType::U32,
            "u64" => IntType::U64,
            "i8" => IntType::I8,
            "i16" => IntType::I16,
            "i32" => IntType::I32,
            "i64" => IntType::I64,
            _ => return None,
        })
    }

    /// Smallest and largest value.
    pub fn range(self) -> (i64, i64) {
        match self {
            IntType::U8 => (0, u8::MAX as i64),
            IntType::U16 => (0, u16::MAX as i64),
            IntType::U32 => (0, u32::MAX as i64),
            IntType::U64 => (0, i64::MAX),
            IntType::I8 => (i8::MIN as i64, i8::MAX as i64),
            IntType::I16 => (i16::MIN as i64, i16::MAX as i64),
            IntType::I32 => (i32::MIN as i64, i32::MAX as i64),
            IntType::I64 => (i64::MIN, i64::MAX),
        }
    }
}

/// A checked type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// `bool`
    Bool,
    /// An integer type.
    Int(IntType),
    /// An enum, by index in [`Model::enums`].
    Enum(u32),
    /// An opaque handle, by index in [`Model::opaques`].
    Opaque(u32),
    /// A spawned subport of this protocol (the value is its key).
    Port(ProtocolId),
}

/// A checked protocol: a flat automaton over its alphabet.
#[derive(Clone, Debug)]
pub struct Protocol {
    /// Its name.
    pub name: String,
    /// Its doc comment.
    pub docs: Vec<String>,
    /// Where it was declared.
    pub span: Span,
    /// Its messages.
    pub messages: Vec<Message>,
    /// The protocols it depends on, by local name.
    pub dependencies: Vec<Dependency>,
    /// Its variables, with initial values.
    pub variables: Vec<Variable>,
    /// All states in preorder (a parent comes before its children). Empty
    /// when the protocol has no `states:` section: then every message is
    /// legal at any time.
    pub states: Vec<State>,
    /// The states an instance can rest in (states without children).
    pub leaves: Vec<StateId>,
    /// The leaf an instance starts in.
    pub initial_leaf: Option<StateId>,
    /// The alphabet: every message the protocol names.
    pub labels: Vec<Label>,
    /// The transitions, in source order.
    pub transitions: Vec<Transition>,
    /// `table[leaf_index * labels.len() + label]` is a range of `entries`.
    table: Vec<u32>,
    /// Per state: its leaf index, or `u32::MAX` (a flat copy for lookups).
    state_leaf: Vec<u32>,
    entries: Vec<TransitionId>,
    /// Per leaf index: the `after(..)` transitions that apply, by priority.
    pub timed: Vec<Vec<TransitionId>>,
}

/// A message of a protocol.
#[derive(Clone, Debug)]
pub struct Message {
    /// Its name.
    pub name: String,
    /// `in` or `out`, seen from the side the protocol describes.
    pub direction: Direction,
    /// Marked `concurrent`.
    pub concurrent: bool,
    /// Parameters.
    pub params: Vec<Param>,
    /// The parameter that spawns a subport, and the subport's protocol.
    pub spawns: Option<(usize, ProtocolId)>,
    /// Its doc comment.
    pub docs: Vec<String>,
}

/// A message parameter.
#[derive(Clone, Debug)]
pub struct Param {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: Type,
}

/// A protocol this one names messages of.
#[derive(Clone, Debug)]
pub struct Dependency {
    /// The local name (`lc`).
    pub name: String,
    /// The protocol.
    pub protocol: ProtocolId,
}

/// A protocol variable.
#[derive(Clone, Debug)]
pub struct Variable {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: Type,
    /// Its initial value.
    pub init: i64,
}

/// A state.
#[derive(Clone, Debug)]
pub struct State {
    /// Its name (unique in the protocol).
    pub name: String,
    /// The enclosing state.
    pub parent: Option<StateId>,
    /// Sub-states, in source order.
    pub children: Vec<StateId>,
    /// The sub-state entered when this one is entered.
    pub initial_child: Option<StateId>,
    /// 0 for top-level states.
    pub depth: u32,
    /// `[d]`: the longest the protocol may stay, in microseconds.
    pub timeout_us: Option<u64>,
    /// A final state: reaching it terminates the instance.
    pub is_final: bool,
    /// Position in [`Protocol::leaves`], for leaves.
    pub leaf_index: Option<u32>,
    /// Its doc comment.
    pub docs: Vec<String>,
    /// Where it was declared (its name).
    pub span: Span,
}

/// An entry of a protocol's alphabet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Label {
    /// One of the protocol's own messages.
    Own(MessageId),
    /// Message `.1` of dependency `.0` (an index into `dependencies`).
    Dep(u32, MessageId),
}

/// What fires a transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Trigger {
    /// A message of the alphabet.
    Label(LabelId),
    /// The source state has been active this many microseconds.
    After(u64),
}

/// A transition.
#[derive(Clone, Debug)]
pub struct Transition {
    /// The state it is declared in.
    pub source: StateId,
    /// What fires it.
    pub trigger: Trigger,
    /// Must be true (non-zero) for the transition to be enabled.
    pub guard: Option<Expr>,
    /// Assignments, run left to right.
    pub actions: Vec<Action>,
    /// The state named after `->`; `None` for an internal transition.
    pub target: Option<StateId>,
    /// The leaf reached by entering `target` (its initial descendants).
    pub target_leaf: Option<StateId>,
    /// Where it was written.
    pub span: Span,
    /// The transition as written, for reports and diagrams.
    pub text: String,
}

/// An assignment to a variable.
#[derive(Clone, Debug, PartialEq)]
pub struct Action {
    /// The variable (index into `variables`).
    pub variable: u32,
    /// `=`, `+=`, `-=`.
    pub op: AssignOp,
    /// The value.
    pub value: Expr,
}

/// A checked expression over arguments, variables and dependency states.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A constant.
    Const(i64),
    /// A variable of the protocol.
    Var(u32),
    /// An argument of the triggering message.
    Arg(u32),
    /// Whether dependency `.0` is in state `.1` (of the dependency's protocol).
    InState(u32, StateId),
    /// `-e`, `!e`.
    Unary(UnaryOp, Box<Expr>),
    /// `a op b`; `&&` and `||` short-circuit.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
}

/// Why an expression could not be evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvalError {
    /// Division or remainder by zero.
    DivisionByZero,
    /// A result outside the 64-bit range.
    Overflow,
}

impl Expr {
    /// Evaluates the expression. `var`, `arg` and `in_state` supply values.
    pub fn eval(
        &self,
        var: &dyn Fn(u32) -> i64,
        arg: &dyn Fn(u32) -> i64,
        in_state: &dyn Fn(u32, StateId) -> bool,
    ) -> Result<i64, EvalError> {
        Ok(match self {
            Expr::Const(v) => *v,
            Expr::Var(i) => var(*i),
            Expr::Arg(i) => arg(*i),
            Expr::InState(d, s) => in_state(*d, *s) as i64,
            Expr::Unary(UnaryOp::Neg, e) => e
                .eval(var, arg, in_state)?
                .checked_neg()
                .ok_or(EvalError::Overflow)?,
            Expr::Unary(UnaryOp::Not, e) => (e.eval(var, arg, in_state)? == 0) as i64,
            Expr::Binary(op, a, b) => {
                let a = a.eval(var, arg, in_state)?;
                match op {
                    BinaryOp::And if a == 0 => return Ok(0),
                    BinaryOp::Or if a != 0 => return Ok(1),
                    _ => {}
                }
                let b = b.eval(var, arg, in_state)?;
                match op {
                    BinaryOp::And | BinaryOp::Or => (b != 0) as i64,
                    BinaryOp::Eq => (a == b) as i64,
                    BinaryOp::Ne => (a != b) as i64,
                    BinaryOp::Lt => (a < b) as i64,
                    BinaryOp::Le => (a <= b) as i64,
                    BinaryOp::Gt => (a > b) as i64,
                    BinaryOp::Ge => (a >= b) as i64,
                    BinaryOp::Add => a.checked_add(b).ok_or(EvalError::Overflow)?,
                    BinaryOp::Sub => a.checked_sub(b).ok_or(EvalError::Overflow)?,
                    BinaryOp::Mul => a.checked_mul(b).ok_or(EvalError::Overflow)?,
                    BinaryOp::Div if b == 0 => return Err(EvalError::DivisionByZero),
                    BinaryOp::Rem if b == 0 => return Err(EvalError::DivisionByZero),
                    BinaryOp::Div => a.checked_div(b).ok_or(EvalError::Overflow)?,
                    BinaryOp::Rem => a.checked_rem(b).ok_or(EvalError::Overflow)?,
                }
            }
        })
    }
}

impl Protocol {
    /// The state with this id.
    pub fn state(&self, id: StateId) -> &State {
        &self.states[id.0 as usize]
    }

    /// A state by name.
    pub fn state_named(&self, name: &str) -> Option<StateId> {
        self.states
            .iter()
            .position(|s| s.name == name)
            .map(|i| StateId(i as u32))
    }

    /// A message by name.
    pub fn message(&self, name: &str) -> Option<MessageId> {
        self.messages
            .iter()
            .position(|m| m.name == name)
            .map(|i| MessageId(i as u32))
    }

    /// The alphabet entry for a label, if the protocol names it.
    pub fn label(&self, label: Label) -> Option<LabelId> {
        self.labels
            .iter()
            .position(|l| *l == label)
            .map(|i| LabelId(i as u32))
    }

    /// `state`, its parent, ..., the top-level state.
    pub fn ancestors(&self, state: StateId) -> impl Iterator<Item = StateId> + '_ {
        std::iter::successors(Some(state), |s| self.state(*s).parent)
    }

    /// Whether `inner` is `outer` or inside it.
    pub fn is_within(&self, inner: StateId, outer: StateId) -> bool {
        self.ancestors(inner).any(|s| s == outer)
    }

    /// `Top.mid.leaf`: the dotted path of a state from the top level.
    pub fn path(&self, state: StateId) -> String {
        let mut names: Vec<&str> = self
            .ancestors(state)
            .map(|s| self.state(s).name.as_str())
            .collect();
        names.reverse();
        names.join(".")
    }

    /// The leaf reached by entering `state`: its initial child, recursively.
    pub fn entry_leaf(&self, mut state: StateId) -> StateId {
        while let Some(child) = self.state(state).initial_child {
            state = child;
        }
        state
    }

    /// The transitions to try, in priority order, when `label` arrives in `leaf`.
    pub fn candidates(&self, leaf: StateId, label: LabelId) -> &[TransitionId] {
        let li = match self.state_leaf.get(leaf.0 as usize) {
            Some(&li) if li != u32::MAX => li as usize,
            _ => return &[],
        };
        let i = li * self.labels.len() + label.0 as usize;
        match (self.table.get(i), self.table.get(i + 1)) {
            (Some(&a), Some(&b)) => &self.entries[a as usize..b as usize],
            _ => &[],
        }
    }

    /// How a label reads in a trigger: `?start`, `!stopComplete`, `lc.unplugged`.
    pub fn label_text(&self, model: &Model, label: LabelId) -> String {
        match self.labels[label.0 as usize] {
            Label::Own(m) => {
                let msg = &self.messages[m.0 as usize];
                format!("{}{}", msg.direction.sigil(), msg.name)
            }
            Label::Dep(d, m) => {
                let dep = &self.dependencies[d as usize];
                format!(
                    "{}.{}",
                    dep.name,
                    model.proto(dep.protocol).messages[m.0 as usize].name
                )
            }
        }
    }

    /// Builds the per-leaf lookup tables from `transitions`. Called once by
    /// the checker after all transitions are known.
    pub(crate) fn build_tables(&mut self) {
        let nl = self.labels.len();
        let mut table = Vec::with_capacity(self.leaves.len() * nl + 1);
        let mut entries = Vec::new();
        // Transitions grouped by declaring state, in source order.
        let mut by_state: Vec<Vec<TransitionId>> = vec![Vec::new(); self.states.len()];
        for (i, t) in self.transitions.iter().enumerate() {
            by_state[t.source.0 as usize].push(TransitionId(i as u32));
        }
        let mut timed = Vec::with_capacity(self.leaves.len());
        for &leaf in &self.leaves {
            let chain: Vec<StateId> = self.ancestors(leaf).collect();
            let mut per_label: Vec<Vec<TransitionId>> = vec![Vec::new(); nl];
            let mut leaf_timed = Vec::new();
            for s in &chain {
                for &t in &by_state[s.0 as usize] {
                    match self.transitions[t.0 as usize].trigger {
                        Trigger::Label(l) => per_label[l.0 as usize].push(t),
                        Trigger::After(_) => leaf_timed.push(t),
                    }
                }
            }
            for list in per_label {
                table.push(entries.len() as u32);
                entries.extend(list);
            }
            timed.push(leaf_timed);
        }
        table.push(entries.len() as u32);
        self.table = table;
        self.entries = entries;
        self.timed = timed;
        self.state_leaf = self
            .states
            .iter()
            .map(|s| s.leaf_index.unwrap_or(u32::MAX))
            .collect();
    }

    /// A protocol with no states, labels or transitions yet (for the checker).
    pub(crate) fn empty(name: String, docs: Vec<String>, span: Span) -> Protocol {
        Protocol {
            name,
            docs,
            span,
            messages: Vec::new(),
            dependencies: Vec::new(),
            variables: Vec::new(),
            states: Vec::new(),
            leaves: Vec::new(),
            initial_leaf: None,
            labels: Vec::new(),
            transitions: Vec::new(),
            table: vec![0],
            state_leaf: Vec::new(),
            entries: Vec::new(),
            timed: Vec::new(),
        }
    }
}

/// A checked component: its ports and every kind of subport they can spawn.
#[derive(Clone, Debug)]
pub struct Component {
    /// Its name.
    pub name: String,
    /// Its doc comment.
    pub docs: Vec<String>,
    /// Where it was declared.
    pub span: Span,
    /// Port kinds: first the declared ports (in order), then spawned subport
    /// kinds (breadth first).
    pub kinds: Vec<PortKind>,
    /// How many of `kinds` are declared ports.
    pub port_count: usize,
}

/// A declared port, or a kind of subport that a port can spawn.
#[derive(Clone, Debug)]
pub struct PortKind {
    /// The port name; for a subport kind `parent.message`.
    pub name: String,
    /// The protocol it speaks.
    pub protocol: ProtocolId,
    /// The component is the other side of the protocol (`mirror`).
    pub mirror: bool,
    /// For a subport kind: the kind that spawns it, and through which message.
    pub spawned_by: Option<(KindId, MessageId)>,
    /// What each dependency of the protocol is bound to, in dependency order.
    pub bindings: Vec<Binding>,
    /// Per message of the protocol: the other kinds that synchronise on it
    /// (rule 3), with the label under which they name it.
    pub listeners: Vec<Vec<(KindId, LabelId)>>,
}

/// What a dependency is bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binding {
    /// A declared port of the component.
    Port(KindId),
    /// The instance that spawned this subport.
    Parent,
}

impl Component {
    /// The kind with this id.
    pub fn kind(&self, id: KindId) -> &PortKind {
        &self.kinds[id.0 as usize]
    }

    /// A declared port by name.
    pub fn port(&self, name: &str) -> Option<KindId> {
        self.kinds[..self.port_count]
            .iter()
            .position(|k| k.name == name)
            .map(|i| KindId(i as u32))
    }
}

/// A duration in microseconds as a spec writes it: `2s`, `250ms`, `50us`.
pub fn format_micros(us: u64) -> String {
    if us.is_multiple_of(1_000_000) {
        format!("{}s", us / 1_000_000)
    } else if us.is_multiple_of(1_000) {
        format!("{}ms", us / 1_000)
    } else {
        format!("{us}us")
    }
}
