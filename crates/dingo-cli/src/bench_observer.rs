//! `dingo bench observer`: the cost per message of an attached observer.
//!
//! Long legal traces of a component are generated from its specs, decoded
//! once into `(time, port handle, direction, message, arguments)`, then fed
//! to one long-lived observer (reset between walks, untimed), timed; the
//! baseline is the same loop over the same decoded events with no observer
//! (only the clock update and a `black_box` per event), measured in the
//! same run.

use crate::bench::Backends;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tingu::ir::{MessageId, Model, Type};
use tingu::syntax::ast::Direction;
use tingu_observer::generate::random_walk;
use tingu_observer::trace::{EventKind, Sigil, Trace, Value};
use tingu_observer::{
    Backend, Config, Handle, InterpretedBackend, Observer, Policy, Verdict, VirtualClock,
};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// One decoded event.
#[derive(Clone)]
pub struct Decoded {
    time: u64,
    kind: DecodedKind,
}

#[derive(Clone)]
enum DecodedKind {
    Tick,
    Message {
        /// The declared port the message travels on, or leads down from.
        port: Handle,
        /// Subport levels below it: (spawning message, key).
        path: Vec<(MessageId, i64)>,
        direction: Direction,
        message: MessageId,
        args: Vec<i64>,
    },
}

/// Decodes a legal trace into handles and ids by replaying it once.
pub fn decode(model: &Arc<Model>, component: &str, trace: &Trace) -> Result<Vec<Decoded>> {
    let clock = VirtualClock::new();
    let config = Config {
        history: 0,
        policy: Policy::Continue,
    };
    let mut obs = Observer::new(
        model.clone(),
        component,
        &InterpretedBackend,
        clock.clone(),
        config,
    )?;
    let mut out = Vec::with_capacity(trace.events.len());
    for e in &trace.events {
        clock.set(e.time_us);
        let EventKind::Message(m) = &e.kind else {
            let _ = obs.advance();
            out.push(Decoded {
                time: e.time_us,
                kind: DecodedKind::Tick,
            });
            continue;
        };
        let port = obs.port(&m.address.port).ok_or("unknown port")?;
        let mut h = port;
        let mut path = Vec::new();
        for (spawner, key) in &m.address.path {
            let p = obs.protocol_of(h).ok_or("terminated")?;
            let sm = p.message(spawner).ok_or("unknown spawner")?;
            h = obs.subport(h, sm, *key).ok_or("unknown subport")?;
            path.push((sm, *key));
        }
        let p = obs.protocol_of(h).ok_or("terminated")?;
        let message = p.message(&m.message).ok_or("unknown message")?;
        let args = m
            .args
            .iter()
            .zip(&p.messages[message.0 as usize].params)
            .map(|(v, param)| match (v, param.ty) {
                (Value::Int(x), _) => *x,
                (Value::Bool(b), _) => *b as i64,
                (Value::Name(n), Type::Enum(en)) => model.enums[en as usize]
                    .variants
                    .iter()
                    .find(|(x, _)| x == n)
                    .map_or(0, |x| x.1),
                (Value::Name(_), _) => 0,
            })
            .collect::<Vec<i64>>();
        let direction = if m.direction == Sigil::Question {
            Direction::In
        } else {
            Direction::Out
        };
        if obs.message(h, direction, message, &args) != Verdict::Ok {
            return Err("a generated trace was not legal".into());
        }
        out.push(Decoded {
            time: e.time_us,
            kind: DecodedKind::Message {
                port,
                path,
                direction,
                message,
                args,
            },
        });
    }
    Ok(out)
}

/// Feeds decoded events to `obs` after a reset; returns (time, violations).
/// Never inlined, so that profilers can single it out.
#[inline(never)]
pub fn run_observed(obs: &mut Observer<VirtualClock>, events: &[Decoded]) -> (Duration, usize) {
    obs.clock().set(0);
    obs.reset();
    let clock = obs.clock().clone();
    let mut bad = 0;
    let start = Instant::now();
    for e in events {
        clock.set(e.time);
        let v = match &e.kind {
            DecodedKind::Tick => obs.advance(),
            DecodedKind::Message {
                port,
                path,
                direction,
                message,
                args,
            } => {
                // Subports are addressed by key, as a runtime would.
                let mut h = Some(*port);
                for &(spawner, key) in path {
                    h = h.and_then(|p| obs.subport(p, spawner, key));
                }
                match h {
                    Some(h) => obs.message(h, *direction, *message, args),
                    None => Verdict::Stopped,
                }
            }
        };
        if !v.is_ok() {
            if bad == 0 && std::env::var_os("DINGO_BENCH_DEBUG").is_some() {
                eprintln!("{v:?}");
            }
            bad += 1;
        }
    }
    (start.elapsed(), bad)
}

/// The same loop with no observer: it sets the clock and reads each event
/// (its arguments and subport path included).
pub fn run_bare(events: &[Decoded]) -> Duration {
    let clock = VirtualClock::new();
    let start = Instant::now();
    for e in events {
        clock.set(e.time);
        // Touch what the observed loop reads (the arguments and the subport
        // path live on the heap), so that neither loop pays alone for
        // bringing the trace into cache.
        if let DecodedKind::Message { args, path, .. } = &e.kind {
            std::hint::black_box(args.iter().sum::<i64>());
            std::hint::black_box(path.iter().map(|p| p.1).sum::<i64>());
        }
        std::hint::black_box(&e.kind);
    }
    start.elapsed()
}

