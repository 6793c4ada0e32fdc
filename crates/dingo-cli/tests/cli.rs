//! The `dingo` command end to end: exit codes, output, and every spec of the
//! library rendered by Graphviz.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

fn dingo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dingo"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn have_dot() -> bool {
    let found = Command::new("dot").arg("-V").output().is_ok();
    if !found && std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("Graphviz `dot` is required under CI (cargo xtask test installs it)");
    }
    found
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dingo-cli-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_spec_library_checks_clean() {
    let out = dingo(&["spec", "check", "specs", "--color", "never"]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).starts_with("ok:"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stdout).contains("0 warnings"),
        "the library must be warning-free: {}",
        text(&out.stderr)
    );
}

#[test]
fn errors_exit_1_warnings_exit_0() {
    let dir = temp_dir("codes");
    let bad = dir.join("bad.tingu");
    std::fs::write(
        &bad,
        "protocol P { messages: in a(); states: initial state s { ?b -> s; } }",
    )
    .unwrap();
    let out = dingo(&["spec", "check", bad.to_str().unwrap(), "--color", "never"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("unknown message `b`"),
        "{}",
        text(&out.stderr)
    );
    let warn = dir.join("warn.tingu");
    std::fs::write(
        &warn,
        "protocol P { messages: in a(); in b(); states: initial state s { ?a -> s; } }",
    )
    .unwrap();
    let out = dingo(&["spec", "check", warn.to_str().unwrap(), "--color", "never"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("message `b` is never legal"));
    let out = dingo(&["spec", "check", warn.to_str().unwrap(), "--short"]);
    assert!(
        text(&out.stderr).contains("warn.tingu:1:"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn unreadable_paths_are_clear_errors() {
    let out = dingo(&["spec", "check", "no/such/file.tingu"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cannot read `no/such/file.tingu`"),
        "{}",
        text(&out.stderr)
    );
    let out = dingo(&["spec", "graph", "specs", "--protocol", "Nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no protocol named `Nope`"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn every_spec_renders_to_svg() {
    if !have_dot() {
        eprintln!("skipped: Graphviz `dot` is not installed");
        return;
    }
    let dir = temp_dir("svg");
    let out = dingo(&[
        "spec",
        "graph",
        "specs",
        "--format",
        "svg",
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(
            svg.contains("<svg") && svg.trim_end().ends_with("</svg>"),
            "{}",
            path.display()
        );
        count += 1;
    }
    assert!(
        count >= 10,
        "expected a diagram per protocol and component, got {count}"
    );
    // Graphviz warnings (bad clusters, unknown attributes) would show on stderr.
    assert!(
        !text(&out.stderr).contains("Warning"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn dot_output_has_clusters_markers_timeouts_and_guards() {
    let out = dingo(&["spec", "graph", "specs", "--protocol", "PowerManagement"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let dot = text(&out.stdout);
    assert!(
        dot.contains("subgraph \"cluster_"),
        "super-states are clusters"
    );
    assert!(dot.contains("shape=point"), "initial markers");
    assert!(dot.contains("shape=doublecircle"), "final markers");
    assert!(dot.contains("[2s]"), "timeouts in state labels");
    assert!(
        dot.contains("[level &gt; D0]") || dot.contains("[level > D0]"),
        "guards on arrows:\n{dot}"
    );
}

#[test]
fn show_lists_states_alphabet_and_spawn_points() {
    let out = dingo(&[
        "spec",
        "show",
        "specs",
        "--protocol",
        "USBInterfaceClient",
        "--component",
        "asix",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(s.contains("spawns a USBPipeClient subport"), "{s}");
    assert!(s.contains("alphabet:"), "{s}");
    assert!(s.contains("component asix"), "{s}");
    assert!(s.contains("usb.pipeOpen: USBPipeClient (subport"), "{s}");
}

#[test]
fn bad_arguments_are_rejected() {
    let out = dingo(&["spec", "check"]);
    assert_eq!(out.status.code(), Some(2));
    let out = dingo(&["spec", "graph", "specs", "--format", "png"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("invalid value 'png'"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn replay_reports_verdicts_with_exit_codes() {
    let dir = temp_dir("replay");
    let ok = dir.join("ok.trace");
    std::fs::write(
        &ok,
        "component asix\n0ms lc ?start\n1ms lc !startComplete\n",
    )
    .unwrap();
    let out = dingo(&["spec", "replay", "specs", ok.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).starts_with("ok: 2 events"),
        "{}",
        text(&out.stdout)
    );

    let bad = dir.join("bad.trace");
    std::fs::write(
        &bad,
        "component asix\n0ms lc ?start\n# a comment\n7s lc !startComplete\n",
    )
    .unwrap();
    let out = dingo(&["spec", "replay", "specs", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let s = text(&out.stdout);
    assert!(
        s.contains("bad.trace:4: protocol violation: timeout"),
        "{s}"
    );
    assert!(s.contains("blame:    the driver"), "{s}");
    assert!(s.contains("a replayable trace"), "{s}");

    let malformed = dir.join("malformed.trace");
    std::fs::write(
        &malformed,
        "component asix\n0ms lc ?start\n1ms lc startComplete\n",
    )
    .unwrap();
    let out = dingo(&["spec", "replay", "specs", malformed.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("line 3"),
        "{}",
        text(&out.stderr)
    );

    let unfit = dir.join("unfit.trace");
    std::fs::write(&unfit, "component asix\n0ms nosuchport ?start\n").unwrap();
    let out = dingo(&["spec", "replay", "specs", unfit.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("line 2: component `asix` has no port `nosuchport`"),
        "{}",
        text(&out.stderr)
    );
}

/// The demo's violation: the driver answers `stopComplete` while it still
/// holds a packet, and the report names the blocking port and its variables.
#[test]
fn the_demo_violation_is_reported_with_the_blocking_port() {
    let out = dingo(&[
        "spec",
        "replay",
        "specs",
        "examples/traces/asix_stop_while_holding_a_packet.trace",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    for needle in [
        ":17: protocol violation: message blocked by a dependent protocol",
        "port:     lc (Lifecycle)",
        "blame:    the driver",
        "port `eth` (EthernetController, in state `ending`)",
        "tx_pending=1",
        "1.2s  lc  !stopComplete   # <-- violation",
    ] {
        assert!(s.contains(needle), "missing {needle:?} in\n{s}");
    }
}

#[test]
fn the_demo_runs_traffic_under_observers_and_reports_an_injected_bug() {
    let out = dingo(&["demo", "--seconds", "1", "--clients", "2"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("no protocol violation"), "{stdout}");
    let done = stdout.lines().find(|l| l.starts_with("done:")).unwrap();
    assert!(!done.starts_with("done: 0 round trips"), "{done}");

    let out = dingo(&[
        "demo",
        "--seconds",
        "1",
        "--clients",
        "2",
        "--bug",
        "stop-with-packets-in-flight",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("protocol violation"), "{stdout}");
    assert!(stdout.contains("stopComplete"), "{stdout}");
    assert!(stdout.contains("tx_pending"), "{stdout}");

    let out = dingo(&["demo", "--frame", "59"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a frame shorter than 60 bytes is refused"
    );
}
