//! The printer and the parser agree, and the parser survives anything.
//!
//! * Hand-written sources covering every construct survive
//!   parse → print → parse unchanged, and printing is a fixpoint.
//! * Random syntactically valid trees print to text that parses back to the
//!   same tree without diagnostics.
//! * Random bytes, random printable text, random token soup and mutations of
//!   valid sources never make the parser panic or hang; every diagnostic
//!   points inside the text on character boundaries and renders; and any text
//!   the parser accepts without complaint reprints to an equal tree.

use proptest::prelude::*;
use proptest::sample::Index;
use std::sync::mpsc;
use std::time::Duration;
use tingu::syntax::ast::*;
use tingu::syntax::parser::KEYWORDS;
use tingu::syntax::printer::print_expr;
use tingu::syntax::{lexer, parse, print};
use tingu::{FileId, SourceMap, Span};

// ---- hand-written round trips ------------------------------------------------

/// Every construct of the language, in a deliberately non-canonical layout
/// (odd spacing, plain comments, redundant parentheses, optional `;` after
/// blocks, hexadecimal and `_`-separated literals).
const EVERYTHING: &str = r#"
// A plain comment, dropped by the parser.
import "lifecycle.tingu";
import   "sub/dir/usb.tingu" ;
import "";

/// Power levels.
/// Second line.
enum power_level_t { D0, D1 = 1, D2 = 0x10, D3 = -1, D4 = 1_000 };
enum empty_t {}
enum trailing { A, B, }

/// A C error code.
type error_t = i32;

///
///   indented doc, then an empty one above
/// /// slashes inside
opaque packet_t;

/// The limit.
const u32 MAX_URBS = 0xFF_FF;
const bool FLAG = !(1 + 2 * 3 == 7) && true || false;
const i64 BIG = 9223372036854775807;
const i64 SMALL = -9223372036854775807 - 1;
const i64 HEX = 0X7fffffffffffffff;
const i64 NESTED = -(-(1)) - - 2 * !(a && (b || c)) % ((d));

/// Power management.
///
/// Drives the device through power levels.
protocol PowerManagement {
dependencies:
    Lifecycle lc;
    Usb usb;
messages:
    /// Go to sleep.
    in sleep(power_level_t level, error_t code);
    out sleepComplete();
    concurrent in transfer(packet_t p, Urb urb);
    /* block /* nested */ comment */
    concurrent out done();
variables:
    power_level_t power_level = D0;
    u32 count;
    i32 delta = -5;
    bool ok = lc in running.ready;
    bool ok2 = !usb in attached && lc in gone;
states:
    /// Start here.
    initial state init {
        lc.startComplete -> full_power;
        lc.configure(a, b) [a > 0 && b != 0] / count = a, delta += b -> powered;
        usb.reset() / count -= 1;
        usb.suspend;
    }
    state powered [5s] {
        lc.unplugged -> gone;
        /// Nested.
        /// Twice.
        initial state full_power {
            ?sleep(level, code) [level > D0 || !(code == 0)] / power_level = level -> sleep_prepare;
            ?transfer(p, u);
            ?sleep;
            ?sleep() [(a < b) == (c >= d)];
        }
        state sleep_prepare [200ms] {
            !sleepComplete -> full_power;
            !done() / count = count / 2 -> full_power;
            after(50us) -> full_power;
            after(5ms) [count <= 3 && count >= 1 && count < 10 && -count % 2 == 0] / count += 1;
            after(0s);
            after(1_000ms) [a + b * c - d / e % f > 0 || a <= b && a >= c || (a != b) == (a == b)];
            state deep {
                final state deeper;
                state empty_body { }
                /// Deepest.
                state deepest [9223372036854775807us] {
                    ?sleep -> deeper;
                }
            }
        }
    }
    final state gone;
    initial final state both;
    final initial state reversed;
}

protocol Empty {};

protocol NoStates {
messages:
    in ping();
}

protocol EmptyStates {
states:
}

protocol OutOfOrder {
states:
    initial state s;
variables:
    u32 x = 0;
messages:
    in m(u32 v);
dependencies:
    Other o;
}

/// The device.
component Device {
ports:
    PowerManagement pm;
    mirror Lifecycle lc(usb, pm);
    mirror Usb usb();
    Urb u(a);
};

component Nothing {}
component EmptyPorts { ports: }
"#;

