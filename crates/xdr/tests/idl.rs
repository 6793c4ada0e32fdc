//! The `.x` compiler: errors with line:column, no panics on any input,
//! generated code that is documented, `build::compile`.

use proptest::prelude::*;
use xdr::idl;

const CASES: &[&str] = &[
    "struct s { int x; };\nstruct s { int y; };",
    "struct s { foo x; };",
    "const A = B;",
    "const A = B;\nconst B = A;",
    "typedef int x[-1];",
    "typedef opaque x<4294967296>;",
    "union u switch (int d) { case 1: int a; case 1: int b; };",
    "union u switch (string s<>) { default: void; };",
    "union u switch (hyper h) { default: void; };",
    "union u switch (bool b) { case 2: void; };",
    "enum color { RED };\nunion u switch (color c) { case 7: void; };",
    "union u switch (unsigned int d) { case -1: void; };",
    "enum e { A = 1, B = 1 };",
    "enum e { A = 0x80000000 };",
    "enum e { A, B };\nenum f { B };",
    "struct s { s inner; };",
    "typedef b a;\ntypedef a b;",
    "struct s { [shared] int x; };",
    "struct s { [in, out] int x; };",
    "struct s { [sideways] int x; };",
    "typedef void;",
    "struct s { int x; int x; };",
    "typedef quadruple q;",
    "const X = 1",
    "union u switch (int d) { };",
    "int x;",
    "program P { version V { int F(int, void) = 1; } = 1; } = 1;",
    "program P { version V { void F(void) = 0; } = 1; } = -1;",
    "program P { version V { s F(void) = 0; } = 1; } = 1;",
    "const C = -18446744073709551615;",
    "struct s { opaque o; };",
    "struct s { string name; };",
    "struct s { int x; } junk",
    "/* unterminated\n\n",
    "const A = 08;",
    "struct s { int $x; };",
];

#[test]
fn errors_have_line_column_and_a_clear_message() {
    let got: Vec<String> = CASES
        .iter()
        .map(|text| idl::generate(text).unwrap_err().to_string())
        .collect();
    let expected = [
        "2:8: type `s` is already defined at 1:8",
        "1:12: unknown type `foo`",
        "1:11: unknown constant `B`",
        "2:11: the value of `A` depends on itself",
        "1:15: an array size must be between 0 and 4294967295, not -1",
        "1:18: a maximum length must be between 0 and 4294967295, not 4294967296",
        "1:46: case 1 appears twice",
        "1:17: a union's discriminant must be an `int`, `unsigned int`, `bool` or enum",
        "1:17: a union's discriminant must be an `int`, `unsigned int`, `bool` or enum",
        "1:32: case 2 is not a `bool` (TRUE or FALSE)",
        "2:33: case 7 is not a member of `color`",
        "1:40: case -1 is not an `unsigned int`",
        "1:17: `B` has the value 1, which `A` already has",
        "1:10: `A` = 2147483648 does not fit an `int`",
        "2:10: `B` is already defined at 1:13",
        "1:8: type `s` contains itself; put it behind an optional `*` or a variable-length array `<>`",
        "1:11: typedef `a` starts a chain of more than 256 typedefs (or a cycle)",
        "1:21: `[shared]` needs an optional field (`T *name`)",
        "1:17: a field has at most one direction",
        "1:13: expected `in`, `out`, `inout` or `shared`, found `sideways`",
        "1:9: a `typedef` needs a name, not `void`",
        "1:23: field `x` is declared twice",
        "1:9: `quadruple` (128-bit floating point) is not supported",
        "1:12: expected `;`, found end of file",
        "1:26: expected `case` or `default`, found `}`",
        "1:1: expected a definition (`const`, `typedef`, `enum`, `struct`, `union` or `program`), found keyword `int`",
        "1:36: only a lone argument can be `void`",
        "1:54: a program number must be between 0 and 4294967295, not -1",
        "1:25: unknown type `s`",
        "1:7: `C` = -18446744073709551615 does not fit 64 bits",
        "1:20: expected `[` or `<` after an `opaque` name, found `;`",
        "1:23: expected `<` after a `string` name, found `;`",
        "1:21: expected `;`, found `junk`",
        "1:1: unterminated comment",
        "1:11: bad number `08`",
        "1:16: unexpected character `$`",
    ];
    assert_eq!(got.len(), expected.len());
    let wrong: Vec<String> = got
        .iter()
        .zip(expected)
        .enumerate()
        .filter(|(_, (g, e))| g != e)
        .map(|(i, (g, e))| format!("case {i} {:?}:\n  got      {g}\n  expected {e}", CASES[i]))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

fn corpus_texts() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut files: Vec<_> = std::fs::read_dir(dir.join("corpus"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.push(dir.join("extensions.x"));
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(p).unwrap())
        })
        .collect()
}

