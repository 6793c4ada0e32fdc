//! Typed port interfaces: per enum type a Rust enum, per protocol its `In`
//! and `Out` messages, per component its `Event`s, send handles (`Ports`)
//! and an implementation of `dingo::wire::Component`.
//!
//! Every name comes from the specs through [`snake_case`] or
//! [`upper_camel_case`], and is then made unique in its scope (a numeric
//! suffix for the later of two names that convert to the same text; a `_`
//! after a Rust keyword), so any checked model generates code that
//! compiles.

use crate::out::Out;
use std::collections::HashSet;
use tingu::ir::{self, IntType, KindId, Model, Protocol, Type};
use tingu::syntax::ast::Direction;

/// Most arguments a `dingo::wire::Wire` carries (its `MAX_ARGS`; the
/// generated code asserts that the two agree).
pub(crate) const MAX_ARGS: usize = 8;
/// Most subport levels a `dingo::wire::Wire` carries (its `MAX_DEPTH`).
pub(crate) const MAX_DEPTH: usize = 3;

/// Rust keywords (strict, reserved, and those of edition 2024), which
/// cannot be plain identifiers.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Module names that would shadow primitive types or crates in the module
/// that includes the generated file.
const RESERVED_MODULES: &[&str] = &[
    "bool",
    "char",
    "str",
    "u8",
    "u16",
    "u32",
    "u64",
    "u128",
    "usize",
    "i8",
    "i16",
    "i32",
    "i64",
    "i128",
    "isize",
    "f32",
    "f64",
    "std",
    "core",
    "alloc",
    "dingo",
    "tingu",
    "tingu_observer",
];

/// Type names that generated code uses unqualified (the prelude), so that
/// a generated type must not shadow them.
const RESERVED_TYPES: &[&str] = &[
    "Self",
    "Option",
    "Some",
    "None",
    "Result",
    "Ok",
    "Err",
    "Box",
    "Vec",
    "String",
    "Send",
    "Sync",
    "Sized",
    "Unpin",
    "Copy",
    "Clone",
    "Debug",
    "PartialEq",
    "Eq",
    "PartialOrd",
    "Ord",
    "Hash",
    "Default",
    "Drop",
    "Fn",
    "FnMut",
    "FnOnce",
    "From",
    "Into",
    "TryFrom",
    "TryInto",
    "AsRef",
    "AsMut",
    "Iterator",
    "IntoIterator",
    "Extend",
    "ToOwned",
    "ToString",
];

/// The words of a spec name: split at `_` (and anything not alphanumeric),
/// before an upper-case letter that follows a lower-case letter or a
/// digit, and before the last capital of an acronym that a lower-case
/// letter follows (`USBInterface` is `USB`, `Interface`).
fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    for segment in name.split(|c: char| !c.is_ascii_alphanumeric()) {
        let chars: Vec<char> = segment.chars().collect();
        let mut word = String::new();
        for (i, &c) in chars.iter().enumerate() {
            if i > 0 && c.is_ascii_uppercase() {
                let prev = chars[i - 1];
                let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
                if prev.is_ascii_lowercase()
                    || prev.is_ascii_digit()
                    || (prev.is_ascii_uppercase() && next_lower)
                {
                    words.push(std::mem::take(&mut word));
                }
            }
            word.push(c);
        }
        if !word.is_empty() {
            words.push(word);
        }
    }
    words
}

