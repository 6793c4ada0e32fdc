//! `dingo demo`: a driver under its observers, with traffic.
//!
//! Two AX88772 adapters (chip models on simulated USB, the bus driver and
//! the Dingo AX88772 driver each, every driver observed) joined by an
//! in-process 100 Mb/s wire; clients send frames from one adapter to the
//! other, which echoes them. A line a second shows throughput, latency,
//! messages the observers checked and violations. `--bug` puts a protocol
//! bug into the first adapter's driver; the run then ends the way that
//! exposes it, and the observer's report is printed (exit code 1).

use asix::adapter::{Adapter, AdapterConfig, plug};
use asix::load::{self, LoadConfig, Progress};
use asix::nic::load_side;
use clap::{Args, ValueEnum};
use dingo::Runtime;
use netwire::{Link, LinkConfig};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Options of `dingo demo`.
#[derive(Args)]
pub struct DemoArgs {
    /// Seconds of traffic.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Bytes per frame (60 to 1514).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u16).range(60..=1514))]
    frame: u16,
    /// The wire's rate in Mb/s (the AX88772 is 100); 0 for no limit.
    #[arg(long, default_value_t = 100)]
    rate_mbps: u64,
    /// Put a protocol bug into the first adapter's driver.
    #[arg(long, value_enum)]
    bug: Option<BugArg>,
}

/// The bugs `--bug` can inject.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum BugArg {
    /// Answer `stop` with `stopComplete` while packets are still in flight.
    StopWithPacketsInFlight,
    /// Hand received frames to the OS after the interface was disabled.
    RxWhileDisabled,
}

fn checked(adapter: &Adapter) -> u64 {
    let driver = adapter.driver.with_observer(|o| o.checked()).unwrap_or(0);
    let bus = adapter.bus.with_observer(|o| o.checked()).unwrap_or(0);
    driver + bus
}

/// Runs the demo.
pub fn run(args: DemoArgs) -> Result<ExitCode> {
    let rt = Runtime::new();
    let base = AdapterConfig {
        delay_percent: 10,
        poll_ms: 250,
        ..AdapterConfig::default()
    };
    let mut config_a = base.clone();
    config_a.bug = args.bug.map(|b| match b {
        BugArg::StopWithPacketsInFlight => asix::Bug::StopWithPacketsInFlight,
        BugArg::RxWhileDisabled => asix::Bug::RxWhileDisabled,
    });
    config_a.chip.mac[5] = 0xA1;
    let mut config_b = base;
    config_b.chip.mac[5] = 0xB2;
    let a = Arc::new(Adapter::new(&rt, config_a)?);
    let b = Arc::new(Adapter::new(&rt, config_b)?);
    let wire = if args.rate_mbps == 0 {
        LinkConfig::unthrottled()
    } else {
        LinkConfig {
            rate_bps: Some(args.rate_mbps * 1_000_000),
            ..LinkConfig::fast_ethernet()
        }
    };
    let link = Link::new(wire)?;
    plug(&a.chip, link.a());
    plug(&b.chip, link.b());
    let t = Duration::from_secs(5);
    outln!(
        "dingo demo: two AX88772 adapters, each: chip model -> simulated USB -> bus driver -> Dingo AX88772 driver -> OS, every driver under its observer"
    );
    outln!(
        "wire: {}; {} clients echoing {}-byte frames for {} s{}",
        if args.rate_mbps == 0 {
            "no rate limit".to_string()
        } else {
            format!("{} Mb/s", args.rate_mbps)
        },
        args.clients,
        args.frame,
        args.seconds,
        match args.bug {
            Some(b) => format!("; injected bug in adapter A: {b:?}"),
            None => String::new(),
        }
    );
    a.bring_up(t)?;
    b.bring_up(t)?;
    if !a.net.wait_link(true, t) || !b.net.wait_link(true, t) {
        return Err("the link did not come up".into());
    }
    outln!("both adapters up, link {} Mb/s", a.net.link().unwrap_or(0));
    outln!(
        "{:>5} {:>10} {:>9} {:>10} {:>9} {:>16} {:>10}",
        "time",
        "round/s",
        "Mb/s",
        "rtt avg",
        "lost",
        "msgs checked",
        "violations"
    );
    let progress = Arc::new(Progress::default());
    let cfg = LoadConfig {
        clients: args.clients,
        frame_len: usize::from(args.frame),
        duration: Duration::from_secs(args.seconds.max(1)),
        timeout: Duration::from_millis(200),
    };
    let (sa, sb) = (load_side(a.clone()), load_side(b.clone()));
    let p = progress.clone();
    let load = std::thread::scope(|s| {
        let runner = s.spawn(move || load::run(sa, sb, cfg, p));
        let start = Instant::now();
        let (mut last_rt, mut last_bytes, mut last_ns) = (0u64, 0u64, 0u64);
        for second in 1..=args.seconds.max(1) {
            let next = start + Duration::from_secs(second);
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
            let rt_now = progress.round_trips.load(Ordering::Relaxed);
            let bytes = progress.bytes.load(Ordering::Relaxed);
            let ns = progress.rtt_ns.load(Ordering::Relaxed);
            let rounds = rt_now - last_rt;
            let avg_us = if rounds > 0 {
                (ns - last_ns) as f64 / rounds as f64 / 1000.0
            } else {
                f64::NAN
            };
            outln!(
                "{:>4}s {:>10} {:>9.1} {:>8.0}us {:>9} {:>16} {:>10}",
                second,
                rounds,
                (bytes - last_bytes) as f64 * 8.0 / 1e6,
                avg_us,
                progress.lost.load(Ordering::Relaxed),
                checked(&a) + checked(&b),
                a.violations().len() + b.violations().len()
            );
            (last_rt, last_bytes, last_ns) = (rt_now, bytes, ns);
        }
        runner.join()
    });
    let load = load.map_err(|_| "the load generator panicked")?;
    // The end: with `--bug rx-while-disabled`, disable A while B still sends;
    // otherwise stop A while its clients still send (the stop bug shows).
    if matches!(args.bug, Some(BugArg::RxWhileDisabled)) {
        let flood = b.net.clone();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s2 = stop.clone();
        let sender = std::thread::spawn(move || {
            let f = vec![0xffu8; 200];
            while !s2.load(Ordering::Relaxed) {
                flood.transmit(&f);
                std::thread::sleep(Duration::from_micros(100));
            }
        });
        let _ = a.net.disable(t);
        std::thread::sleep(Duration::from_millis(200));
        stop.store(true, Ordering::Relaxed);
        let _ = sender.join();
    } else {
        let flood = a.net.clone();
        let f = vec![0xffu8; 1514];
        for _ in 0..64 {
            flood.transmit(&f);
        }
    }
    let stopped_a = a.shut_down(t);
    let stopped_b = b.shut_down(t);
    outln!(
        "done: {} round trips, {:.0} frames/s, rtt p50 {:.0} us, p99 {:.0} us, {} lost; observers checked {} messages",
        load.round_trips,
        load.pps(),
        load.percentile_us(50.0),
        load.percentile_us(99.0),
        load.lost,
        checked(&a) + checked(&b)
    );
    let violations: Vec<String> = a.violations().into_iter().chain(b.violations()).collect();
    if violations.is_empty() {
        if let Err(e) = stopped_a.and(stopped_b) {
            return Err(e.into());
        }
        outln!("no protocol violation");
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "{} protocol violation(s); the first report:",
        violations.len()
    );
    outln!("{}", violations[0]);
    Ok(ExitCode::from(1))
}
