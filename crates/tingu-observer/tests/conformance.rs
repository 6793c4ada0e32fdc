//! The conformance suite: hand-written traces with their expected verdicts,
//! for every protocol and component of the standard library (`specs/`) and
//! every rule of section 3 of the design brief (section 7 of docs/tingu.md).
//!
//! Each `tests/conformance/*.trace` file is an ordinary trace (docs/traces.md)
//! whose comments carry the expectations:
//!
//! ```text
//! # RULES: 3, 4                                 which rules the file covers (required)
//! 12ms  lc  !stopComplete   # VIOLATION blocked driver blocker=eth
//! 3s    tick                # VIOLATION timeout environment state=cancelling at=2.1s
//! # STATE eth EthernetController.ending         the active state of a port here
//! # STATE usb/pipeOpen:1 (none)                 no live subport at that address
//! # TERMINATED                                  every port and subport has ended
//! # NOT TERMINATED                              some port or subport is still alive
//! ```
//!
//! - An event whose comment holds `VIOLATION <kind> <blame>` must produce
//!   exactly the violations listed (several `# VIOLATION` comments may follow
//!   one event); every other event must produce none. A timeout is revealed
//!   by the event whose time reaches its deadline (a `tick` or a message), so
//!   that line carries it. Optional qualifiers: `blocker=PORT` (a blocked
//!   message: the port that refused it), `state=PATH` (a timeout: the state
//!   that expired, without the protocol name), `at=TIME` (when it happened;
//!   for a timeout, its deadline).
//! - Kinds: `illegal`, `blocked`, `direction`, `undeclared`, `after-final`,
//!   `timeout`, `duplicate-subport`, `unknown-subport`, `spec-error`.
//!   Blames: `driver`, `environment`, `both`, `spec`.
//! - `# STATE`, `# TERMINATED` and `# NOT TERMINATED` stand on lines of their
//!   own and are checked between the events around them.
//!
//! The observer runs with [`Policy::Continue`]: a violating message changes
//! nothing, so one file may hold several violations. Traces whose component
//! is `fixture` run against [`FIXTURE`], a small spec for the constructs the
//! library never uses (priority between nesting levels, overlapping guards,
//! timeouts that both sides could end or that depend on another port,
//! `after`, evaluation errors); all other traces run against `specs/` and
//! replay with `dingo spec replay specs FILE`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tingu::ir::Model;
use tingu_observer::trace::{self, Address, EventKind, Trace};
use tingu_observer::{
    Blame, Config, Handle, InterpretedBackend, Observer, Policy, Violation, ViolationKind,
    VirtualClock,
};

/// A spec for what the standard library does not exercise. Its component is
/// `fixture`.
const FIXTURE: &str = r#"
// Conformance fixture: constructs of docs/tingu.md section 7 that the
// standard library (specs/) never uses.

/// Priority between nesting levels and overlapping guards (rules 1, 2, 8),
/// evaluation errors (rule 9), a timed super-state that both sides can
/// leave (rule 5), `after` (rule 7 of docs/tingu.md).
protocol Probe {
messages:
  in poke(u8 n);
  in back();
  in enter();
  in reset();
  in next();
  out leave();
  in add(u8 n);
  in divide(u8 d);
  in ratio(u8 d);
  in pace(bool go);
  out paced();
  in squeeze();
  in swap();
  in same();
  out spawn(Child child);

variables:
  u8 total = 0;
  u8 quotient = 0;
  bool go = true;
  u8 a = 1;
  u8 b = 2;

states:
  /// Three levels: entering `outer` enters `middle`, then `inner`.
  initial state outer {
    // Shadowed in `inner` when one of its guards holds (innermost first);
    // inherited by `low`, `mid` and `high`.
    ?poke(n) -> low;
    ?enter -> session;
    ?pace(g) / go = g -> paced;
    ?squeeze -> tight;
    ?add(n) / total += n;
    ?divide(d) / quotient = 100 / d;
    ?ratio(d) [100 / d > 10];
    // Left to right: both become the old `b`.
    ?swap / a = b, b = a;
    ?same [a == b];
    !spawn(c);

    initial state middle {
      initial state inner {
        ?poke(n) [n > 10] -> high;
        // Overlaps the transition above (a warning): source order decides.
        ?poke(n) [n > 5] -> mid;
      }
      state mid  { ?back -> outer; }
      state high { ?back -> outer; }
    }
    state low { ?back -> middle; }
  }