/// Sources that are already canonical: printing gives them back verbatim.
const CANONICAL: &str = r#"import "a.tingu";
import "b.tingu";

/// Levels.
enum level_t {
    L0,
    L1 = 7,
}

type error_t = i32;

opaque packet_t;

const u32 N = (1 + 2) * -3;

/// A protocol.
///
/// With two paragraphs.
protocol P {
dependencies:
    Lifecycle lc;
messages:
    /// Incoming.
    in start(u32 n, error_t e);
    concurrent out data();
variables:
    u32 count = 0;
    bool on;
states:
    /// First.
    initial state idle {
        ?start(n, e) [n > 0 && !(e == 0)] / count = n, count += 1 -> busy;
        lc.stop -> done;
    }
    state busy [5s] {
        initial state a;
        state b {}
        !data / count -= 1;
        after(200ms) [lc in running.ready] -> idle;
    }
    final state done;
}

protocol Q {}

protocol R {
states:
}

component C {
ports:
    P p;
    mirror Lifecycle lc(p);
    mirror P q();
}

component D {}
"#;

fn parse_ok(text: &str) -> File {
    let (file, diags) = parse(FileId(0), text);
    assert!(
        diags.is_empty(),
        "unexpected diagnostics in\n{text}\n{diags:#?}"
    );
    file
}

/// parse → print → parse gives an equal tree, and print is a fixpoint.
fn assert_roundtrip(text: &str) -> String {
    let first = parse_ok(text);
    let printed = print(&first);
    let second = parse_ok(&printed);
    assert_eq!(first, second, "printed as\n{printed}");
    assert_eq!(print(&second), printed, "printing is not a fixpoint");
    printed
}

#[test]
fn everything_roundtrips() {
    let printed = assert_roundtrip(EVERYTHING);
    let file = parse_ok(EVERYTHING);
    // Guard against a vacuous pass: the tree really holds everything.
    assert_eq!(file.items.len(), 22, "{printed}");
    let Item::Protocol(pm) = &file.items[14] else {
        panic!("{:?}", file.items[14])
    };
    assert_eq!(pm.dependencies.len(), 2);
    assert_eq!(pm.messages.len(), 4);
    assert_eq!(pm.variables.len(), 5);
    assert_eq!(pm.states.as_ref().map(Vec::len), Some(5));
    assert_eq!(pm.messages[0].docs, vec!["Go to sleep."]);
    let Item::Opaque(o) = &file.items[7] else {
        panic!("{:?}", file.items[7])
    };
    assert_eq!(
        o.docs,
        vec![
            "",
            "  indented doc, then an empty one above",
            "/// slashes inside"
        ]
    );
    for (i, states) in [(15, None), (16, None), (17, Some(0))] {
        let Item::Protocol(p) = &file.items[i] else {
            panic!("{:?}", file.items[i])
        };
        assert_eq!(p.states.as_ref().map(Vec::len), states, "{}", p.name.name);
    }
}

#[test]
fn canonical_source_prints_verbatim() {
    assert_eq!(assert_roundtrip(CANONICAL), CANONICAL);
}

#[test]
fn small_sources_roundtrip() {
    for src in [
        "",
        "/// dangling doc at the end",
        "import \"x\";",
        "enum e { A }",
        "protocol P { states: state s; }",
        "protocol P { states: state s { } }",
        "protocol P { states: state s { state t { state u { state v; } } } }",
        "protocol P { states: state s { dep.msg(a, b) -> s; dep.msg() -> s; dep.msg; } }",
        "protocol P { states: state s { after(5ms); after(5s) -> s; after(7us) / x = 1; } }",
        "protocol P { states: state s { !m(a) [!a] / x -= -1, y += --1, z = !!b; } }",
        "protocol P { variables: bool b = dep in a.b.c; }",
        "component C { ports: mirror P p(a, b, c); P q(); P r; }",
        "const u32 X = 0x0;",
        "const u32 X = 0x_7F;",
        "const u32 X = 0xDEAD_BEEF;",
        "const u32 X = 1_2_3;",
    ] {
        assert_roundtrip(src);
    }
}

