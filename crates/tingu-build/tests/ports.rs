//! `compile_with_ports` and `generate_with_ports`: what they add to the
//! observers, and the specs they refuse. (The generated interfaces are
//! compiled and exercised in `spec-observers/tests/ports.rs`.)

use std::path::{Path, PathBuf};

/// A fresh folder under cargo's temporary directory for integration tests.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The model of one spec text, and its sources as `generate` takes them.
fn model_of(text: &str) -> (tingu::ir::Model, Vec<(String, String)>) {
    let (lib, _) = tingu::Library::from_source("spec.tingu", text);
    let checked = tingu::check(&lib);
    let model = checked.model.expect("the spec checks");
    (model, vec![("spec.tingu".into(), text.into())])
}

const COUNTER: &str = r#"
/// Counting levels.
enum level_t { LOW, HIGH = 7 }
/// A counter.
protocol Counter {
messages:
  /// Count `n` at `level`.
  concurrent in tick(u8 n, level_t level);
  out done();
states:
  initial state counting {
    ?tick(n, level);
    !done -> finished;
  }
  final state finished;
}
/// One counter.
component counter { ports: Counter c; }
"#;

#[test]
fn ports_are_appended_to_the_observers() {
    let dir = scratch("ports");
    std::fs::create_dir_all(dir.join("specs")).unwrap();
    std::fs::write(dir.join("specs/counter.tingu"), COUNTER).unwrap();
    let plain = dir.join("plain.rs");
    let ports = dir.join("ports.rs");
    tingu_build::compile(&[dir.join("specs")], &plain).unwrap();
    tingu_build::compile_with_ports(&[dir.join("specs")], &ports).unwrap();
    let plain = std::fs::read_to_string(plain).unwrap();
    let ports = std::fs::read_to_string(ports).unwrap();
    // Everything `compile` writes, then the interfaces.
    assert!(ports.starts_with(&plain));
    assert!(!plain.contains("::dingo::"));
    let added = &ports[plain.len()..];
    for item in [
        "pub mod types {",
        "pub enum LevelT {",
        "HIGH` (value 7)",
        "7 => Some(LevelT::High),",
        "pub mod counter {",
        "pub enum In {",
        "Tick {",
        "n: u8,",
        "level: super::types::LevelT,",
        "(0, &[v0, v1]) => Some(In::Tick {",
        "n: u8::try_from(v0).ok()?,",
        "level: super::types::LevelT::from_value(v1)?,",
        "matches!(self, In::Tick { .. })",
        "pub enum Event {",
        "C(super::counter::In),",
        "pub struct Ports {",
        "pub c: CPort,",
        "pub fn done(&self) -> Result<(), ::dingo::wire::SendError> {",
        "pub struct Counter;",
        "impl ::dingo::wire::Component for Counter {",
        "const NAME: &'static str = \"counter\";",
        "/// Count `n` at `level`.",
        "&[\"c\"]",
    ] {
        assert!(added.contains(item), "missing `{item}` in\n{added}");
    }
    // The protocol module and the component module are distinct although
    // both names are `counter` in snake case.
    assert!(added.contains("pub mod counter_2 {"), "{added}");
}

#[test]
fn generate_with_ports_extends_generate() {
    let (model, sources) = model_of(COUNTER);
    let plain = tingu_build::generate(&model, &sources);
    let ports = tingu_build::generate_with_ports(&model, &sources).unwrap();
    assert!(ports.starts_with(&plain));
    assert!(ports.len() > plain.len());
    // Deterministic.
    assert_eq!(
        ports,
        tingu_build::generate_with_ports(&model, &sources).unwrap()
    );
}

#[test]
fn messages_longer_than_a_wire_are_refused() {
    let text = "protocol Wide { messages: in m(u8 a, u8 b, u8 c, u8 d, u8 e, u8 f, u8 g, u8 h, u8 i); }\n\
                component w { ports: Wide p; }\n";
    let (model, sources) = model_of(text);
    let err = tingu_build::generate_with_ports(&model, &sources).unwrap_err();
    assert!(
        err.contains("message `m` of protocol `Wide` has 9 parameters"),
        "{err}"
    );
    // The observers alone are fine.
    assert!(tingu_build::generate(&model, &sources).contains("pub struct WideCode;"));
    // Eight are fine.
    let text = text.replace(", u8 i)", ")");
    let (model, sources) = model_of(&text);
    assert!(tingu_build::generate_with_ports(&model, &sources).is_ok());
}

#[test]
fn subports_deeper_than_a_wire_are_refused() {
    let text = "protocol E { messages: in e(); }\n\
                protocol D { messages: out d(E x); }\n\
                protocol C { messages: out c(D x); }\n\
                protocol B { messages: out b(C x); }\n\
                protocol A { messages: out a(B x); }\n\
                component deep { ports: A p; }\n";
    let (model, sources) = model_of(text);
    let err = tingu_build::generate_with_ports(&model, &sources).unwrap_err();
    assert!(
        err.contains("subport kind `p.a.b.c.d` of component `deep` is 4 levels below its port"),
        "{err}"
    );
    // Three levels are fine.
    let text = text.replace(
        "component deep { ports: A p; }",
        "component deep { ports: B p; }",
    );
    let (model, sources) = model_of(&text);
    assert!(tingu_build::generate_with_ports(&model, &sources).is_ok());
}

#[test]
fn compile_with_ports_reports_what_it_refuses() {
    let dir = scratch("ports-refused");
    std::fs::create_dir_all(dir.join("specs")).unwrap();
    std::fs::write(
        dir.join("specs/wide.tingu"),
        "protocol Wide { messages: in m(u8 a, u8 b, u8 c, u8 d, u8 e, u8 f, u8 g, u8 h, u8 i); }\n",
    )
    .unwrap();
    let out = dir.join("out.rs");
    let err = tingu_build::compile_with_ports(&[dir.join("specs")], &out).unwrap_err();
    assert!(err.contains("9 parameters"), "{err}");
    assert!(!out.exists());
    tingu_build::compile(&[dir.join("specs")], &out).unwrap();
}