  /// A timed super-state that either side can leave: a timeout blames both.
  state session [3s] {
    // Back to `first` without leaving `session`: the deadline stays.
    ?reset -> session;
    ?back -> outer;
    !leave -> outer;
    initial state first  { ?next -> second; }
    state second { ?next -> first; }
  }

  /// Leaves by itself 1 s after entry if `go` holds then; otherwise the
  /// driver must take it out with `paced` within 2 s.
  state paced [2s] {
    after(1s) [go] -> outer;
    !paced -> outer;
    // Internal: changes the guard of the `after`, without re-arming it.
    ?pace(g) / go = g;
  }

  /// An `after` as long as the state's timeout (a warning): at the same
  /// instant the deadline is checked first.
  state tight [1s] {
    after(1s) -> outer;
    ?back -> outer;
  }
}

/// A subport of `Probe` whose initial state has a timeout, armed when it
/// is spawned.
protocol Child {
messages:
  out ready();
  in close();
states:
  initial state booting [1s] { !ready -> up; }
  state up { ?close -> closed; }
  final state closed;
}

/// The peer that `Waiter` synchronises with; mirrored in the component, so
/// the component sends `ping` and the environment answers `pong`.
protocol Peer {
messages:
  in ping();
  out pong();
states:
  initial state idle { ?ping -> busy; }
  state busy { !pong -> idle; }
}

/// Depends on `Peer`: a timeout blamed through a dependency on a mirrored
/// port, a guard on `dep in state` before the step, an evaluation error in
/// a listener, and a port that terminates before its dependency.
protocol Waiter {
dependencies:
  Peer peer;
messages:
  in wait();
  in quit();
variables:
  u8 pings = 0;
states:
  initial state ready {
    ?wait -> waiting;
    ?quit -> done;
    peer.ping / pings += 100;
  }
  state waiting [1s] {
    peer.pong [peer in busy] -> ready;
    peer.ping / pings += 100;
  }
  final state done;
}

component fixture {
ports:
  Probe probe;
  mirror Peer peer;
  Waiter waiter;
}
"#;

const KINDS: [&str; 9] = [
    "illegal",
    "blocked",
    "direction",
    "undeclared",
    "after-final",
    "timeout",
    "duplicate-subport",
    "unknown-subport",
    "spec-error",
];
const BLAMES: [&str; 4] = ["driver", "environment", "both", "spec"];
const RULES: std::ops::RangeInclusive<u32> = 1..=9;
const MIN_TRACES: usize = 40;

fn check_model(lib: &tingu::Library, what: &str) -> Arc<Model> {
    let checked = tingu::check(lib);
    Arc::new(
        checked
            .model
            .unwrap_or_else(|| panic!("{what} does not check: {:?}", checked.diagnostics)),
    )
}

struct Models {
    library: Arc<Model>,
    fixture: Arc<Model>,
}

impl Models {
    fn load() -> Models {
        let specs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../specs");
        let (lib, _) = tingu::Library::load(&[specs]).expect("specs/ loads");
        let (fixture, _) = tingu::Library::from_source("fixture.tingu", FIXTURE);
        Models {
            library: check_model(&lib, "specs/"),
            fixture: check_model(&fixture, "the conformance fixture"),
        }
    }

    /// The model that declares the trace's component, and the component.
    fn pick(&self, trace: &Trace) -> Result<(Arc<Model>, String), String> {
        let name = trace
            .component
            .as_deref()
            .ok_or("the trace has no `component` line")?;
        for model in [&self.library, &self.fixture] {
            if model.component(name).is_some() {
                return Ok((model.clone(), name.to_string()));
            }
        }
        Err(format!("no component `{name}` in specs/ or the fixture"))
    }
}

fn trace_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "trace"))
        .collect();
    files.sort();
    files
}

// ---- expectations ------------------------------------------------------------

/// One expected violation.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Expected {
    kind: String,
    blame: String,
    blocker: Option<String>,
    state: Option<String>,
    at_us: Option<u64>,
}

impl std::fmt::Display for Expected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind, self.blame)?;
        if let Some(b) = &self.blocker {
            write!(f, " blocker={b}")?;
        }
        if let Some(s) = &self.state {
            write!(f, " state={s}")?;
        }
        if let Some(t) = self.at_us {
            write!(f, " at={}", trace::format_time(t))?;
        }
        Ok(())
    }
}

