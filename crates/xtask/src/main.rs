//! Project automation, in Rust rather than shell (as rust-analyzer does).
//!
//! * `cargo xtask test`: installs the Debian packages the tests need when
//!   they are missing, then runs formatting, lints and the whole test suite.
//!   Under `CI=true` nothing may be skipped.
//! * `cargo xtask demo`: checks the spec library, draws every protocol and
//!   component as SVG, and prints the AX88772 driver's component.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// Debian packages the test suite uses, with a command that shows each is there.
/// Debian packages the tests need, and how to tell one is there: a command
/// on the `PATH`, or (starting with `/`) a file.
const PACKAGES: &[(&str, &str)] = &[
    ("graphviz", "dot"),
    // rpcgen and libtirpc: the XDR tests compare bytes with rpcgen's C code.
    ("rpcsvc-proto", "rpcgen"),
    ("libtirpc-dev", "/usr/include/tirpc/rpc/xdr.h"),
    ("gcc", "cc"),
    // iperf3 and ping: the asix root test sends real traffic through TAPs.
    ("iperf3", "iperf3"),
    ("iputils-ping", "ping"),
    // ip: network namespaces, TAP and veth set-up for the root tests.
    ("iproute2", "ip"),
    // QEMU's own rtl8139, driven through qtest: the RTL8139 driver's
    // traffic tests run on it too.
    ("qemu-system-x86", "qemu-system-x86_64"),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = project_root();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&root),
        Some("demo") => demo(&root),
        Some("deps") => install_packages(),
        _ => {
            eprintln!("usage: cargo xtask <test|demo|deps>");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn have(command: &str) -> bool {
    if command.starts_with('/') {
        return Path::new(command).exists();
    }
    Command::new("sh")
        .args(["-c", &format!("command -v {command} >/dev/null 2>&1")])
        .status()
        .is_ok_and(|s| s.success())
}

fn run(root: &Path, program: &str, args: &[&str]) -> Result<(), String> {
    run_expecting(root, program, args, 0)
}

/// Runs `program` with extra environment variables; it must succeed.
fn run_env(root: &Path, program: &str, args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    let shown: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    eprintln!("xtask: $ {} {program} {}", shown.join(" "), args.join(" "));
    let status = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root)
        .status()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed ({status})", args.join(" ")))
    }
}