/// `snake_case` of a spec name (`USBInterfaceClient` is
/// `usb_interface_client`, `startComplete` is `start_complete`). Not yet
/// unique, and possibly a keyword: see [`Scope`].
fn snake_case(name: &str) -> String {
    let s = words(name)
        .iter()
        .map(|w| w.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join("_");
    if s.is_empty() {
        "x".into()
    } else if s.starts_with(|c: char| c.is_ascii_digit()) {
        format!("x{s}")
    } else {
        s
    }
}

/// `UpperCamelCase` of a spec name (`power_level_t` is `PowerLevelT`,
/// `USBPipeClient` is `UsbPipeClient`, `D0` stays `D0`).
fn upper_camel_case(name: &str) -> String {
    let s: String = words(name)
        .iter()
        .map(|w| {
            let mut cs = w.chars();
            match cs.next() {
                Some(first) => {
                    first.to_ascii_uppercase().to_string() + &cs.as_str().to_ascii_lowercase()
                }
                None => String::new(),
            }
        })
        .collect();
    if s.is_empty() {
        "X".into()
    } else if s.starts_with(|c: char| c.is_ascii_digit()) {
        format!("X{s}")
    } else {
        s
    }
}

/// The names already used in one Rust namespace: hands out unique ones.
#[derive(Default)]
struct Scope(HashSet<String>);

impl Scope {
    /// A scope where `reserved` are taken.
    fn with(reserved: &[&str]) -> Scope {
        Scope(reserved.iter().map(|s| s.to_string()).collect())
    }

    /// `base` if free, else `base{sep}2`, `base{sep}3`, ... (the first free).
    fn claim(&mut self, base: String, sep: &str) -> String {
        if self.0.insert(base.clone()) {
            return base;
        }
        (2..)
            .map(|n| format!("{base}{sep}{n}"))
            .find(|c| self.0.insert(c.clone()))
            .expect("a free name")
    }

    /// A unique `snake_case` name for `name` (a keyword gets a `_`).
    fn snake(&mut self, name: &str) -> String {
        let mut s = snake_case(name);
        if KEYWORDS.contains(&s.as_str()) {
            s.push('_');
        }
        self.claim(s, "_")
    }

    /// A unique `UpperCamelCase` name for `name`.
    fn camel(&mut self, name: &str) -> String {
        self.claim(upper_camel_case(name), "")
    }

    /// Claims `name` exactly, or a numbered variant of it.
    fn exact(&mut self, name: &str) -> String {
        self.claim(name.to_string(), "")
    }
}

/// Names of one protocol's generated items.
struct ProtoNames {
    module: String,
    /// Per message: its variant in `In` or `Out`.
    variants: Vec<String>,
    /// Per message, per parameter: its field.
    fields: Vec<Vec<String>>,
}

/// Every top-level name of the generated interfaces.
struct Names {
    types_module: String,
    /// Per enum type: its Rust name and its variants.
    enums: Vec<(String, Vec<String>)>,
    protocols: Vec<ProtoNames>,
    components: Vec<String>,
}

impl Names {
    fn new(model: &Model) -> Names {
        let mut modules = Scope::with(RESERVED_MODULES);
        let types_module = modules.exact("types");
        let mut enum_scope = Scope::with(RESERVED_TYPES);
        let enums = model
            .enums
            .iter()
            .map(|e| {
                let mut vs = Scope::with(&["Self"]);
                let variants = e.variants.iter().map(|(v, _)| vs.camel(v)).collect();
                (enum_scope.camel(&e.name), variants)
            })
            .collect();
        let protocols = model
            .protocols
            .iter()
            .map(|p| {
                let module = modules.snake(&p.name);
                let mut ins = Scope::with(&["Self"]);
                let mut outs = Scope::with(&["Self"]);
                let variants = p
                    .messages
                    .iter()
                    .map(|m| match m.direction {
                        Direction::In => ins.camel(&m.name),
                        Direction::Out => outs.camel(&m.name),
                    })
                    .collect();
                let fields = p
                    .messages
                    .iter()
                    .map(|m| {
                        let mut fs = Scope::default();
                        m.params.iter().map(|x| fs.snake(&x.name)).collect()
                    })
                    .collect();
                ProtoNames {
                    module,
                    variants,
                    fields,
                }
            })
            .collect();
        let components = model
            .components
            .iter()
            .map(|c| modules.snake(&c.name))
            .collect();
        Names {
            types_module,
            enums,
            protocols,
            components,
        }
    }

    /// The Rust type of a parameter, seen from a sibling module of `types`.
    fn rust_type(&self, ty: Type) -> String {
        match ty {
            Type::Bool => "bool".into(),
            Type::Int(i) => i.name().into(),
            Type::Enum(e) => format!("super::{}::{}", self.types_module, self.enums[e as usize].0),
            Type::Opaque(_) | Type::Port(_) => "i64".into(),
        }
    }

    /// `v` (of the parameter's Rust type) as an `i64`.
    fn as_i64(&self, ty: Type, v: &str) -> String {
        match ty {
            Type::Int(IntType::I64) | Type::Opaque(_) | Type::Port(_) => v.into(),
            Type::Int(IntType::U64) => format!("{v} as i64"),
            Type::Int(_) | Type::Bool => format!("i64::from({v})"),
            Type::Enum(_) => format!("{v}.value()"),
        }
    }

    /// The typed value of `v: i64`, or `return None` when it is not one.
    fn parse_i64(&self, ty: Type, v: &str) -> String {
        match ty {
            Type::Int(IntType::I64) | Type::Opaque(_) | Type::Port(_) => v.into(),
            Type::Int(i) => format!("{}::try_from({v}).ok()?", i.name()),
            Type::Bool => format!("match {v} {{ 0 => false, 1 => true, _ => return None }}"),
            Type::Enum(_) => format!("{}::from_value({v})?", self.rust_type(ty)),
        }
    }
}

/// The first paragraph of a spec doc comment, each line trimmed (so that
/// no indented text becomes a code block, which rustdoc would test).
/// Empty when there is none, or when it holds a code fence.
fn summary(docs: &[String]) -> Vec<String> {
    let lines: Vec<String> = docs
        .iter()
        .map(|l| l.trim())
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if lines
        .iter()
        .any(|l| l.starts_with("```") || l.starts_with("~~~"))
    {
        Vec::new()
    } else {
        lines
    }
}

/// A short doc, then the spec's summary as a second paragraph.
fn doc_with(first: String, docs: &[String]) -> Vec<String> {
    let mut lines = vec![first];
    let s = summary(docs);
    if !s.is_empty() {
        lines.push(String::new());
        lines.extend(s);
    }
    lines
}

/// Whether every letter of a name is upper case (clippy's
/// `upper_case_acronyms` then applies).
fn all_caps(name: &str) -> bool {
    name.len() > 1 && !name.chars().any(|c| c.is_ascii_lowercase())
}

/// `#[allow]` for a generated enum or struct named `name`.
fn type_allows(out: &mut Out, name: &str, is_enum: bool) {
    let mut lints = Vec::new();
    if is_enum {
        lints.push("clippy::enum_variant_names");
    }
    if all_caps(name) {
        lints.push("clippy::upper_case_acronyms");
    }
    if !lints.is_empty() {
        out.line(format!("#[allow({})]", lints.join(", ")));
    }
}

/// `#[allow]` for a generated method named `name` with `params` parameters
/// besides `&self`.
fn method_allows(out: &mut Out, name: &str, params: usize) {
    let mut lints = Vec::new();
    if params + 1 > 7 {
        lints.push("clippy::too_many_arguments");
    }
    if ["into_", "from_", "to_", "as_", "is_"]
        .iter()
        .any(|p| name.starts_with(p))
    {
        lints.push("clippy::wrong_self_convention");
    }
    // Names of operator and conversion traits with a method of that name.
    if [
        "add", "sub", "mul", "div", "rem", "neg", "not", "next", "eq", "cmp", "hash", "default",
        "deref", "index", "drop", "borrow", "clone", "shl", "shr", "bitand", "bitor", "bitxor",
    ]
    .contains(&name)
    {
        lints.push("clippy::should_implement_trait");
    }
    if !lints.is_empty() {
        out.line(format!("#[allow({})]", lints.join(", ")));
    }
}

/// Checks that every message and subport fits a `Wire`.
fn check_limits(model: &Model) -> Result<(), String> {
    let mut errors = Vec::new();
    for p in &model.protocols {
        if p.messages.len() > usize::from(u16::MAX) + 1 {
            errors.push(format!(
                "protocol `{}` has {} messages; a wire numbers at most 65536",
                p.name,
                p.messages.len()
            ));
        }
        for m in &p.messages {
            if m.params.len() > MAX_ARGS {
                errors.push(format!(
                    "message `{}` of protocol `{}` has {} parameters; a wire carries at most {MAX_ARGS}",
                    m.name,
                    p.name,
                    m.params.len()
                ));
            }
        }
    }
    for c in &model.components {
        if c.port_count > usize::from(u16::MAX) + 1 {
            errors.push(format!(
                "component `{}` has {} ports; a wire numbers at most 65536",
                c.name, c.port_count
            ));
        }
        for (k, kind) in c.kinds.iter().enumerate() {
            let depth = path_of(c, KindId(k as u32)).len();
            if depth > MAX_DEPTH {
                errors.push(format!(
                    "subport kind `{}` of component `{}` is {depth} levels below its port; a wire carries at most {MAX_DEPTH}",
                    kind.name, c.name
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

/// The spawning messages from the declared port down to `kind`, outermost
/// first, and the declared port.
fn path_of(c: &ir::Component, kind: KindId) -> Vec<u16> {
    let mut path = Vec::new();
    let mut k = kind;
    while let Some((parent, m)) = c.kind(k).spawned_by {
        path.push(m.0 as u16);
        k = parent;
    }
    path.reverse();
    path
}

/// The declared port a kind lives under.
fn root_of(c: &ir::Component, kind: KindId) -> u16 {
    let mut k = kind;
    while let Some((parent, _)) = c.kind(k).spawned_by {
        k = parent;
    }
    k.0 as u16
}

/// The direction of the messages the component receives on a kind: those
/// declared `in`, or `out` on a mirrored kind (a subport of a mirrored port
/// is mirrored too: `PortKind::mirror`, as the observer reads it).
fn received(kind: &ir::PortKind) -> Direction {
    if kind.mirror {
        Direction::Out
    } else {
        Direction::In
    }
}

fn enum_name(d: Direction) -> &'static str {
    match d {
        Direction::In => "In",
        Direction::Out => "Out",
    }
}

fn flip(d: Direction) -> Direction {
    match d {
        Direction::In => Direction::Out,
        Direction::Out => Direction::In,
    }
}

/// Rust source for the port interfaces of `model` (see the crate
/// documentation), to append to the observers of [`crate::generate`].
pub(crate) fn generate(model: &Model, sources: &[(String, String)]) -> Result<String, String> {
    check_limits(model)?;
    let names = Names::new(model);
    let mut out = Out::default();
    out.line("");
    out.line("// ---- port interfaces ----------------------------------------------------");
    out.line("//");
    out.line("// Per enum type a Rust enum (module `types`); per protocol a module with its");
    out.line("// `In` and `Out` messages; per component a module with its `Event`s, typed");
    out.line("// send handles (`Ports`) and a `::dingo::wire::Component`. Message ids are");
    out.line("// indices into `model().proto(p).messages`.");
    out.line("");
    let max_args = model
        .protocols
        .iter()
        .flat_map(|p| &p.messages)
        .map(|m| m.params.len())
        .max()
        .unwrap_or(0);
    let max_depth = model
        .components
        .iter()
        .flat_map(|c| (0..c.kinds.len()).map(|k| path_of(c, KindId(k as u32)).len()))
        .max()
        .unwrap_or(0);
    let mut needs = Vec::new();
    if max_args > 0 {
        needs.push(format!("::dingo::wire::MAX_ARGS >= {max_args}"));
    }
    if max_depth > 0 {
        needs.push(format!("::dingo::wire::MAX_DEPTH >= {max_depth}"));
    }
    if !needs.is_empty() {
        out.line(format!(
            "const _: () = assert!({}, \"the specs need longer wires than `dingo::wire` carries\");",
            needs.join(" && ")
        ));
        out.line("");
    }
    generate_types(&mut out, model, &names);
    for (i, p) in model.protocols.iter().enumerate() {
        let file = sources
            .get(p.span.file.0 as usize)
            .map_or("?", |(n, _)| n.as_str());
        generate_protocol(&mut out, model, &names, &names.protocols[i], p, file);
    }
    for (i, c) in model.components.iter().enumerate() {
        ComponentGen::new(model, &names, c, &names.components[i]).generate(&mut out);
    }
    Ok(out.text)
}

fn generate_types(out: &mut Out, model: &Model, names: &Names) {
    out.line("/// The enum types of the specs, with their values.");
    out.open(format!("pub mod {} {{", names.types_module));
    for (i, (e, (name, variants))) in model.enums.iter().zip(&names.enums).enumerate() {
        out.line(format!("/// `enum {}` of the specs.", e.name));
        out.line("#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]");
        type_allows(out, name, true);
        out.open(format!("pub enum {name} {{"));
        for ((v, value), rust) in e.variants.iter().zip(variants) {
            out.line(format!("/// `{v}` (value {value})."));
            out.line(format!("{rust},"));
        }
        out.close("}");
        out.line("");
        out.open(format!("impl {name} {{"));
        out.line("/// Every variant, in declared order.");
        out.line(format!(
            "pub const ALL: [{name}; {}] = [{}];",
            variants.len(),
            variants
                .iter()
                .map(|v| format!("{name}::{v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        out.line("");
        out.line("/// The variant's value in the specs (what a `Wire` carries).");
        out.open("pub const fn value(self) -> i64 {");
        if variants.is_empty() {
            out.line("match self {}");
        } else {
            out.open("match self {");
            for ((_, value), rust) in e.variants.iter().zip(variants) {
                out.line(format!("{name}::{rust} => {value},"));
            }
            out.close("}");
        }
        out.close("}");
        out.line("");
        out.line("/// The variant with this value, if any.");
        out.open(format!("pub fn from_value(v: i64) -> Option<{name}> {{"));
        let mut seen = HashSet::new();
        let arms: Vec<String> = e
            .variants
            .iter()
            .zip(variants)
            .filter(|((_, value), _)| seen.insert(*value))
            .map(|((_, value), rust)| format!("{value} => Some({name}::{rust}),"))
            .collect();
        if arms.is_empty() {
            out.line("let _ = v;");
            out.line("None");
        } else {
            out.open("match v {");
            for a in arms {
                out.line(a);
            }
            out.line("_ => None,");
            out.close("}");
        }
        out.close("}");
        out.close("}");
        if i + 1 < model.enums.len() {
            out.line("");
        }
    }
    out.close("}");
    out.line("");
}

fn generate_protocol(
    out: &mut Out,
    model: &Model,
    names: &Names,
    pn: &ProtoNames,
    p: &Protocol,
    file: &str,
) {
    out.doc(&doc_with(
        format!("Messages of protocol `{}` (declared in `{file}`).", p.name),
        &p.docs,
    ));
    out.open(format!("pub mod {} {{", pn.module));
    for dir in [Direction::In, Direction::Out] {
        generate_messages(out, model, names, pn, p, dir);
    }
    out.close("}");
    out.line("");
}

/// `enum In` or `enum Out` of a protocol, and its conversions.
fn generate_messages(
    out: &mut Out,
    model: &Model,
    names: &Names,
    pn: &ProtoNames,
    p: &Protocol,
    dir: Direction,
) {
    let en = enum_name(dir);
    let msgs: Vec<usize> = (0..p.messages.len())
        .filter(|&m| p.messages[m].direction == dir)
        .collect();
    let word = if dir == Direction::In { "in" } else { "out" };
    out.line(format!(
        "/// The messages of `{}` declared `{word}` (`{}`).",
        p.name,
        dir.sigil()
    ));
    out.line("///");
    out.line(match dir {
        Direction::In => {
            "/// A component receives them on a plain port and sends them on a `mirror` port."
        }
        Direction::Out => {
            "/// A component sends them on a plain port and receives them on a `mirror` port."
        }
    });
    out.line("#[derive(Clone, Copy, Debug, PartialEq, Eq)]");
    type_allows(out, en, true);
    out.open(format!("pub enum {en} {{"));
    for &m in &msgs {
        let msg = &p.messages[m];
        let mut lines = doc_with(
            format!(
                "`{}{}` of `{}` (message {m}).",
                dir.sigil(),
                msg.name,
                p.name
            ),
            &msg.docs,
        );
        if msg.concurrent {
            lines.push(String::new());
            lines.push("Declared `concurrent`.".into());
        }
        out.doc(&lines);
        let v = &pn.variants[m];
        if msg.params.is_empty() {
            out.line(format!("{v},"));
        } else {
            out.open(format!("{v} {{"));
            for (x, f) in msg.params.iter().zip(&pn.fields[m]) {
                let what = match x.ty {
                    Type::Port(sub) => format!(
                        "; the key of the `{}` subport it spawns",
                        model.proto(sub).name
                    ),
                    Type::Opaque(_) => "; an opaque handle".into(),
                    _ => String::new(),
                };
                out.line(format!("/// Parameter `{}`{what}.", x.name));
                out.line(format!("{f}: {},", names.rust_type(x.ty)));
            }
            out.close("},");
        }
    }
    out.close("}");
    out.line("");
    out.open(format!("impl {en} {{"));
    // message()
    out.line(format!(
        "/// The message's index in `{}`'s messages (`Wire::message`).",
        p.name
    ));
    out.open("pub fn message(&self) -> u16 {");
    if msgs.is_empty() {
        out.line("match *self {}");
    } else {
        out.open("match *self {");
        for &m in &msgs {
            out.line(format!("{} => {m},", pattern(en, pn, p, m, false)));
        }
        out.close("}");
    }
    out.close("}");
    out.line("");
    // args()
    out.line("/// The argument values (`Wire::args`) and how many there are.");
    out.open("pub fn args(&self) -> ([i64; ::dingo::wire::MAX_ARGS], u8) {");
    if msgs.is_empty() {
        out.line("match *self {}");
    } else {
        let any = msgs.iter().any(|&m| !p.messages[m].params.is_empty());
        out.line(format!(
            "let {}a = [0i64; ::dingo::wire::MAX_ARGS];",
            if any { "mut " } else { "" }
        ));
        out.open("match *self {");
        for &m in &msgs {
            let params = &p.messages[m].params;
            if params.is_empty() {
                out.line(format!("{} => (a, 0),", pattern(en, pn, p, m, false)));
            } else {
                out.open(format!("{} => {{", pattern(en, pn, p, m, true)));
                for (i, x) in params.iter().enumerate() {
                    out.line(format!(
                        "a[{i}] = {};",
                        names.as_i64(x.ty, &format!("v{i}"))
                    ));
                }
                out.line(format!("(a, {})", params.len()));
                out.close("}");
            }
        }
        out.close("}");
    }
    out.close("}");
    out.line("");
    // from_parts()
    out.line(format!(
        "/// The `{word}` message with this index and these argument values; `None`"
    ));
    out.line("/// for another index, another number of arguments, or a value outside its");
    out.line("/// parameter's type.");
    out.open(format!(
        "pub fn from_parts(message: u16, args: &[i64]) -> Option<{en}> {{"
    ));
    if msgs.is_empty() {
        out.line("let _ = (message, args);");
        out.line("None");
    } else {
        out.open("match (message, args) {");
        for &m in &msgs {
            let msg = &p.messages[m];
            let v = &pn.variants[m];
            if msg.params.is_empty() {
                out.line(format!("({m}, []) => Some({en}::{v}),"));
            } else {
                let binds: Vec<String> = (0..msg.params.len()).map(|i| format!("v{i}")).collect();
                out.open(format!(
                    "({m}, &[{}]) => Some({en}::{v} {{",
                    binds.join(", ")
                ));
                for (i, (x, f)) in msg.params.iter().zip(&pn.fields[m]).enumerate() {
                    out.line(format!("{f}: {},", names.parse_i64(x.ty, &format!("v{i}"))));
                }
                out.close("}),");
            }
        }
        out.line("_ => None,");
        out.close("}");
    }
    out.close("}");
    out.line("");
    // is_concurrent()
    out.line("/// Whether the spec declares the message `concurrent`.");
    out.open("pub fn is_concurrent(&self) -> bool {");
    let concurrent: Vec<String> = msgs
        .iter()
        .filter(|&&m| p.messages[m].concurrent)
        .map(|&m| pattern(en, pn, p, m, false))
        .collect();
    if msgs.is_empty() {
        out.line("match *self {}");
    } else if concurrent.is_empty() {
        out.line("false");
    } else {
        out.line(format!("matches!(self, {})", concurrent.join(" | ")));
    }
    out.close("}");
    out.close("}");
    out.line("");
}

/// The pattern of message `m`'s variant: `In::Start`, `In::Sleep { .. }`,
/// or, binding the fields to `v0`, `v1`..., `In::Sleep { level: v0 }`.
fn pattern(en: &str, pn: &ProtoNames, p: &Protocol, m: usize, bind: bool) -> String {
    let v = &pn.variants[m];
    if p.messages[m].params.is_empty() {
        format!("{en}::{v}")
    } else if bind {
        let fields: Vec<String> = pn.fields[m]
            .iter()
            .enumerate()
            .map(|(i, f)| format!("{f}: v{i}"))
            .collect();
        format!("{en}::{v} {{ {} }}", fields.join(", "))
    } else {
        format!("{en}::{v} {{ .. }}")
    }
}

/// Generated names of one kind (declared port or subport kind).
struct KindNames {
    /// The variant of `Event`.
    event: String,
    /// The handle type.
    handle: String,
    /// The field of `Ports` (declared ports only).
    field: Option<String>,
    /// Per message the component sends: the handle's method.
    methods: Vec<Option<String>>,
    /// Per spawning message: the handle's method that returns the child's
    /// handle, and the child kind.
    subs: Vec<Option<(String, KindId)>>,
}

struct ComponentGen<'a> {
    model: &'a Model,
    names: &'a Names,
    c: &'a ir::Component,
    module: &'a str,
    /// The component's unit struct.
    name: String,
    kinds: Vec<KindNames>,
}

impl<'a> ComponentGen<'a> {
    fn new(
        model: &'a Model,
        names: &'a Names,
        c: &'a ir::Component,
        module: &'a str,
    ) -> ComponentGen<'a> {
        let mut types = Scope::with(RESERVED_TYPES);
        types.exact("Event");
        types.exact("Ports");
        let name = types.camel(&c.name);
        let mut variants = Scope::with(&["Self"]);
        let mut fields = Scope::default();
        let kinds: Vec<KindNames> = c
            .kinds
            .iter()
            .enumerate()
            .map(|(k, kind)| {
                let camel: String = kind.name.split('.').map(upper_camel_case).collect();
                let p = model.proto(kind.protocol);
                let sent = flip(received(kind));
                let mut methods = Scope::with(&["send", "keys"]);
                let ms = p
                    .messages
                    .iter()
                    .map(|m| (m.direction == sent).then(|| methods.snake(&m.name)))
                    .collect();
                let subs = p
                    .messages
                    .iter()
                    .enumerate()
                    .map(|(m, msg)| {
                        msg.spawns?;
                        let child = c.kinds.iter().position(|ck| {
                            ck.spawned_by == Some((KindId(k as u32), ir::MessageId(m as u32)))
                        })?;
                        Some((
                            methods.claim(format!("{}_sub", snake_case(&msg.name)), "_"),
                            KindId(child as u32),
                        ))
                    })
                    .collect();
                KindNames {
                    event: variants.claim(camel.clone(), ""),
                    handle: types.claim(format!("{camel}Port"), ""),
                    field: (k < c.port_count).then(|| fields.snake(&kind.name)),
                    methods: ms,
                    subs,
                }
            })
            .collect();
        ComponentGen {
            model,
            names,
            c,
            module,
            name,
            kinds,
        }
    }

    fn proto_module(&self, kind: &ir::PortKind) -> &str {
        &self.names.protocols[kind.protocol.0 as usize].module
    }

    /// `super::lifecycle::In`: what the component receives on a kind.
    fn received_type(&self, kind: &ir::PortKind) -> String {
        format!(
            "super::{}::{}",
            self.proto_module(kind),
            enum_name(received(kind))
        )
    }

    /// `super::lifecycle::Out`: what the component sends on a kind.
    fn sent_type(&self, kind: &ir::PortKind) -> String {
        format!(
            "super::{}::{}",
            self.proto_module(kind),
            enum_name(flip(received(kind)))
        )
    }

    /// How a kind reads in docs: `lc` (`Lifecycle`), `usb.pipeOpen`
    /// subports (`USBPipeClient`, mirrored).
    fn describe(&self, k: usize) -> String {
        let kind = &self.c.kinds[k];
        let p = self.model.proto(kind.protocol);
        let mirror = if kind.mirror { ", mirrored" } else { "" };
        if k < self.c.port_count {
            format!("port `{}` (`{}`{mirror})", kind.name, p.name)
        } else {
            format!("`{}` subports (`{}`{mirror})", kind.name, p.name)
        }
    }

    fn generate(&self, out: &mut Out) {
        let c = self.c;
        out.doc(&doc_with(
            format!(
                "The port interface of component `{}`: `{}` implements `dingo::wire::Component`.",
                c.name, self.name
            ),
            &c.docs,
        ));
        out.open(format!("pub mod {} {{", self.module));
        self.generate_event(out);
        self.generate_ports(out);
        for k in 0..c.kinds.len() {
            self.generate_handle(out, k);
        }
        self.generate_component(out);
        if !c.kinds.is_empty() {
            out.line("");
            out.line("/// A wire from its parts (the path is added with `Wire::under`).");
            out.line("#[inline]");
            out.open("fn wire(port: u16, message: u16, (args, nargs): ([i64; ::dingo::wire::MAX_ARGS], u8), from_driver: bool) -> ::dingo::wire::Wire {");
            out.line("::dingo::wire::Wire { args, nargs, ..::dingo::wire::Wire::new(port, message, from_driver) }");
            out.close("}");
        }
        out.close("}");
        out.line("");
    }

    fn generate_event(&self, out: &mut Out) {
        let c = self.c;
        out.line(format!(
            "/// Every message component `{}` receives, typed: one variant per port",
            c.name
        ));
        out.line("/// and per kind of subport.");
        out.line("#[derive(Clone, Copy, Debug, PartialEq, Eq)]");
        type_allows(out, "Event", true);
        out.open("pub enum Event {");
        for (k, kind) in c.kinds.iter().enumerate() {
            let kn = &self.kinds[k];
            let dir = received(kind);
            out.line(format!(
                "/// A message on {}: those declared `{}`.",
                self.describe(k),
                if dir == Direction::In { "in" } else { "out" }
            ));
            let ty = self.received_type(kind);
            let depth = path_of(c, KindId(k as u32)).len();
            if depth == 0 {
                out.line(format!("{}({ty}),", kn.event));
            } else {
                out.open(format!("{} {{", kn.event));
                out.line("/// The subport's key at each level, outermost first.");
                out.line(format!("keys: [i64; {depth}],"));
                out.line("/// The message.");
                out.line(format!("event: {ty},"));
                out.close("},");
            }
        }
        out.close("}");
        out.line("");
        out.open("impl Event {");
        out.line("/// The message as a `Wire` travelling to the component.");
        out.open("pub fn wire(&self) -> ::dingo::wire::Wire {");
        if c.kinds.is_empty() {
            out.line("match *self {}");
        } else {
            out.open("match *self {");
            for (k, kn) in self.kinds.iter().enumerate() {
                let path = path_of(c, KindId(k as u32));
                let root = root_of(c, KindId(k as u32));
                if path.is_empty() {
                    out.line(format!(
                        "Event::{}(e) => wire({root}, e.message(), e.args(), false),",
                        kn.event
                    ));
                } else {
                    let unders: String = path
                        .iter()
                        .enumerate()
                        .map(|(i, s)| format!(".under({s}, keys[{i}])"))
                        .collect();
                    out.line(format!(
                        "Event::{} {{ keys, event }} => wire({root}, event.message(), event.args(), false){unders},",
                        kn.event
                    ));
                }
            }
            out.close("}");
        }
        out.close("}");
        out.line("");
        out.line("/// Whether the spec declares the message `concurrent`.");
        out.open("pub fn is_concurrent(&self) -> bool {");
        if c.kinds.is_empty() {
            out.line("match *self {}");
        } else {
            out.open("match *self {");
            for (k, kn) in self.kinds.iter().enumerate() {
                if path_of(c, KindId(k as u32)).is_empty() {
                    out.line(format!("Event::{}(e) => e.is_concurrent(),", kn.event));
                } else {
                    out.line(format!(
                        "Event::{} {{ event, .. }} => event.is_concurrent(),",
                        kn.event
                    ));
                }
            }
            out.close("}");
        }
        out.close("}");
        out.close("}");
        out.line("");
    }

    fn generate_ports(&self, out: &mut Out) {
        let c = self.c;
        out.line(format!(
            "/// Typed send handles for every port of component `{}`.",
            c.name
        ));
        out.line("#[derive(Clone, Debug)]");
        out.open("pub struct Ports {");
        for k in 0..c.port_count {
            let kn = &self.kinds[k];
            out.line(format!(
                "/// What the driver sends on {}.",
                self.describe(k)
            ));
            out.line(format!(
                "pub {}: {},",
                kn.field.as_deref().unwrap_or("x"),
                kn.handle
            ));
        }
        out.close("}");
        out.line("");
        out.open("impl Ports {");
        out.line("/// Handles that send through `sender`.");
        out.open("pub fn new(sender: ::dingo::wire::Sender) -> Ports {");
        if c.port_count == 0 {
            out.line("let _ = sender;");
            out.line("Ports {}");
        } else {
            out.open("Ports {");
            for k in 0..c.port_count {
                let kn = &self.kinds[k];
                let s = if k + 1 == c.port_count {
                    "sender"
                } else {
                    "sender: sender.clone()"
                };
                out.line(format!(
                    "{}: {} {{ {s} }},",
                    kn.field.as_deref().unwrap_or("x"),
                    kn.handle
                ));
            }
            out.close("}");
        }
        out.close("}");
        out.close("}");
        out.line("");
    }

    fn generate_handle(&self, out: &mut Out, k: usize) {
        let c = self.c;
        let kind = &c.kinds[k];
        let kn = &self.kinds[k];
        let p = self.model.proto(kind.protocol);
        let path = path_of(c, KindId(k as u32));
        let root = root_of(c, KindId(k as u32));
        let depth = path.len();
        let sent_dir = flip(received(kind));
        let sent = self.sent_type(kind);
        let what = if depth == 0 {
            format!("The send handle of {}", self.describe(k))
        } else {
            format!("The send handle of one of the {}", self.describe(k))
        };
        out.line(format!(
            "/// {what}: the messages declared `{}`.",
            if sent_dir == Direction::In {
                "in"
            } else {
                "out"
            }
        ));
        out.line("#[derive(Clone, Debug)]");
        type_allows(out, &kn.handle, false);
        out.open(format!("pub struct {} {{", kn.handle));
        out.line("sender: ::dingo::wire::Sender,");
        if depth > 0 {
            out.line(format!("keys: [i64; {depth}],"));
        }
        out.close("}");
        out.line("");
        out.open(format!("impl {} {{", kn.handle));
        out.line("/// Sends a message of this (sub)port.");
        out.open(format!(
            "pub fn send(&self, message: {sent}) -> Result<(), ::dingo::wire::SendError> {{"
        ));
        let unders: String = path
            .iter()
            .enumerate()
            .map(|(i, s)| format!(".under({s}, self.keys[{i}])"))
            .collect();
        out.line(format!(
            "self.sender.send(wire({root}, message.message(), message.args(), true){unders})"
        ));
        out.close("}");
        if depth > 0 {
            out.line("");
            out.line("/// The subport's key at each level, outermost first.");
            out.open(format!("pub fn keys(&self) -> [i64; {depth}] {{"));
            out.line("self.keys");
            out.close("}");
        }
        let pn = &self.names.protocols[kind.protocol.0 as usize];
        for (m, msg) in p.messages.iter().enumerate() {
            let Some(method) = &kn.methods[m] else {
                continue;
            };
            out.line("");
            let mut lines = doc_with(
                format!(
                    "Sends `{}{}` (message {m} of `{}`).",
                    msg.direction.sigil(),
                    msg.name,
                    p.name
                ),
                &msg.docs,
            );
            if let Some((i, _)) = msg.spawns {
                lines.push(String::new());
                lines.push(format!(
                    "`{}` is the key of the subport it spawns; send on it with `{}`.",
                    pn.fields[m][i],
                    kn.subs[m].as_ref().map_or("?", |(s, _)| s.as_str())
                ));
            }
            out.doc(&lines);
            method_allows(out, method, msg.params.len());
            let params: Vec<String> = msg
                .params
                .iter()
                .zip(&pn.fields[m])
                .map(|(x, f)| format!(", {f}: {}", self.names.rust_type(x.ty)))
                .collect();
            out.open(format!(
                "pub fn {method}(&self{}) -> Result<(), ::dingo::wire::SendError> {{",
                params.concat()
            ));
            let v = &pn.variants[m];
            if msg.params.is_empty() {
                out.line(format!("self.send({sent}::{v})"));
            } else {
                out.line(format!(
                    "self.send({sent}::{v} {{ {} }})",
                    pn.fields[m].join(", ")
                ));
            }
            out.close("}");
        }
        for (m, sub) in kn.subs.iter().enumerate() {
            let Some((method, child)) = sub else {
                continue;
            };
            let ck = &self.kinds[child.0 as usize];
            out.line("");
            out.line(format!(
                "/// The handle of the subport that `{}{}` spawned with `key`.",
                p.messages[m].direction.sigil(),
                p.messages[m].name
            ));
            out.open(format!(
                "pub fn {method}(&self, key: i64) -> {} {{",
                ck.handle
            ));
            let keys: Vec<String> = (0..depth)
                .map(|i| format!("self.keys[{i}]"))
                .chain(["key".to_string()])
                .collect();
            out.open(format!("{} {{", ck.handle));
            out.line("sender: self.sender.clone(),");
            out.line(format!("keys: [{}],", keys.join(", ")));
            out.close("}");
            out.close("}");
        }
        out.close("}");
        out.line("");
    }

    fn generate_component(&self, out: &mut Out) {
        let c = self.c;
        let name = &self.name;
        out.line(format!(
            "/// Component `{}`: its typed interface for the Dingo runtime.",
            c.name
        ));
        out.line("#[derive(Clone, Copy, Debug, Default)]");
        type_allows(out, name, false);
        out.line(format!("pub struct {name};"));
        out.line("");
        out.open(format!("impl ::dingo::wire::Component for {name} {{"));
        out.line(format!("const NAME: &'static str = {:?};", c.name));
        out.line("type Event = Event;");
        out.line("type Ports = Ports;");
        out.line("");
        out.open("fn event(w: &::dingo::wire::Wire) -> Option<Event> {");
        out.open("if w.from_driver || usize::from(w.depth) > ::dingo::wire::MAX_DEPTH || usize::from(w.nargs) > ::dingo::wire::MAX_ARGS {");
        out.line("return None;");
        out.close("}");
        if c.kinds.is_empty() {
            out.line("None");
        } else {
            out.open("match (w.port, w.path()) {");
            for (k, kind) in c.kinds.iter().enumerate() {
                let kn = &self.kinds[k];
                let (root, pat, keys) = self.path_pattern(k);
                let ty = self.received_type(kind);
                if keys.is_empty() {
                    out.line(format!(
                        "({root}, {pat}) => {ty}::from_parts(w.message, w.args()).map(Event::{}),",
                        kn.event
                    ));
                } else {
                    out.line(format!(
                        "({root}, {pat}) => {ty}::from_parts(w.message, w.args()).map(|event| Event::{} {{ keys: [{}], event }}),",
                        kn.event,
                        keys.join(", ")
                    ));
                }
            }
            out.line("_ => None,");
            out.close("}");
        }
        out.close("}");
        out.line("");
        out.open("fn is_concurrent(w: &::dingo::wire::Wire) -> bool {");
        let arms: Vec<String> = c
            .kinds
            .iter()
            .enumerate()
            .filter_map(|(k, kind)| {
                let p = self.model.proto(kind.protocol);
                let dir = received(kind);
                let ms: Vec<String> = p
                    .messages
                    .iter()
                    .enumerate()
                    .filter(|(_, m)| m.direction == dir && m.concurrent)
                    .map(|(i, _)| i.to_string())
                    .collect();
                if ms.is_empty() {
                    return None;
                }
                // Keys do not matter here.
                let root = root_of(c, KindId(k as u32));
                let path = path_of(c, KindId(k as u32));
                let shape: Vec<String> = path.iter().map(|s| format!("({s}, _)")).collect();
                Some(format!(
                    "({root}, [{}]) => matches!(w.message, {}),",
                    shape.join(", "),
                    ms.join(" | ")
                ))
            })
            .collect();
        if arms.is_empty() {
            out.line("let _ = w;");
            out.line("false");
        } else {
            out.open("if w.from_driver || usize::from(w.depth) > ::dingo::wire::MAX_DEPTH || usize::from(w.nargs) > ::dingo::wire::MAX_ARGS {");
            out.line("return false;");
            out.close("}");
            out.open("match (w.port, w.path()) {");
            for a in arms {
                out.line(a);
            }
            out.line("_ => false,");
            out.close("}");
        }
        out.close("}");
        out.line("");
        out.open("fn wire(event: &Event) -> ::dingo::wire::Wire {");
        out.line("event.wire()");
        out.close("}");
        out.line("");
        out.open("fn ports(sender: ::dingo::wire::Sender) -> Ports {");
        out.line("Ports::new(sender)");
        out.close("}");
        out.line("");
        out.open("fn port_names() -> &'static [&'static str] {");
        let ports: Vec<String> = c.kinds[..c.port_count]
            .iter()
            .map(|k| format!("{:?}", k.name))
            .collect();
        out.line(format!("&[{}]", ports.join(", ")));
        out.close("}");
        out.line("");
        out.open("fn model() -> ::std::sync::Arc<::tingu::ir::Model> {");
        out.line("super::model()");
        out.close("}");
        out.line("");
        out.open("fn backend() -> &'static dyn ::tingu_observer::Backend {");
        out.line("&super::CompiledBackend");
        out.close("}");
        out.close("}");
    }

    /// The declared port of kind `k`, a slice pattern for its path that
    /// binds the keys to `k0`, `k1`..., and those names.
    fn path_pattern(&self, k: usize) -> (u16, String, Vec<String>) {
        let path = path_of(self.c, KindId(k as u32));
        let keys: Vec<String> = (0..path.len()).map(|i| format!("k{i}")).collect();
        let levels: Vec<String> = path
            .iter()
            .zip(&keys)
            .map(|(s, key)| format!("({s}, {key})"))
            .collect();
        let pat = if levels.is_empty() {
            "[]".to_string()
        } else {
            format!("&[{}]", levels.join(", "))
        };
        (root_of(self.c, KindId(k as u32)), pat, keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_splits_words_and_acronyms() {
        for (spec, rust) in [
            ("Lifecycle", "lifecycle"),
            ("USBInterfaceClient", "usb_interface_client"),
            ("EthernetController", "ethernet_controller"),
            ("MultiQueueNIC", "multi_queue_nic"),
            ("startComplete", "start_complete"),
            ("txPacketDone", "tx_packet_done"),
            ("speed_mbps", "speed_mbps"),
            ("power_level_t", "power_level_t"),
            ("D0", "d0"),
            ("Ipv4Addr", "ipv4_addr"),
            ("HTTPServer2Go", "http_server2_go"),
            ("__x__y", "x_y"),
            ("_", "x"),
            ("_1st", "x1st"),
        ] {
            assert_eq!(snake_case(spec), rust, "{spec}");
        }
    }

    #[test]
    fn upper_camel_case_splits_words_and_acronyms() {
        for (spec, rust) in [
            ("power_level_t", "PowerLevelT"),
            ("USBPipeClient", "UsbPipeClient"),
            ("startComplete", "StartComplete"),
            ("lc", "Lc"),
            ("D0", "D0"),
            ("TURBO", "Turbo"),
            ("mqnic_driver", "MqnicDriver"),
            ("_", "X"),
            ("_9", "X9"),
        ] {
            assert_eq!(upper_camel_case(spec), rust, "{spec}");
        }
    }

    #[test]
    fn scopes_make_names_unique_and_avoid_keywords() {
        let mut s = Scope::default();
        assert_eq!(s.snake("fooBar"), "foo_bar");
        assert_eq!(s.snake("foo_bar"), "foo_bar_2");
        assert_eq!(s.snake("FooBar"), "foo_bar_3");
        assert_eq!(s.snake("type"), "type_");
        assert_eq!(s.snake("self"), "self_");
        assert_eq!(s.snake("in"), "in_");
        let mut s = Scope::with(RESERVED_TYPES);
        assert_eq!(s.camel("self"), "Self2");
        assert_eq!(s.camel("option"), "Option2");
        assert_eq!(s.camel("a_b"), "AB");
        assert_eq!(s.camel("AB"), "Ab");
        assert_eq!(s.camel("ab"), "Ab2");
        let mut m = Scope::with(RESERVED_MODULES);
        assert_eq!(m.snake("U8"), "u8_2");
    }

    #[test]
    fn summaries_are_the_first_paragraph_without_code() {
        let docs: Vec<String> = ["", "  One line", "two", "", "    indented code"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(summary(&docs), ["One line", "two"]);
        let fence: Vec<String> = ["```", "x", "```"].iter().map(|s| s.to_string()).collect();
        assert!(summary(&fence).is_empty());
    }
}