#[test]
fn statelessness_is_preserved() {
    let none = parse_ok("protocol P { messages: in m(); }");
    let some = parse_ok("protocol P { states: }");
    let (Item::Protocol(none), Item::Protocol(some)) = (&none.items[0], &some.items[0]) else {
        panic!()
    };
    assert_eq!(none.states, None);
    assert_eq!(some.states, Some(vec![]));
    assert!(!print(&parse_ok("protocol P { messages: in m(); }")).contains("states:"));
    assert_eq!(
        print(&parse_ok("protocol P { states: }")),
        "protocol P {\nstates:\n}\n"
    );
    assert_eq!(
        print(&parse_ok("protocol P { states: state a; state b { } }")),
        "protocol P {\nstates:\n    state a;\n    state b {}\n}\n"
    );
}

fn expr_of(text: &str) -> Expr {
    let file = parse_ok(&format!("const t X = {text};"));
    match file.items.into_iter().next() {
        Some(Item::Const(c)) => c.value,
        other => panic!("{other:?}"),
    }
}

#[test]
fn expressions_get_minimal_parentheses() {
    for (input, expected) in [
        ("1 + 2 + 3", "1 + 2 + 3"),
        ("(1 + 2) + 3", "1 + 2 + 3"),
        ("1 + (2 + 3)", "1 + (2 + 3)"),
        ("1 - (2 - 3)", "1 - (2 - 3)"),
        ("1 - (2 + 3)", "1 - (2 + 3)"),
        ("(1 + 2) * 3", "(1 + 2) * 3"),
        ("1 + 2 * 3", "1 + 2 * 3"),
        ("1 * (2 * 3)", "1 * (2 * 3)"),
        ("a / (b % c)", "a / (b % c)"),
        ("(a || b) && c", "(a || b) && c"),
        ("a || b && c", "a || b && c"),
        ("(a || b) || c", "a || b || c"),
        ("a || (b || c)", "a || (b || c)"),
        ("(a < b) == c", "(a < b) == c"),
        ("a == (b < c)", "a == (b < c)"),
        ("(a == b) == (c != d)", "(a == b) == (c != d)"),
        ("a + b < c * d", "a + b < c * d"),
        ("(a < b) + 1", "(a < b) + 1"),
        ("-(a + b)", "-(a + b)"),
        ("(-a) + b", "-a + b"),
        ("!(a)", "!a"),
        ("!(a && b)", "!(a && b)"),
        ("- - 1", "--1"),
        ("-(-(1))", "--1"),
        ("!-!x", "!-!x"),
        ("(-5)", "-5"),
        ("0x1F", "31"),
        ("1_000", "1000"),
        ("!(dep in a.b)", "!dep in a.b"),
        ("(dep in a) == (x in b.c)", "dep in a == x in b.c"),
        ("((((true))))", "true"),
    ] {
        let e = expr_of(input);
        let printed = print_expr(&e);
        assert_eq!(printed, expected, "for {input}");
        assert_eq!(expr_of(&printed), e, "for {input}");
    }
}

#[test]
fn durations_print_as_written() {
    let file = parse_ok("protocol P { states: state a [5s] { after(200ms); after(50us); } }");
    let printed = print(&file);
    assert!(printed.contains("state a [5s] {"), "{printed}");
    assert!(printed.contains("after(200ms);"), "{printed}");
    assert!(printed.contains("after(50us);"), "{printed}");
}

#[test]
fn integer_literal_limits() {
    assert_eq!(
        print_expr(&expr_of("9223372036854775807")),
        "9223372036854775807"
    );
    assert_eq!(
        print_expr(&expr_of("0x7FFF_FFFF_FFFF_FFFF")),
        "9223372036854775807"
    );
    for (text, message) in [
        ("9223372036854775808", "integer literal too large"),
        ("0x8000000000000000", "integer literal too large"),
        ("99999999999999999999999", "integer literal too large"),
        ("0x", "malformed integer literal"),
        ("0x_", "malformed integer literal"),
    ] {
        let (_, diags) = parse(FileId(0), &format!("const t X = {text};"));
        let messages: Vec<_> = diags.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(messages, [message], "for {text}");
    }
}