#[test]
fn every_test_file_compiles_deterministically() {
    for (name, text) in corpus_texts() {
        let a = idl::generate(&text).unwrap_or_else(|e| panic!("{name}:{e}"));
        assert_eq!(a, idl::generate(&text).unwrap(), "{name}");
        assert!(a.starts_with("// Generated by xdr::idl"));
    }
}

#[test]
fn names_follow_rust_conventions_without_collisions() {
    let text = corpus_texts()
        .into_iter()
        .find(|(n, _)| n == "names.x")
        .unwrap()
        .1;
    let code = idl::generate(&text).unwrap();
    for item in [
        "pub struct Type {",
        "pub struct Type2 {",
        "pub match_: i32,",
        "pub fn_: i32,",
        "pub self_: i32,",
        "pub foo_bar: i32,",
        "pub foo_bar_2: i32,",
        "pub gen_: i32,",
        "pub struct Option(",
        "pub struct Ok(",
        "pub type Box = i32;",
        "pub enum Self_ {",
        "pub enum Impl {",
        "Default(Self_, Ok),",
        "pub inner: Type,",
    ] {
        assert!(code.contains(item), "missing `{item}` in\n{code}");
    }
}

#[test]
fn constants_and_program_numbers_get_fitting_types() {
    let code = idl::generate(
        "const A = 7; const B = -7; const C = 0x100000000; const D = 0xffffffffffffffff;\n\
         const E = -3000000000;\n\
         program P { version V1 { void NULL(void) = 0; int GET(string_t) = 1; } = 1; } = 0x20000001;\n\
         typedef string string_t<>;",
    )
    .unwrap();
    for item in [
        "pub const A: u32 = 7;",
        "pub const B: i32 = -7;",
        "pub const C: i64 = 4294967296;",
        "pub const D: u64 = 18446744073709551615;",
        "pub const E: i64 = -3000000000;",
        "pub const P: u32 = 0x20000001;",
        "pub const V1: u32 = 1;",
        "pub const NULL: u32 = 0;",
        "/// Procedure `int GET(string_t)` of version `V1` of RPC program `P`.",
        "pub const GET: u32 = 1;",
    ] {
        assert!(code.contains(item), "missing `{item}` in\n{code}");
    }
}

#[test]
fn programs_parse_into_the_tree() {
    let spec = idl::parse(
        "program P { version V { void A(void) = 0; int B(int, hyper) = 1; } = 3; } = 9;",
    )
    .unwrap();
    let idl::ast::Definition::Program(p) = &spec.definitions[0] else {
        panic!("not a program: {spec:?}");
    };
    assert_eq!(p.name.name, "P");
    let v = &p.versions[0];
    assert_eq!(v.procedures.len(), 2);
    assert_eq!(v.procedures[0].result, None);
    assert!(v.procedures[0].args.is_empty());
    assert_eq!(
        v.procedures[1].args,
        [idl::ast::TypeSpec::Int, idl::ast::TypeSpec::Hyper]
    );
}