/// A check between events.
#[derive(Clone, Debug)]
enum Check {
    /// The address's active state, or `None` for "no live instance there".
    State(Address, String, Option<String>),
    /// Whether the component has terminated.
    Terminated(bool),
}

/// The annotations of one trace file.
#[derive(Default)]
struct Annotations {
    /// `(line, expected violations)` for event lines.
    violations: Vec<(usize, Vec<Expected>)>,
    /// `(line, check)` for check lines.
    checks: Vec<(usize, Check)>,
    /// The rules the file says it covers.
    rules: BTreeSet<u32>,
}

fn parse_time(text: &str) -> Result<u64, String> {
    let t = trace::parse(&format!("{text} tick")).map_err(|e| format!("bad time `{text}`: {e}"))?;
    Ok(t.events[0].time_us)
}

fn parse_address(text: &str) -> Result<Address, String> {
    let t = trace::parse(&format!("0ms {text} ?x"))
        .map_err(|e| format!("bad address `{text}`: {e}"))?;
    match &t.events[0].kind {
        EventKind::Message(m) => Ok(m.address.clone()),
        EventKind::Tick => Err(format!("bad address `{text}`")),
    }
}

fn parse_expected(text: &str) -> Result<Expected, String> {
    let mut words = text.split_whitespace();
    let (Some("VIOLATION"), Some(kind), Some(blame)) = (words.next(), words.next(), words.next())
    else {
        return Err(format!(
            "`{text}`: expected `VIOLATION <kind> <blame> [blocker=P] [state=S] [at=T]`"
        ));
    };
    if !KINDS.contains(&kind) {
        return Err(format!(
            "unknown violation kind `{kind}` (kinds: {KINDS:?})"
        ));
    }
    if !BLAMES.contains(&blame) {
        return Err(format!("unknown blame `{blame}` (blames: {BLAMES:?})"));
    }
    let mut e = Expected {
        kind: kind.into(),
        blame: blame.into(),
        blocker: None,
        state: None,
        at_us: None,
    };
    for w in words {
        match w.split_once('=') {
            Some(("blocker", v)) => e.blocker = Some(v.into()),
            Some(("state", v)) => e.state = Some(v.into()),
            Some(("at", v)) => e.at_us = Some(parse_time(v)?),
            _ => return Err(format!("unknown qualifier `{w}` in `{text}`")),
        }
    }
    Ok(e)
}

fn annotations(text: &str) -> Result<Annotations, String> {
    let mut a = Annotations::default();
    for (n, raw) in text.lines().enumerate() {
        let line = n + 1;
        let Some((code, comment)) = raw.split_once('#') else {
            continue;
        };
        let segments: Vec<&str> = comment.split('#').map(str::trim).collect();
        let err = |m: String| format!("line {line}: {m}");
        if code.trim().is_empty() {
            // A comment line: maybe a check, or the rules.
            let c = segments[0];
            if let Some(rest) = c.strip_prefix("RULES:") {
                for r in rest.split([',', ' ']).filter(|r| !r.is_empty()) {
                    let r: u32 = r.parse().map_err(|_| err(format!("bad rule `{r}`")))?;
                    if !RULES.contains(&r) {
                        return Err(err(format!("no rule {r}")));
                    }
                    a.rules.insert(r);
                }
            } else if let Some(rest) = c.strip_prefix("STATE ") {
                let mut words = rest.split_whitespace();
                let (Some(addr), Some(state), None) = (words.next(), words.next(), words.next())
                else {
                    return Err(err(format!(
                        "`{c}`: expected `STATE <port> <Protocol.path>` or `STATE <port> (none)`"
                    )));
                };
                let address = parse_address(addr).map_err(err)?;
                let state = (state != "(none)").then(|| state.to_string());
                a.checks
                    .push((line, Check::State(address, addr.to_string(), state)));
            } else if c == "TERMINATED" {
                a.checks.push((line, Check::Terminated(true)));
            } else if c == "NOT TERMINATED" {
                a.checks.push((line, Check::Terminated(false)));
            } else if c.starts_with("VIOLATION") {
                return Err(err("a `VIOLATION` comment must follow an event".into()));
            }
            continue;
        }
        let mut expected = Vec::new();
        for s in &segments {
            if s.starts_with("VIOLATION") {
                expected.push(parse_expected(s).map_err(err)?);
            } else if s.starts_with("STATE") || s.contains("TERMINATED") {
                return Err(err(format!("`{s}` must stand on a line of its own")));
            }
        }
        if !expected.is_empty() {
            a.violations.push((line, expected));
        }
    }
    Ok(a)
}