/// Deeply nested input is reported, not a stack overflow; moderately nested
/// input is fine. Runs on a thread with the default (small) stack.
#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let nest = |depth: usize| {
        [
            format!("const t X = {}1{};", "(".repeat(depth), ")".repeat(depth)),
            format!("const t X = {}1;", "-".repeat(depth)),
            // Two levels each.
            format!(
                "const t X = {}x{};",
                "!(".repeat(depth / 2),
                ")".repeat(depth / 2)
            ),
            format!(
                "protocol P {{ states: {}{} }}",
                "state s {\n".repeat(depth),
                "}\n".repeat(depth)
            ),
            format!(
                "protocol P {{ states: {}?m [{}x{}];{} }}",
                "initial state s {\n".repeat(depth / 2),
                "(".repeat(depth / 2),
                ")".repeat(depth / 2),
                "}\n".repeat(depth / 2)
            ),
        ]
    };
    for text in nest(100) {
        parse_ok(&text);
        check_parse(text);
    }
    for text in nest(10_000) {
        let (_, diags) = parse(FileId(0), &text);
        assert!(
            diags.iter().any(|d| d.message == "nesting too deep"),
            "{diags:?}"
        );
        check_parse(text);
    }
}

// ---- random trees -------------------------------------------------------------

fn span() -> Span {
    Span::default()
}

fn mk(kind: ExprKind) -> Expr {
    Expr { kind, span: span() }
}

/// A name that is not a keyword. Section and unit words are not keywords and
/// are mixed in on purpose.
fn ident() -> impl Strategy<Value = Ident> {
    prop_oneof![
        6 => "[A-Za-z_][A-Za-z0-9_]{0,7}"
            .prop_filter("keywords are not names", |s| !KEYWORDS.contains(&s.as_str())),
        1 => prop::sample::select(&[
            "states", "dependencies", "messages", "variables", "ports", "ms", "s", "us",
            "_", "x0", "in_", "after_", "State", "IN", "True",
        ][..])
        .prop_map(String::from),
    ]
    .prop_map(|name| Ident { name, span: span() })
}

fn idents(max: usize) -> impl Strategy<Value = Vec<Ident>> {
    prop::collection::vec(ident(), 0..=max)
}

/// Doc lines as the parser keeps them: no line break, no trailing blanks.
fn docs() -> impl Strategy<Value = Docs> {
    prop::collection::vec(
        "[ -~äß€]{0,24}".prop_map(|s: String| s.trim_end().to_string()),
        0..3,
    )
}

fn int_value() -> impl Strategy<Value = u64> {
    prop_oneof![0..1000u64, 0..=i64::MAX as u64, Just(i64::MAX as u64)]
}

fn expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        int_value().prop_map(|v| mk(ExprKind::Int(v))),
        any::<bool>().prop_map(|b| mk(ExprKind::Bool(b))),
        ident().prop_map(|n| mk(ExprKind::Name(n))),
        (ident(), prop::collection::vec(ident(), 1..=3))
            .prop_map(|(dependency, path)| mk(ExprKind::InState { dependency, path })),
    ];
    let unary = prop::sample::select(&[UnaryOp::Neg, UnaryOp::Not][..]);
    let binary = prop::sample::select(
        &[
            BinaryOp::Or,
            BinaryOp::And,
            BinaryOp::Eq,
            BinaryOp::Ne,
            BinaryOp::Lt,
            BinaryOp::Le,
            BinaryOp::Gt,
            BinaryOp::Ge,
            BinaryOp::Add,
            BinaryOp::Sub,
            BinaryOp::Mul,
            BinaryOp::Div,
            BinaryOp::Rem,
        ][..],
    );
    leaf.prop_recursive(4, 24, 2, move |inner| {
        prop_oneof![
            1 => (unary.clone(), inner.clone())
                .prop_map(|(op, e)| mk(ExprKind::Unary(op, Box::new(e)))),
            2 => (binary.clone(), inner.clone(), inner)
                .prop_map(|(op, l, r)| mk(ExprKind::Binary(op, Box::new(l), Box::new(r)))),
        ]
    })
}

fn duration() -> impl Strategy<Value = DurationLit> {
    let unit = prop::sample::select(&[TimeUnit::Micros, TimeUnit::Millis, TimeUnit::Seconds][..]);
    (int_value(), unit).prop_map(|(value, unit)| DurationLit {
        value,
        unit,
        span: span(),
    })
}

fn direction() -> impl Strategy<Value = Direction> {
    prop::sample::select(&[Direction::In, Direction::Out][..])
}