#[test]
fn long_chains_do_not_overflow_the_stack() {
    // 100,000 constants, each the next one: evaluated without recursion.
    let mut text = String::new();
    for i in 0..100_000 {
        text.push_str(&format!("const C{i} = C{};\n", i + 1));
    }
    text.push_str("const C100000 = 5;\ntypedef opaque x[C0];");
    let code = idl::generate(&text).unwrap();
    assert!(code.contains("pub type X = [u8; 5];"));
    // 100,000 typedefs in a chain: refused with a message.
    let mut text = String::from("typedef int t0;\n");
    for i in 1..100_000 {
        text.push_str(&format!("typedef t{} t{i};\n", i - 1));
    }
    let e = idl::generate(&text).unwrap_err();
    assert!(e.message.contains("chain of more than 256"), "{e}");
    // Enum members counting up from the last value.
    let code = idl::generate("enum e { A = 5, B, C = -1, D };").unwrap();
    assert!(code.contains("B = 6,") && code.contains("D = 0,"), "{code}");
}

#[test]
fn build_compile_writes_rust_and_reports_the_path() {
    let dir = std::env::temp_dir().join(format!("xdr-build-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("ok.x");
    let output = dir.join("ok.rs");
    std::fs::write(&input, "struct s { int x; };").unwrap();
    xdr::build::compile(&input, &output).unwrap();
    assert!(
        std::fs::read_to_string(&output)
            .unwrap()
            .contains("pub struct S {")
    );
    let bad = dir.join("bad.x");
    std::fs::write(&bad, "struct s {\n  nope x;\n};").unwrap();
    let e = xdr::build::compile(&bad, &dir.join("bad.rs")).unwrap_err();
    assert_eq!(e, format!("{}:2:3: unknown type `nope`", bad.display()));
    let e = xdr::build::compile(&dir.join("missing.x"), &output).unwrap_err();
    assert!(e.starts_with("cannot read"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

const TOKENS: &[&str] = &[
    "struct",
    "union",
    "enum",
    "typedef",
    "const",
    "program",
    "version",
    "switch",
    "case",
    "default",
    "void",
    "int",
    "unsigned",
    "hyper",
    "float",
    "double",
    "bool",
    "opaque",
    "string",
    "quadruple",
    "x",
    "y",
    "s",
    "TRUE",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "<",
    ">",
    ";",
    ":",
    ",",
    "=",
    "*",
    "-",
    "0",
    "1",
    "0x10",
    "07",
    "4294967295",
    "[in]",
    "[shared]",
    "/* c */",
    "\n%p\n",
];

fn check_never_panics(text: &str) {
    // Ok or Err; the generated text of an Ok must be non-empty.
    if let Ok(code) = idl::generate(text) {
        assert!(!code.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_text_never_panics(text in "\\PC{0,200}") {
        check_never_panics(&text);
    }

    #[test]
    fn token_soup_never_panics(tokens in proptest::collection::vec(proptest::sample::select(TOKENS), 0..80)) {
        check_never_panics(&tokens.join(" "));
    }

    #[test]
    fn mutated_test_files_never_panic(file in 0usize..13, at in any::<prop::sample::Index>(), len in 0usize..40, insert in proptest::sample::select(TOKENS), kind in 0u8..3) {
        let texts = corpus_texts();
        let (_, text) = &texts[file % texts.len()];
        let chars: Vec<char> = text.chars().collect();
        let i = at.index(chars.len() + 1);
        let j = (i + len).min(chars.len());
        let mutated: String = match kind {
            0 => chars[..i].iter().chain(&chars[j..]).collect(),
            1 => chars[..i].iter().copied().chain(insert.chars()).chain(chars[i..].iter().copied()).collect(),
            _ => chars[..j].iter().chain(&chars[i..]).collect(),
        };
        check_never_panics(&mutated);
    }
}
