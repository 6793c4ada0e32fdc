//! `dingo bench net`: packets per second and round-trip latency through a
//! pair of AX88772 adapters, for 1 to 32 concurrent clients, with the Dingo
//! driver (observers off, and on) next to the native twin (the same device
//! logic written with threads and locks) measured in the same run.
//!
//! Each case builds a fresh pair: two chip models on simulated USB joined
//! by an in-process wire, the same driver on both. The load is the
//! closed-loop echo of `asix::load`: each client sends a frame from A, B
//! echoes it, the client waits for the echo. The wire has no rate limit by
//! default, so the drivers (not the wire) are what is measured.

use asix::adapter::{Adapter, AdapterConfig, plug};
use asix::load::{self, LoadConfig, LoadReport, Progress};
use asix::native::{NativeAdapter, NativeAdapterConfig};
use asix::nic::load_side;
use dingo::Runtime;
use netwire::{Link, LinkConfig};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Which driver a case runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    Native,
    Dingo,
    DingoObserved,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Native => "native",
            Variant::Dingo => "dingo",
            Variant::DingoObserved => "dingo+observer",
        }
    }
}

fn wire(rate_mbps: u64) -> Result<Link> {
    Ok(Link::new(if rate_mbps == 0 {
        LinkConfig::unthrottled()
    } else {
        LinkConfig {
            rate_bps: Some(rate_mbps * 1_000_000),
            ..LinkConfig::fast_ethernet()
        }
    })?)
}

fn base() -> AdapterConfig {
    AdapterConfig {
        delay_percent: 0,
        poll_ms: 1000,
        ..AdapterConfig::default()
    }
}

/// Runs one case on a fresh pair.
fn case(variant: Variant, clients: usize, cfg: LoadConfig, rate_mbps: u64) -> Result<LoadReport> {
    let t = Duration::from_secs(5);
    let link = wire(rate_mbps)?;
    let progress = Arc::new(Progress::default());
    let load = LoadConfig { clients, ..cfg };
    match variant {
        Variant::Native => {
            let mut ca = NativeAdapterConfig::like(&base());
            ca.chip.mac[5] = 1;
            let mut cb = NativeAdapterConfig::like(&base());
            cb.chip.mac[5] = 2;
            let a = Arc::new(NativeAdapter::new(ca)?);
            let b = Arc::new(NativeAdapter::new(cb)?);
            plug(&a.chip, link.a());
            plug(&b.chip, link.b());
            a.bring_up()?;
            b.bring_up()?;
            if !a.driver.wait_link(true, t) || !b.driver.wait_link(true, t) {
                return Err("native: no link".into());
            }
            let report = load::run(load_side(a.clone()), load_side(b.clone()), load, progress);
            let _ = a.shut_down();
            let _ = b.shut_down();
            Ok(report)
        }
        Variant::Dingo | Variant::DingoObserved => {
            let rt = Runtime::new();
            let mut c = base();
            c.observe = variant == Variant::DingoObserved;
            let (mut ca, mut cb) = (c.clone(), c);
            ca.chip.mac[5] = 1;
            cb.chip.mac[5] = 2;
            let a = Arc::new(Adapter::new(&rt, ca)?);
            let b = Arc::new(Adapter::new(&rt, cb)?);
            plug(&a.chip, link.a());
            plug(&b.chip, link.b());
            a.bring_up(t)?;
            b.bring_up(t)?;
            if !a.net.wait_link(true, t) || !b.net.wait_link(true, t) {
                return Err("dingo: no link".into());
            }
            let report = load::run(load_side(a.clone()), load_side(b.clone()), load, progress);
            let violations: Vec<String> =
                a.violations().into_iter().chain(b.violations()).collect();
            if let Some(v) = violations.first() {
                return Err(format!("the observer reported a violation:\n{v}").into());
            }
            let _ = a.shut_down(t);
            let _ = b.shut_down(t);
            Ok(report)
        }
    }
}

/// One row of the table: a client count, each variant's figures.
struct Row {
    clients: usize,
    results: Vec<(Variant, LoadReport)>,
}