fn trigger() -> impl Strategy<Value = Trigger> {
    prop_oneof![
        (direction(), ident(), prop::option::of(idents(3))).prop_map(
            |(direction, message, args)| Trigger::Message {
                direction,
                message,
                args,
            }
        ),
        (ident(), ident(), prop::option::of(idents(3))).prop_map(|(dependency, message, args)| {
            Trigger::Dependency {
                dependency,
                message,
                args,
            }
        }),
        duration().prop_map(Trigger::After),
    ]
}

fn transition() -> impl Strategy<Value = Transition> {
    let op = prop::sample::select(&[AssignOp::Set, AssignOp::Add, AssignOp::Sub][..]);
    let action = (ident(), op, expr()).prop_map(|(variable, op, value)| Action {
        variable,
        op,
        value,
    });
    (
        trigger(),
        prop::option::of(expr()),
        prop::collection::vec(action, 0..3),
        prop::option::of(ident()),
    )
        .prop_map(|(trigger, guard, actions, target)| Transition {
            trigger,
            guard,
            actions,
            target,
            span: span(),
        })
}

type StateHead = (Docs, bool, bool, Ident, Option<DurationLit>);

fn state_head() -> impl Strategy<Value = StateHead> {
    (
        docs(),
        any::<bool>(),
        any::<bool>(),
        ident(),
        prop::option::of(duration()),
    )
}

fn build_state(
    (docs, initial, is_final, name, timeout): StateHead,
    body: Option<Vec<Member>>,
) -> State {
    State {
        docs,
        initial,
        is_final,
        name,
        timeout,
        body,
        span: span(),
    }
}

/// A state with sub-states nested up to `levels` further levels down.
fn state_at(levels: u32) -> BoxedStrategy<State> {
    let member = if levels == 0 {
        transition().prop_map(Member::Transition).boxed()
    } else {
        prop_oneof![
            transition().prop_map(Member::Transition),
            state_at(levels - 1).prop_map(Member::State),
        ]
        .boxed()
    };
    (
        state_head(),
        prop::option::weighted(0.8, prop::collection::vec(member, 0..4)),
    )
        .prop_map(|(head, body)| build_state(head, body))
        .boxed()
}

/// A top-level state, with states nested up to three levels below it.
fn state() -> BoxedStrategy<State> {
    state_at(3)
}

fn protocol() -> impl Strategy<Value = Protocol> {
    let dependency = (ident(), ident()).prop_map(|(protocol, name)| Dependency { protocol, name });
    let param = (ident(), ident()).prop_map(|(ty, name)| Param { ty, name });
    let message = (
        docs(),
        any::<bool>(),
        direction(),
        ident(),
        prop::collection::vec(param, 0..3),
    )
        .prop_map(|(docs, concurrent, direction, name, params)| Message {
            docs,
            concurrent,
            direction,
            name,
            params,
            span: span(),
        });
    let variable = (ident(), ident(), prop::option::of(expr()))
        .prop_map(|(ty, name, init)| Variable { ty, name, init });
    (
        docs(),
        ident(),
        prop::collection::vec(dependency, 0..3),
        prop::collection::vec(message, 0..3),
        prop::collection::vec(variable, 0..3),
        prop::option::of(prop::collection::vec(state(), 0..3)),
    )
        .prop_map(
            |(docs, name, dependencies, messages, variables, states)| Protocol {
                docs,
                name,
                dependencies,
                messages,
                variables,
                states,
                span: span(),
            },
        )
}

fn component() -> impl Strategy<Value = Component> {
    let port = (any::<bool>(), ident(), ident(), prop::option::of(idents(3))).prop_map(
        |(mirror, protocol, name, bindings)| Port {
            mirror,
            protocol,
            name,
            bindings,
            span: span(),
        },
    );
    (docs(), ident(), prop::collection::vec(port, 0..4)).prop_map(|(docs, name, ports)| Component {
        docs,
        name,
        ports,
        span: span(),
    })
}

