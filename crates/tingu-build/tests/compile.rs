//! `compile` as a build script calls it: names, imports, errors.

use std::path::{Path, PathBuf};

/// A fresh folder under cargo's temporary directory for integration tests.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

const COMMON: &str = "/// A value.\nconst u8 LIMIT = 3;\n";
const PROTO: &str = r#"import "../common.tingu";
/// A counter.
protocol Counter {
messages:
  in tick(u8 n);
  out done();
variables:
  u8 total;
states:
  initial state counting {
    ?tick(n) [n <= LIMIT] / total += n;
    !done -> finished;
  }
  final state finished;
}
component counter { ports: Counter c; }
"#;

#[test]
fn sources_are_named_relative_to_their_folder_and_imports_resolve() {
    let dir = scratch("names");
    write(&dir.join("specs/common.tingu"), COMMON);
    write(&dir.join("specs/sub/counter.tingu"), PROTO);
    let out = dir.join("out.rs");
    // A relative path with two leading `..`, as in a build script.
    let cwd = std::env::current_dir().unwrap();
    std::env::set_current_dir(dir.join("specs/sub")).unwrap();
    let result = tingu_build::compile(&["../../specs"], &out);
    std::env::set_current_dir(cwd).unwrap();
    result.unwrap();
    let code = std::fs::read_to_string(&out).unwrap();
    assert!(code.contains("(\"common.tingu\", r#\""), "{code}");
    assert!(code.contains("(\"sub/counter.tingu\", r#\""), "{code}");
    assert!(code.contains("pub struct CounterCode;"));
    assert!(code.contains("declared in `sub/counter.tingu`"));
    // The guard, with the constant folded in, and the typed store.
    assert!(code.contains("if arg_n <= 3 {"), "{code}");
    assert!(code.contains("if !(0..=255).contains(&v) {"), "{code}");
    // The embedded sources check on their own.
    let sources: Vec<(&str, &str)> = vec![("common.tingu", COMMON), ("sub/counter.tingu", PROTO)];
    let (lib, _) = tingu::Library::from_sources(&sources);
    assert!(tingu::check(&lib).model.is_some());
}

#[test]
fn errors_come_back_rendered() {
    let dir = scratch("errors");
    write(
        &dir.join("specs/bad.tingu"),
        "protocol P { messages: in m(); states: initial state s { ?m -> nowhere; } }\n",
    );
    let err = tingu_build::compile(&[dir.join("specs")], &dir.join("out.rs")).unwrap_err();
    assert!(err.contains("unknown state `nowhere`"), "{err}");
    assert!(err.contains("bad.tingu"), "{err}");
    assert!(!dir.join("out.rs").exists());
    let missing = tingu_build::compile(&[dir.join("nothing")], &dir.join("out.rs")).unwrap_err();
    assert!(missing.contains("nothing"), "{missing}");
}

#[test]
fn a_protocol_without_states_allows_everything() {
    let (lib, _) = tingu::Library::from_source(
        "free.tingu",
        "protocol Free { messages: in m(u8 x); } component f { ports: Free p; }",
    );
    let model = tingu::check(&lib).model.unwrap();
    let code = tingu_build::generate(
        &model,
        &[(
            "free.tingu".into(),
            lib.sources.file(tingu::FileId(0)).text.clone(),
        )],
    );
    assert!(code.contains("The protocol has no states"), "{code}");
    assert!(code.contains("_leaf: ::tingu::ir::StateId"), "{code}");
    assert!(
        code.contains("fn init(&self, _vars: &mut [i64]) {}"),
        "{code}"
    );
    assert!(!code.contains("tingu_div"), "{code}");
}