/// Whether `lib` holds exactly the texts of the library compiled into
/// `spec_observers` (names aside: they depend on where it is loaded from).
fn same_texts(lib: &tingu::Library) -> bool {
    let mut loaded: Vec<&str> = lib
        .iter()
        .map(|(id, _)| lib.sources.file(id).text.as_str())
        .collect();
    let mut built: Vec<&str> = spec_observers::SOURCES.iter().map(|(_, t)| *t).collect();
    loaded.sort_unstable();
    built.sort_unstable();
    loaded == built
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// What `dingo bench observer` measures (its command-line options).
pub struct Options<'a> {
    /// The spec library folder.
    pub specs: &'a Path,
    /// The component whose traces are replayed.
    pub component: &'a str,
    /// Which observers.
    pub backends: Backends,
    /// History ring length of each observer.
    pub history: usize,
    /// Generated walks.
    pub walks: usize,
    /// Steps per walk.
    pub steps: usize,
    /// Timed repetitions.
    pub runs: usize,
    /// Print a JSON line.
    pub json: bool,
}

/// Runs the benchmark.
pub fn run(o: &Options) -> Result<ExitCode> {
    let Options {
        specs,
        component,
        backends: which,
        history,
        walks,
        steps,
        runs,
        json,
    } = *o;
    let (lib, diags) = tingu::Library::load(&[specs.to_path_buf()])?;
    let checked = tingu::check(&lib);
    if diags.has_errors() {
        return Err("the spec library has errors".into());
    }
    let loaded = Arc::new(checked.model.ok_or("the spec library has errors")?);
    // The compiled observers were generated at build time from the
    // standard library; they apply when `specs` holds the same texts.
    let builtin = same_texts(&lib);
    if which == Backends::Compiled && !builtin {
        return Err("compiled observers exist only for the specs the build compiled".into());
    }
    let model = if builtin {
        spec_observers::model()
    } else {
        loaded
    };
    let mut traces = Vec::new();
    for seed in 0..walks as u64 {
        let t = random_walk(&model, component, seed, steps).ok_or("no such component")?;
        traces.push(decode(&model, component, &t)?);
    }
    let messages: usize = traces.iter().map(Vec::len).sum();
    let mut backends: Vec<(&str, Box<dyn Backend>)> = Vec::new();
    if which != Backends::Compiled {
        backends.push(("interpreted", Box::new(InterpretedBackend)));
    }
    if builtin && which != Backends::Interpreted {
        backends.push(("compiled", Box::new(spec_observers::CompiledBackend)));
    }
    outln!(
        "dingo bench observer: component `{component}`, {walks} generated walks, {messages} events, history of {history}; median of {runs} runs"
    );
    outln!(
        "{:<14} {:>12} {:>12} {:>12} {:>12}",
        "observer",
        "ns/event",
        "bare ns",
        "observer ns",
        "violations"
    );
    // One long-lived observer per backend, reset between walks, as a
    // driver's would be. The backends and the bare loop take turns on each
    // walk, so a change of machine speed during the run hits them alike.
    let config = Config {
        history,
        policy: Policy::Continue,
    };
    let mut observers = Vec::new();
    for (_, backend) in &backends {
        observers.push(Observer::new(
            model.clone(),
            component,
            backend.as_ref(),
            VirtualClock::new(),
            config,
        )?);
    }
    let mut per_event = vec![Vec::new(); backends.len()];
    let mut bare = Vec::new();
    let mut violations = vec![0; backends.len()];
    for _ in 0..runs {
        let mut t_obs = vec![Duration::ZERO; backends.len()];
        let mut t_bare = Duration::ZERO;
        for events in &traces {
            for (b, obs) in observers.iter_mut().enumerate() {
                let (d, bad) = run_observed(obs, events);
                t_obs[b] += d;
                violations[b] += bad;
            }
            // Last, with the walk in cache: the observers pay for reading it.
            t_bare += run_bare(events);
        }
        for (b, t) in t_obs.iter().enumerate() {
            per_event[b].push(t.as_secs_f64() * 1e9 / messages as f64);
        }
        bare.push(t_bare.as_secs_f64() * 1e9 / messages as f64);
    }
    let bare_ns = median(bare);
    let mut json_parts = Vec::new();
    for (b, (name, _)) in backends.iter().enumerate() {
        let obs_ns = median(std::mem::take(&mut per_event[b]));
        let cost = obs_ns - bare_ns;
        let bad = violations[b];
        outln!("{name:<14} {obs_ns:>12.1} {bare_ns:>12.1} {cost:>12.1} {bad:>12}");
        json_parts.push(format!(
            "\"{name}\":{{\"ns_per_event\":{obs_ns:.2},\"bare_ns_per_event\":{bare_ns:.2},\"observer_ns_per_event\":{cost:.2},\"ratio_to_target\":{:.3},\"violations\":{bad}}}",
            cost / 15.0
        ));
        if bad > 0 {
            return Err(format!("{name}: {bad} violations on legal traces").into());
        }
    }
    if !builtin && which == Backends::Both {
        outln!("compiled: skipped (these specs are not the ones the build compiled)");
    }
    outln!("target: at most 15 ns per message spent in the observer");
    if json {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        outln!(
            "{{\"bench\":\"observer\",\"cores\":{cores},\"component\":\"{component}\",\"events\":{messages},{}}}",
            json_parts.join(",")
        );
    }
    Ok(ExitCode::SUCCESS)
}