/// Runs `program`, which must exit with `code` (a demo of a violation
/// exits with 1 on purpose).
fn run_expecting(root: &Path, program: &str, args: &[&str], code: i32) -> Result<(), String> {
    eprintln!("xtask: $ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .current_dir(root)
        .status()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if status.code() == Some(code) {
        Ok(())
    } else {
        Err(format!(
            "`{program} {}` failed ({status}; expected exit code {code})",
            args.join(" ")
        ))
    }
}

/// Installs missing Debian packages with apt-get (refreshing the index once if needed).
fn install_packages() -> Result<(), String> {
    let missing: Vec<&str> = PACKAGES
        .iter()
        .filter(|(_, cmd)| !have(cmd))
        .map(|(pkg, _)| *pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !have("apt-get") {
        return Err(format!(
            "missing packages {missing:?} and no apt-get to install them"
        ));
    }
    eprintln!("xtask: installing {}", missing.join(" "));
    let install = |update_first: bool| {
        let mut script = String::from("export DEBIAN_FRONTEND=noninteractive; ");
        // iperf3 asks whether to start a daemon: answer no beforehand.
        script.push_str(
            "echo 'iperf3 iperf3/start_daemon boolean false' | debconf-set-selections 2>/dev/null; ",
        );
        if update_first {
            script.push_str("apt-get update -qq && ");
        }
        script.push_str(&format!(
            "apt-get install -y -qq -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold {} >/dev/null",
            missing.join(" ")
        ));
        Command::new("sh")
            .args(["-c", &script])
            .status()
            .is_ok_and(|s| s.success())
    };
    if !install(false) && !install(true) {
        return Err(format!("apt-get could not install {}", missing.join(" ")));
    }
    Ok(())
}

fn test(root: &Path) -> Result<(), String> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if let Err(e) = install_packages() {
        if ci {
            return Err(e);
        }
        eprintln!("xtask: warning: {e}; tests that need them will fail");
    }
    run(root, "cargo", &["fmt", "--all", "--check"])?;
    run(
        root,
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    run(root, "cargo", &["test", "--workspace", "--all-targets"])?;
    run(root, "cargo", &["test", "--workspace", "--doc"])?;
    // The model checker over the request queue and the hybrid scheduler:
    // the runtime built with `--cfg loom`, in its own target folder.
    run_env(
        root,
        "cargo",
        &["test", "--release", "-p", "dingo", "--test", "loom"],
        &[
            ("RUSTFLAGS", "--cfg loom"),
            ("CARGO_TARGET_DIR", "target/loom"),
        ],
    )?;
    // The RTL8139 nucleus's interrupt handoff, every interleaving of
    // small scenarios under shuttle's exhaustive scheduler.
    run_env(
        root,
        "cargo",
        &["test", "--release", "-p", "rtl8139", "--test", "shuttle"],
        &[
            ("RUSTFLAGS", "--cfg shuttle"),
            ("CARGO_TARGET_DIR", "target/shuttle"),
        ],
    )?;
    // The checker's benchmark is also a test: it fails when a target is
    // missed. The others report their figures against their targets (see
    // README.md) and fail only on a wrong result: the observer on a legal
    // generated trace it refuses, dispatch, XPC and net on an error.
    dingo(root, &["bench", "tingu"])?;
    dingo(root, &["bench", "observer", "--runs", "3"])?;
    dingo(root, &["bench", "dispatch", "--runs", "3"])?;
    dingo(root, &["bench", "xpc", "--calls", "20000", "--runs", "1"])?;
    // The AX88772 pair, Dingo next to native; fails if an observer reports
    // a violation during the load.
    dingo(root, &["bench", "net", "--seconds", "0.3", "--runs", "1"])?;
    // The RTL8139 split into nucleus and decaf process, next to its native
    // twin: bring-up and steady state (fail only on an error). The small
    // decaf program is built next to `dingo`, which then starts it.
    run(
        root,
        "cargo",
        &[
            "build",
            "--release",
            "-p",
            "rtl8139",
            "--bin",
            "rtl8139-decaf",
        ],
    )?;
    dingo(root, &["bench", "decaf-init", "--runs", "7"])?;
    dingo(root, &["decaf-demo", "--seconds", "3", "--kill-at", "1"])?;
    dingo(
        root,
        &["bench", "decaf-steady", "--seconds", "0.5", "--runs", "3"],
    )?;
    eprintln!("xtask: all tests passed");
    Ok(())
}

/// Runs the release `dingo` command with `args`; it must succeed.
fn dingo(root: &Path, args: &[&str]) -> Result<(), String> {
    dingo_expecting(root, args, 0)
}

/// Runs the release `dingo` command with `args`; it must exit with `code`.
fn dingo_expecting(root: &Path, args: &[&str], code: i32) -> Result<(), String> {
    let mut all = vec!["run", "-q", "--release", "-p", "dingo-cli", "--"];
    all.extend_from_slice(args);
    run_expecting(root, "cargo", &all, code)
}

fn demo(root: &Path) -> Result<(), String> {
    let _ = install_packages();
    let call = |args: &[&str]| dingo(root, args);
    // A driver under its observer: the heartbeat example kicks a watchdog
    // for a second, paced by the runtime's timer service.
    run(
        root,
        "cargo",
        &[
            "run",
            "-q",
            "--release",
            "-p",
            "dingo-examples",
            "--example",
            "heartbeat",
        ],
    )?;
    // The AX88772 driver under its observers: two adapters with traffic
    // and a live summary, then the same with a protocol bug injected, whose
    // report the observer prints (exit code 1).
    call(&["demo", "--seconds", "3"])?;
    dingo_expecting(
        root,
        &[
            "demo",
            "--seconds",
            "1",
            "--bug",
            "stop-with-packets-in-flight",
        ],
        1,
    )?;
    // The RTL8139 split into a nucleus and a decaf process, under echo
    // traffic; the decaf process is killed after 2 s and a new one takes
    // over (exit 1 if traffic stopped).
    call(&["decaf-demo", "--seconds", "4"])?;
    call(&["spec", "check", "specs"])?;
    call(&["spec", "show", "specs", "--component", "asix"])?;
    // The observer: a legal session of the AX88772 driver's ports, then one
    // where the driver stops while it still holds a packet (exit code 1).
    call(&[
        "spec",
        "replay",
        "specs",
        "crates/tingu-observer/tests/conformance/asix_full_session.trace",
    ])?;
    dingo_expecting(
        root,
        &[
            "spec",
            "replay",
            "specs",
            "examples/traces/asix_stop_while_holding_a_packet.trace",
        ],
        1,
    )?;
    if have("dot") {
        call(&[
            "spec",
            "graph",
            "specs",
            "--format",
            "svg",
            "-o",
            "target/diagrams",
        ])?;
        eprintln!("xtask: open target/diagrams/*.svg to see the statecharts");
    } else {
        call(&["spec", "graph", "specs", "-o", "target/diagrams"])?;
        eprintln!("xtask: Graphviz is not installed; wrote DOT files to target/diagrams");
    }
    Ok(())
}