fn item() -> impl Strategy<Value = Item> {
    let variant =
        (ident(), prop::option::of(expr())).prop_map(|(name, value)| Variant { name, value });
    prop_oneof![
        // Anything but a quote or a line break can go in a path.
        1 => "[ !#-~ä€]{0,16}".prop_map(|path| Item::Import(Import {
            path,
            path_span: span(),
        })),
        1 => (docs(), ident(), prop::collection::vec(variant, 0..4)).prop_map(
            |(docs, name, variants)| Item::Enum(EnumDecl {
                docs,
                name,
                variants,
            })
        ),
        1 => (docs(), ident(), ident())
            .prop_map(|(docs, name, ty)| Item::TypeAlias(TypeAlias { docs, name, ty })),
        1 => (docs(), ident()).prop_map(|(docs, name)| Item::Opaque(Opaque { docs, name })),
        1 => (docs(), ident(), ident(), expr()).prop_map(|(docs, ty, name, value)| Item::Const(
            Const {
                docs,
                ty,
                name,
                value,
            }
        )),
        3 => protocol().prop_map(Item::Protocol),
        1 => component().prop_map(Item::Component),
    ]
}

fn file() -> impl Strategy<Value = File> {
    prop::collection::vec(item(), 1..6).prop_map(|items| File { items })
}

/// `cases` cases, or as many as `PROPTEST_CASES` says, for longer runs.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        // Failures are pinned as named tests here rather than in a
        // regressions file.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn random_trees_print_and_parse_back(file in file()) {
        let text = print(&file);
        let (parsed, diags) = parse(FileId(0), &text);
        prop_assert!(diags.is_empty(), "diagnostics for\n{}\n{:#?}", text, diags);
        prop_assert_eq!(&parsed, &file, "printed as\n{}", text);
        prop_assert_eq!(print(&parsed), text);
    }

    #[test]
    fn random_expressions_print_and_parse_back(e in expr()) {
        let text = print_expr(&e);
        prop_assert_eq!(expr_of(&text), e, "printed as {}", text);
    }
}

// ---- robustness ---------------------------------------------------------------

/// Parses `text` on a watchdog thread: fails if the parser panics or has not
/// finished after a generous timeout. Checks that every diagnostic points
/// inside the text on character boundaries and renders, and that text the
/// parser accepts without complaint reprints to an equal tree.
fn check_parse(text: String) {
    let (done, finished) = mpsc::channel();
    let input = text.clone();
    let worker = std::thread::Builder::new()
        .name("parse".into())
        .spawn(move || {
            check_parse_here(&input);
            let _ = done.send(());
        })
        .expect("spawn the parser thread");
    match finished.recv_timeout(Duration::from_secs(20)) {
        Ok(()) => {
            let _ = worker.join();
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the worker ends by sending"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("the parser did not terminate on {text:?}")
        }
    }
}

fn check_parse_here(text: &str) {
    let mut sources = SourceMap::new();
    // A second file so that the parsed file's id is not the default one.
    sources.add("other.tingu", "protocol Other {}");
    let id = sources.add("fuzz.tingu", text);
    let (file, diags) = parse(id, text);
    for d in diags.iter() {
        let spans = std::iter::once(d.span).chain(d.secondary.iter().map(|l| l.span));
        for s in spans {
            assert_eq!(s.file, id, "{d:?} in {text:?}");
            assert!(
                s.start <= s.end && s.end as usize <= text.len(),
                "span out of range: {d:?} in {text:?}"
            );
            assert!(
                text.is_char_boundary(s.start as usize) && text.is_char_boundary(s.end as usize),
                "span off a char boundary: {d:?} in {text:?}"
            );
        }
        let _ = d.render(&sources, false);
        let _ = d.short(&sources);
    }
    let _ = diags.render(&sources, true);
    if diags.is_empty() {
        let printed = print(&file);
        let (again, diags) = parse(id, &printed);
        assert!(
            diags.is_empty(),
            "accepted {text:?}, but not its reprint\n{printed}\n{diags:#?}"
        );
        assert_eq!(again, file, "{text:?} reprinted as\n{printed}");
    }
}

/// Pieces of Tingu, glued at random into token soup.
const VOCABULARY: &[&str] = &[
    "import",
    "enum",
    "type",
    "opaque",
    "const",
    "protocol",
    "component",
    "in",
    "out",
    "concurrent",
    "initial",
    "final",
    "state",
    "mirror",
    "after",
    "true",
    "false",
    "dependencies:",
    "messages:",
    "variables:",
    "states:",
    "ports:",
    "dependencies",
    "states",
    "ports",
    ":",
    "x",
    "lc",
    "P",
    "u32",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ";",
    ",",
    ".",
    "?",
    "!",
    "/",
    "->",
    "=",
    "+=",
    "-=",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "&&",
    "||",
    "+",
    "-",
    "*",
    "%",
    "0",
    "7",
    "0x",
    "0x1F",
    "0xg",
    "99999999999999999999",
    "9223372036854775808",
    "5s",
    "200ms",
    "50us",
    "5h",
    "12abc",
    "1_",
    "\"path\"",
    "\"open",
    "/// doc\n",
    "///\n",
    "// c\n",
    "/*",
    "*/",
    "€",
    "\u{0}",
    "\t",
    "\n",
    "\r\n",
];