// ---- classification -----------------------------------------------------------

fn kind_name(k: &ViolationKind) -> &'static str {
    match k {
        ViolationKind::Illegal { blocked_by: None } => "illegal",
        ViolationKind::Illegal {
            blocked_by: Some(_),
        } => "blocked",
        ViolationKind::WrongDirection => "direction",
        ViolationKind::UnknownMessage { .. } => "undeclared",
        ViolationKind::AfterTermination => "after-final",
        ViolationKind::Timeout { .. } => "timeout",
        ViolationKind::DuplicateSubport { .. } => "duplicate-subport",
        ViolationKind::UnknownSubport { .. } => "unknown-subport",
        ViolationKind::SpecError => "spec-error",
    }
}

fn blame_name(b: Blame) -> &'static str {
    match b {
        Blame::Driver => "driver",
        Blame::Environment => "environment",
        Blame::Both => "both",
        Blame::Spec => "spec",
    }
}

fn matches(e: &Expected, v: &Violation) -> bool {
    e.kind == kind_name(&v.kind)
        && e.blame == blame_name(v.blame)
        && e.blocker.as_ref().is_none_or(
            |b| matches!(&v.kind, ViolationKind::Illegal { blocked_by: Some(x) } if x == b),
        )
        && e.state
            .as_ref()
            .is_none_or(|s| matches!(&v.kind, ViolationKind::Timeout { state, .. } if state == s))
        && e.at_us.is_none_or(|t| t == v.time_us)
}

fn short(v: &Violation) -> String {
    let mut s = format!("{} {}", kind_name(&v.kind), blame_name(v.blame));
    match &v.kind {
        ViolationKind::Illegal {
            blocked_by: Some(b),
        } => {
            let _ = write!(s, " blocker={b}");
        }
        ViolationKind::Timeout { state, .. } => {
            let _ = write!(s, " state={state} at={}", trace::format_time(v.time_us));
        }
        _ => {}
    }
    s
}

// ---- running a trace -------------------------------------------------------------

/// The live instance at an address, `None` when there is none.
fn handle_at(obs: &Observer<VirtualClock>, a: &Address) -> Result<Option<Handle>, String> {
    let mut h = obs
        .port(&a.port)
        .ok_or_else(|| format!("no port `{}`", a.port))?;
    for (spawner, key) in &a.path {
        let Some(proto) = obs.protocol_of(h) else {
            return Ok(None);
        };
        let msg = proto
            .message(spawner)
            .ok_or_else(|| format!("`{}` has no message `{spawner}`", proto.name))?;
        match obs.subport(h, msg, *key) {
            Some(s) => h = s,
            None => return Ok(None),
        }
    }
    Ok(Some(h))
}

/// What running one file found.
struct Run {
    /// Every violation with the line of the event that revealed it.
    violations: Vec<(usize, Violation)>,
    /// Every mismatch with the expectations, as `file:line: what`.
    failures: Vec<String>,
}

