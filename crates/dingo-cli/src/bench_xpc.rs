//! `dingo bench xpc`: the cost of an extension procedure call, next to a
//! plain function call and to raw round trips between two processes
//! (spinning on shared memory, and sleeping on a futex) measured by the
//! same program.
//!
//! The decaf side is this program again (`dingo xpc-peer`, hidden), so the
//! benchmark needs nothing else. Cases: null call, a 16-byte struct, a
//! 4 KiB struct, a nested upcall (the decaf side calls back while serving);
//! in process (two threads), and across processes, spinning or sleeping.

use std::hint::black_box;
use std::process::{Child, Command, ExitCode};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use xpc::peer::{ECHO, NUCLEUS_INC, UPCALL};
use xpc::shm::Shm;
use xpc::{Endpoint, Transport, in_process};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const T: Duration = Duration::from_secs(10);

/// A decaf process (this program) on a fresh region, and our end of it.
struct Peer {
    child: Arc<Mutex<Child>>,
    shm: Option<Shm>,
}

impl Peer {
    fn start(mode: &[&str]) -> Result<Peer> {
        let mut command = Command::new(std::env::current_exe()?);
        command.arg("xpc-peer");
        let (shm, child) = xpc::peer::spawn(command, mode)?;
        Ok(Peer {
            child,
            shm: Some(shm),
        })
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.shm.take();
        if let Ok(mut c) = self.child.lock() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Nanoseconds per call of `procedure` with `args`, over `n` calls.
fn time_calls<Tr: Transport>(
    ep: &mut Endpoint<Tr>,
    procedure: u32,
    args: &[u8],
    n: u32,
) -> Result<f64> {
    // Warm up.
    for _ in 0..n.min(1000) {
        ep.call(procedure, args.to_vec(), T)?;
    }
    let start = Instant::now();
    for _ in 0..n {
        black_box(ep.call(procedure, args.to_vec(), T)?);
    }
    Ok(start.elapsed().as_secs_f64() * 1e9 / f64::from(n))
}

fn register_nucleus<Tr: Transport>(ep: &mut Endpoint<Tr>) {
    ep.register(NUCLEUS_INC, |_, args| {
        Ok(args.iter().map(|b| b.wrapping_add(1)).collect())
    });
}

/// One row per case.
struct Row {
    case: String,
    ns: f64,
}

/// Nanoseconds per raw round trip between two processes, spinning on
/// shared memory or sleeping on a futex, over `n` round trips.
fn raw_round_trip(sleep: bool, n: u32) -> Result<f64> {
    let warm = n.min(1000);
    let mode = if sleep { "raw-sleep" } else { "raw-spin" };
    let peer = Peer::start(&[mode, &(warm + n).to_string()])?;
    let shm = peer.shm.as_ref().ok_or("no region")?;
    let ready = shm.raw_round_trips(1..=warm, sleep);
    let Some(per) = ready.and_then(|_| shm.raw_round_trips(warm + 1..=warm + n, sleep)) else {
        let status = peer
            .child
            .lock()
            .ok()
            .and_then(|mut c| c.try_wait().ok().flatten());
        return Err(format!("the raw peer died ({status:?})").into());
    };
    Ok(per.as_secs_f64() * 1e9)
}

/// Nanoseconds per XPC call to a decaf process that spins `spins` times
/// before sleeping, and the futex wake-ups the nucleus sent per call.
fn cross_process(spins: u32, procedure: u32, args: &[u8], n: u32) -> Result<(f64, f64)> {
    let mut peer = Peer::start(&["echo", &spins.to_string()])?;
    let mut shm = peer.shm.take().ok_or("no region")?;
    shm.set_spins(spins);
    let mut ep = Endpoint::new(shm);
    register_nucleus(&mut ep);
    let ns = time_calls(&mut ep, procedure, args, n)?;
    let wakes = ep.transport().wakes() as f64 / ep.stats().calls.max(1) as f64;
    Ok((ns, wakes))
}

/// Spinning: the decaf side never sleeps.
const SPINNING: u32 = 10_000_000;

/// Runs the benchmark.
pub fn run(calls: u32, runs: usize, json: bool) -> Result<ExitCode> {
    let runs = runs.max(1);
    let small = vec![7u8; 16];
    let page = vec![9u8; 4096];
    let cases: [(&str, u32, &[u8]); 4] = [
        ("null call", ECHO, &[]),
        ("16-byte struct", ECHO, &small),
        ("4 KiB struct", ECHO, &page),
        ("nested upcall", UPCALL, &small),
    ];
    let mut rows = Vec::new();

    // A plain function call doing what ECHO does.
    let echo = |args: &[u8]| args.to_vec();
    let mut v = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        for _ in 0..calls {
            black_box(echo(black_box(&small)));
        }
        v.push(start.elapsed().as_secs_f64() * 1e9 / f64::from(calls));
    }
    rows.push(Row {
        case: "function call (16 bytes)".into(),
        ns: median(v),
    });

    // The target's pair, measured back to back in each run so that both
    // see the same machine: the raw spin round trip and the spinning null
    // call. The ratio is the median of the per-run ratios.
    let (mut raw_spin, mut null_spin, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let raw = raw_round_trip(false, calls)?;
        let (null, _) = cross_process(SPINNING, ECHO, &[], calls)?;
        raw_spin.push(raw);
        null_spin.push(null);
        ratios.push(null / raw);
    }
    let raw_spin = median(raw_spin);
    let ratio = median(ratios);
    rows.push(Row {
        case: "raw spin round trip".into(),
        ns: raw_spin,
    });
    let raw_futex = median(
        (0..runs)
            .map(|_| raw_round_trip(true, calls.min(20_000)))
            .collect::<Result<Vec<_>>>()?,
    );
    rows.push(Row {
        case: "raw futex round trip".into(),
        ns: raw_futex,
    });

    // XPC in process: the decaf side on a thread.
    for (name, procedure, args) in cases {
        let mut v = Vec::new();
        for _ in 0..runs {
            let (a, b) = in_process();
            let server = std::thread::spawn(move || {
                let mut ep = Endpoint::new(b);
                ep.register(ECHO, |_, args| Ok(args.to_vec()));
                ep.register(UPCALL, |ep, args| {
                    ep.call(NUCLEUS_INC, args.to_vec(), T)
                        .map_err(|e| xpc::Fault::Failed(e.to_string()))
                });
                while ep.serve(None).is_ok() {}
            });
            let mut ep = Endpoint::new(a);
            register_nucleus(&mut ep);
            v.push(time_calls(&mut ep, procedure, args, calls.min(50_000))?);
            drop(ep);
            let _ = server.join();
        }
        rows.push(Row {
            case: format!("xpc in process, {name}"),
            ns: median(v),
        });
    }

    // XPC across processes, spinning and sleeping.
    let mut wakes_per_call = 0.0;
    for (how, spins) in [("spinning", SPINNING), ("sleeping", 0)] {
        for (name, procedure, args) in cases {
            if spins == SPINNING && procedure == ECHO && args.is_empty() {
                rows.push(Row {
                    case: format!("xpc cross-process {how}, {name}"),
                    ns: median(null_spin.clone()),
                });
                continue;
            }
            let n = if spins == 0 { calls.min(20_000) } else { calls };
            let mut v = Vec::new();
            for _ in 0..runs {
                let (ns, wakes) = cross_process(spins, procedure, args, n)?;
                v.push(ns);
                if spins == 0 && procedure == ECHO && args.is_empty() {
                    wakes_per_call = wakes;
                }
            }
            rows.push(Row {
                case: format!("xpc cross-process {how}, {name}"),
                ns: median(v),
            });
        }
    }

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    outln!("dingo bench xpc: {calls} calls per case, median of {runs} runs, {cores} cores");
    outln!("{:<46} {:>12} {:>14}", "case", "ns/call", "x raw spin");
    for r in &rows {
        outln!("{:<46} {:>12.0} {:>14.2}", r.case, r.ns, r.ns / raw_spin);
    }
    outln!(
        "null call across processes, spinning: {ratio:.2}x the raw spin round trip (median of per-run ratios; target at most 2: {}); futex wake-ups sent by the nucleus per sleeping null call: {wakes_per_call:.2} (at most 1)",
        if ratio <= 2.0 { "met" } else { "MISSED" }
    );
    if json {
        let parts: Vec<String> = rows
            .iter()
            .map(|r| format!("{{\"case\":\"{}\",\"ns\":{:.1}}}", r.case, r.ns))
            .collect();
        outln!(
            "{{\"bench\":\"xpc\",\"cores\":{cores},\"calls\":{calls},\"raw_spin_ns\":{raw_spin:.1},\"raw_futex_ns\":{raw_futex:.1},\"null_call_to_raw_spin\":{ratio:.3},\"cases\":[{}]}}",
            parts.join(",")
        );
    }
    Ok(ExitCode::SUCCESS)
}