fn vocabulary_word() -> impl Strategy<Value = &'static str> {
    prop::sample::select(VOCABULARY)
}

/// One edit of a source text.
#[derive(Clone, Debug)]
enum Mutation {
    DeleteToken(Index),
    DuplicateToken(Index),
    SwapTokens(Index, Index),
    InsertToken(Index, &'static str),
    FlipBit(Index, u8),
    SetByte(Index, u8),
    Truncate(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<Index>().prop_map(Mutation::DeleteToken),
        any::<Index>().prop_map(Mutation::DuplicateToken),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::SwapTokens(a, b)),
        (any::<Index>(), vocabulary_word()).prop_map(|(i, w)| Mutation::InsertToken(i, w)),
        (any::<Index>(), 0..8u8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::SetByte(i, b)),
        any::<Index>().prop_map(Mutation::Truncate),
    ]
}

/// Applies one edit. Token edits work on the spans `lexer::lex` reports;
/// byte edits may break UTF-8, which is then repaired lossily.
fn mutate(text: String, m: &Mutation) -> String {
    let tokens: Vec<_> = lexer::lex(FileId(0), &text)
        .into_iter()
        .filter(|t| t.kind != lexer::TokenKind::Eof)
        .map(|t| t.span.range())
        .collect();
    let mut bytes = text.into_bytes();
    match m {
        Mutation::DeleteToken(i) if !tokens.is_empty() => {
            bytes.drain(tokens[i.index(tokens.len())].clone());
        }
        Mutation::DuplicateToken(i) if !tokens.is_empty() => {
            let r = tokens[i.index(tokens.len())].clone();
            let copy = bytes[r.clone()].to_vec();
            bytes.splice(r.end..r.end, copy);
        }
        Mutation::SwapTokens(a, b) if !tokens.is_empty() => {
            let (a, b) = (a.index(tokens.len()), b.index(tokens.len()));
            let (first, second) = (tokens[a.min(b)].clone(), tokens[a.max(b)].clone());
            if first != second {
                let s1 = bytes[first.clone()].to_vec();
                let s2 = bytes[second.clone()].to_vec();
                bytes.splice(second, s1);
                bytes.splice(first, s2);
            }
        }
        Mutation::InsertToken(i, word) => {
            // Before any token, or at the very end.
            let at = tokens
                .get(i.index(tokens.len() + 1))
                .map_or(bytes.len(), |r| r.start);
            bytes.splice(at..at, format!(" {word} ").into_bytes());
        }
        Mutation::FlipBit(i, bit) if !bytes.is_empty() => {
            let at = i.index(bytes.len());
            bytes[at] ^= 1 << bit;
        }
        Mutation::SetByte(i, b) if !bytes.is_empty() => {
            let at = i.index(bytes.len());
            bytes[at] = *b;
        }
        Mutation::Truncate(i) => {
            let at = i.index(bytes.len() + 1);
            bytes.truncate(at);
        }
        _ => {}
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A valid source to mutate: a hand-written one or a printed random tree.
fn valid_source() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(&[EVERYTHING, CANONICAL][..]).prop_map(String::from),
        file().prop_map(|f| print(&f)),
    ]
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn parser_survives_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check_parse(String::from_utf8_lossy(&bytes).into_owned());
    }

    #[test]
    fn parser_survives_random_printable_text(text in "[ -~\t\n]{0,512}") {
        check_parse(text);
    }

    #[test]
    fn parser_survives_token_soup(
        words in prop::collection::vec((vocabulary_word(), any::<bool>()), 0..200)
    ) {
        let mut text = String::new();
        for (word, space) in words {
            text.push_str(word);
            if space {
                text.push(' ');
            }
        }
        check_parse(text);
    }

    #[test]
    fn parser_survives_mutations(
        source in valid_source(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let text = mutations.iter().fold(source, mutate);
        check_parse(text);
    }
}