fn run_file(models: &Models, path: &Path) -> Result<Run, String> {
    let name = path
        .strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(path)
        .display()
        .to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
    let trace = trace::parse(&text).map_err(|e| format!("{name}: malformed trace: {e}"))?;
    let notes = annotations(&text).map_err(|e| format!("{name}: {e}"))?;
    if notes.rules.is_empty() {
        return Err(format!("{name}: no `# RULES:` line"));
    }
    let (model, component) = models.pick(&trace).map_err(|e| format!("{name}: {e}"))?;
    let clock = VirtualClock::new();
    // A history long enough to hold every trace: reports replay completely.
    let config = Config {
        history: 1024,
        policy: Policy::Continue,
    };
    let mut obs = Observer::new(
        model,
        &component,
        &InterpretedBackend,
        clock.clone(),
        config,
    )
    .map_err(|e| format!("{name}: {e}"))?;

    let event_lines: BTreeSet<usize> = trace.events.iter().map(|e| e.line).collect();
    let mut failures = Vec::new();
    for (line, _) in &notes.violations {
        if !event_lines.contains(line) {
            failures.push(format!(
                "{name}:{line}: a `VIOLATION` comment on a non-event line"
            ));
        }
    }
    let mut violations = Vec::new();
    let mut checks = notes.checks.iter().peekable();
    let mut events = trace.events.iter().peekable();
    loop {
        // Events and checks in line order.
        let next_check = checks.peek().map(|(l, _)| *l);
        let next_event = events.peek().map(|e| e.line);
        match (next_event, next_check) {
            (None, None) => break,
            (Some(e), Some(c)) if c < e => {}
            (Some(_), _) => {
                let Some(event) = events.next() else { break };
                clock.set(event.time_us);
                let before = obs.violations().len();
                match &event.kind {
                    EventKind::Tick => {
                        obs.advance();
                    }
                    EventKind::Message(m) => {
                        if let Err(e) = tingu_observer::replay::step(&mut obs, m) {
                            failures.push(format!(
                                "{name}:{}: the event does not fit the spec: {e}",
                                event.line
                            ));
                            break;
                        }
                    }
                }
                let found = &obs.violations()[before..];
                let expected = notes
                    .violations
                    .iter()
                    .find(|(l, _)| *l == event.line)
                    .map_or(&[][..], |(_, e)| e.as_slice());
                compare(&name, event.line, expected, found, &mut failures);
                violations.extend(found.iter().map(|v| (event.line, v.clone())));
                continue;
            }
            (None, Some(_)) => {}
        }
        let Some((line, check)) = checks.next() else {
            break;
        };
        match check {
            Check::State(address, text, expected) => {
                let actual = match handle_at(&obs, address) {
                    Ok(Some(h)) => obs.state_of(h),
                    Ok(None) => None,
                    Err(e) => {
                        failures.push(format!("{name}:{line}: STATE {text}: {e}"));
                        continue;
                    }
                };
                if &actual != expected {
                    failures.push(format!(
                        "{name}:{line}: STATE {text}: expected {}, found {}",
                        expected.as_deref().unwrap_or("(none)"),
                        actual.as_deref().unwrap_or("(none)")
                    ));
                }
            }
            Check::Terminated(expected) => {
                let actual = obs.component_terminated();
                if actual != *expected {
                    failures.push(format!(
                        "{name}:{line}: expected the component {}terminated, but it is {}",
                        if *expected { "" } else { "not " },
                        if actual {
                            "terminated"
                        } else {
                            "still running"
                        }
                    ));
                }
            }
        }
    }
    Ok(Run {
        violations,
        failures,
    })
}

/// Matches the violations an event revealed against the expected ones.
fn compare(
    name: &str,
    line: usize,
    expected: &[Expected],
    found: &[Violation],
    failures: &mut Vec<String>,
) {
    let mut unmatched: Vec<&Violation> = found.iter().collect();
    let mut missing = Vec::new();
    for e in expected {
        match unmatched.iter().position(|v| matches(e, v)) {
            Some(k) => {
                unmatched.remove(k);
            }
            None => missing.push(e),
        }
    }
    if missing.is_empty() && unmatched.is_empty() {
        return;
    }
    let mut msg = format!("{name}:{line}: ");
    if expected.is_empty() {
        msg.push_str("expected a legal event");
    } else {
        let list: Vec<String> = expected.iter().map(|e| e.to_string()).collect();
        let _ = write!(msg, "expected VIOLATION {}", list.join(" + VIOLATION "));
    }
    if found.is_empty() {
        msg.push_str(", found no violation");
    } else {
        let list: Vec<String> = found.iter().map(short).collect();
        let _ = write!(msg, ", found {}:", list.join(" + "));
        for v in found {
            for l in v.to_string().lines() {
                let _ = write!(msg, "\n    | {l}");
            }
        }
    }
    failures.push(msg);
}

// ---- the tests -----------------------------------------------------------------