/// Runs the benchmark.
pub fn run(
    clients: &[usize],
    seconds: f64,
    runs: usize,
    frame: usize,
    rate_mbps: u64,
    json: bool,
) -> Result<ExitCode> {
    let cfg = LoadConfig {
        clients: 1,
        frame_len: frame.clamp(60, 1514),
        duration: Duration::from_secs_f64(seconds.max(0.1)),
        timeout: Duration::from_millis(200),
    };
    let variants = [Variant::Native, Variant::Dingo, Variant::DingoObserved];
    let mut rows = Vec::new();
    for &n in clients {
        // The variants take turns, `runs` times, so that all three see the
        // same machine; each keeps its median run (by packets per second).
        let mut runs_of: Vec<Vec<LoadReport>> = vec![Vec::new(); variants.len()];
        for _ in 0..runs.max(1) {
            for (i, v) in variants.iter().enumerate() {
                runs_of[i].push(case(*v, n, cfg, rate_mbps)?);
            }
        }
        let results = variants
            .iter()
            .zip(runs_of)
            .map(|(v, mut r)| {
                r.sort_by(|a, b| a.pps().total_cmp(&b.pps()));
                let median = r.swap_remove(r.len() / 2);
                (*v, median)
            })
            .collect();
        rows.push(Row {
            clients: n,
            results,
        });
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    outln!(
        "dingo bench net: AX88772 pair, {}-byte frames, closed-loop echo, {:.1} s per run, median of {} runs, wire {}, {cores} cores",
        cfg.frame_len,
        seconds,
        runs.max(1),
        if rate_mbps == 0 {
            "unthrottled".to_string()
        } else {
            format!("{rate_mbps} Mb/s")
        }
    );
    outln!(
        "{:>7} | {:>9} {:>7} {:>7} | {:>9} {:>7} {:>7} {:>6} {:>6} | {:>9} {:>7} {:>7} {:>6} {:>6}",
        "clients",
        "native pps",
        "p50 us",
        "p99 us",
        "dingo pps",
        "p50 us",
        "p99 us",
        "x pps",
        "x p99",
        "+obs pps",
        "p50 us",
        "p99 us",
        "x pps",
        "x p99"
    );
    let mut json_rows = Vec::new();
    for row in &rows {
        let native = &row.results[0].1;
        let mut line = format!(
            "{:>7} | {:>10.0} {:>7.0} {:>7.0}",
            row.clients,
            native.pps(),
            native.percentile_us(50.0),
            native.percentile_us(99.0)
        );
        let mut parts = vec![format!(
            "\"clients\":{},\"native\":{{\"pps\":{:.1},\"p50_us\":{:.1},\"p99_us\":{:.1},\"lost\":{}}}",
            row.clients,
            native.pps(),
            native.percentile_us(50.0),
            native.percentile_us(99.0),
            native.lost
        )];
        for (v, r) in &row.results[1..] {
            let x_pps = r.pps() / native.pps().max(1e-9);
            let x_p99 = r.percentile_us(99.0) / native.percentile_us(99.0).max(1e-9);
            line.push_str(&format!(
                " | {:>9.0} {:>7.0} {:>7.0} {:>6.2} {:>6.2}",
                r.pps(),
                r.percentile_us(50.0),
                r.percentile_us(99.0),
                x_pps,
                x_p99
            ));
            parts.push(format!(
                "\"{}\":{{\"pps\":{:.1},\"p50_us\":{:.1},\"p99_us\":{:.1},\"lost\":{},\"pps_ratio\":{x_pps:.3},\"p99_ratio\":{x_p99:.3}}}",
                v.name(),
                r.pps(),
                r.percentile_us(50.0),
                r.percentile_us(99.0),
                r.lost
            ));
        }
        outln!("{line}");
        json_rows.push(format!("{{{}}}", parts.join(",")));
    }
    let ratio = |v: usize| {
        let mut r: Vec<f64> = rows
            .iter()
            .map(|row| row.results[v].1.pps() / row.results[0].1.pps().max(1e-9))
            .collect();
        r.sort_by(f64::total_cmp);
        r.get(r.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let (serial, observed) = (ratio(1), ratio(2));
    outln!(
        "median over client counts: dingo (serialised) {serial:.3}x native pps (target >= 0.98: {}); with observers {observed:.3}x native, {:+.1}% against without",
        if serial >= 0.98 { "met" } else { "MISSED" },
        (observed / serial.max(1e-9) - 1.0) * 100.0
    );
    if json {
        outln!(
            "{{\"bench\":\"net\",\"cores\":{cores},\"frame\":{},\"seconds\":{seconds},\"rate_mbps\":{rate_mbps},\"dingo_pps_ratio\":{serial:.3},\"observed_pps_ratio\":{observed:.3},\"rows\":[{}]}}",
            cfg.frame_len,
            json_rows.join(",")
        );
    }
    Ok(ExitCode::SUCCESS)
}