/// Every trace gives exactly the expected verdicts and states.
#[test]
fn every_trace_meets_its_expectations() {
    let models = Models::load();
    let files = trace_files();
    let mut failures = Vec::new();
    let mut failing_files = 0;
    for file in &files {
        match run_file(&models, file) {
            Ok(run) if run.failures.is_empty() => {}
            Ok(run) => {
                failing_files += 1;
                failures.extend(run.failures);
            }
            Err(e) => {
                failing_files += 1;
                failures.push(e);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{failing_files} of {} conformance traces fail:\n\n{}\n",
        files.len(),
        failures.join("\n\n")
    );
}

/// `tingu_observer::replay` (the engine of `dingo spec replay`) finds the
/// same violations, on the same lines, as the step-by-step run.
#[test]
fn replay_agrees_with_the_step_by_step_run() {
    let models = Models::load();
    let mut failures = Vec::new();
    for file in trace_files() {
        let name = file.display().to_string();
        let Ok(run) = run_file(&models, &file) else {
            continue; // reported by every_trace_meets_its_expectations
        };
        let text = std::fs::read_to_string(&file).expect("readable");
        let trace = trace::parse(&text).expect("parsed above");
        let (model, component) = models.pick(&trace).expect("picked above");
        let replayed = match tingu_observer::replay(
            model,
            &component,
            &trace,
            &InterpretedBackend,
            Config::default(),
        ) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{name}: replay failed: {e}"));
                continue;
            }
        };
        let mine: Vec<(usize, String)> =
            run.violations.iter().map(|(l, v)| (*l, short(v))).collect();
        let theirs: Vec<(usize, String)> = replayed
            .violations
            .iter()
            .map(|(l, v)| (*l, short(v)))
            .collect();
        if mine != theirs {
            failures.push(format!(
                "{name}: step by step: {mine:?}\n  replay():     {theirs:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Rule 9: a report "can be written as a replayable trace". Replaying the
/// trace of each violation's report (complete here: the history is longer
/// than any trace) reproduces that violation on its last event.
#[test]
fn every_violation_replays_from_its_report() {
    let models = Models::load();
    let mut failures = Vec::new();
    for file in trace_files() {
        let name = file.display().to_string();
        let Ok(run) = run_file(&models, &file) else {
            continue; // reported by every_trace_meets_its_expectations
        };
        for (line, v) in &run.violations {
            let text = v.trace();
            let replayed = trace::parse(&text)
                .map_err(|e| format!("malformed: {e}"))
                .and_then(|t| {
                    let (model, component) = models.pick(&t)?;
                    let last = t.events.last().map(|e| e.line);
                    let r = tingu_observer::replay(
                        model,
                        &component,
                        &t,
                        &InterpretedBackend,
                        Config::default(),
                    )
                    .map_err(|e| e.to_string())?;
                    Ok(r.violations
                        .into_iter()
                        .filter(|(l, _)| Some(*l) == last)
                        .map(|(_, v)| short(&v))
                        .collect::<Vec<_>>())
                });
            match replayed {
                Ok(found) if found.contains(&short(v)) => {}
                Ok(found) => failures.push(format!(
                    "{name}:{line}: {} replays to {found:?} on its last event; the report's trace:\n{text}",
                    short(v)
                )),
                Err(e) => failures.push(format!(
                    "{name}:{line}: the trace of the report of {} does not replay: {e}\n{text}",
                    short(v)
                )),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The suite is big enough and covers every rule, violation kind and blame.
#[test]
fn the_suite_covers_every_rule_kind_and_blame() {
    let files = trace_files();
    assert!(
        files.len() >= MIN_TRACES,
        "only {} conformance traces (at least {MIN_TRACES} wanted)",
        files.len()
    );
    let (mut kinds, mut blames, mut rules) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    let mut components = BTreeSet::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable");
        let notes = annotations(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        rules.extend(notes.rules);
        for (_, es) in &notes.violations {
            for e in es {
                kinds.insert(e.kind.clone());
                blames.insert(e.blame.clone());
            }
        }
        if let Ok(t) = trace::parse(&text) {
            components.extend(t.component);
        }
    }
    let missing = |all: &[&str], got: &BTreeSet<String>| -> Vec<String> {
        all.iter()
            .filter(|k| !got.contains(**k))
            .map(|k| k.to_string())
            .collect()
    };
    assert!(
        missing(&KINDS, &kinds).is_empty(),
        "no trace expects these violation kinds: {:?}",
        missing(&KINDS, &kinds)
    );
    assert!(
        missing(&BLAMES, &blames).is_empty(),
        "no trace expects these blames: {:?}",
        missing(&BLAMES, &blames)
    );
    let uncovered: Vec<u32> = RULES.filter(|r| !rules.contains(r)).collect();
    assert!(uncovered.is_empty(), "no trace covers rules {uncovered:?}");
    let models = Models::load();
    let every: Vec<String> = models
        .library
        .components
        .iter()
        .map(|c| c.name.clone())
        .filter(|c| !components.contains(c))
        .collect();
    assert!(every.is_empty(), "no trace for components {every:?}");
}
