//! `dingo bench decaf-init` and `dingo bench decaf-steady`: the RTL8139
//! split into a nucleus and a decaf process, next to its native twin (the
//! same driver entirely in the nucleus), on the in-process RTL8139 model,
//! measured in the same run, the variants taking turns, each run starting
//! with the next variant (benchmarks.md, the Decaf paper's Table 3).
//!
//! ```text
//!   init:    Driver::start (launch decaf, probe, open) ... timed; stop
//!   steady:  sender ─▶ driver.transmit ─▶ model TX ─▶ reflector ─▶ model RX
//!              ▲                                                    │ IRQ
//!              └───────── counted by the OS sink ◀── nucleus RX ◀───┘
//! ```
//!
//! In `decaf-steady` the drivers run side by side, each on its own model,
//! with a second native driver as a control (its distance from the first
//! is the noise floor), and take turns in 100 ms slices, so that drift in
//! the machine's speed falls on all of them; their watchdogs run
//! throughout.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use devices::rtl8139::{Config as ModelConfig, Rtl8139};
use hal::{DmaMemory, HostMemory};
use netwire::FrameSink;
use rtl8139::{Config, Driver, Launcher, Mode};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The decaf process: the small `rtl8139-decaf` program if it was built
/// next to this one (it starts faster: 9 MB against 26), else this program
/// again (hidden subcommand).
pub fn decaf_process() -> Result<Launcher> {
    let me = std::env::current_exe()?;
    let sibling = me.with_file_name("rtl8139-decaf");
    Ok(if sibling.is_file() {
        Launcher::Process {
            program: sibling,
            args: Vec::new(),
        }
    } else {
        Launcher::Process {
            program: me,
            args: vec!["rtl8139-decaf".into()],
        }
    })
}

/// The decaf program, for the report.
fn decaf_program_name() -> String {
    match decaf_process() {
        Ok(Launcher::Process { program, args }) => {
            let name = program
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            [name].into_iter().chain(args).collect::<Vec<_>>().join(" ")
        }
        _ => "?".into(),
    }
}

fn variants() -> Result<Vec<(&'static str, Mode)>> {
    Ok(vec![
        ("native", Mode::Native),
        ("decaf process", Mode::Decaf(decaf_process()?)),
        ("decaf thread", Mode::Decaf(Launcher::Thread)),
    ])
}

/// `decaf-steady` adds a second native driver: the baseline is the mean of
/// the two, and how far they differ in the same run is the measurement's
/// noise floor.
fn steady_variants() -> Result<Vec<(&'static str, Mode)>> {
    let mut v = variants()?;
    v.push(("native (control)", Mode::Native));
    Ok(v)
}

/// Counts frames.
#[derive(Default)]
struct Counter(AtomicU64);

impl FrameSink for Counter {
    fn send_frame(&self, _: &[u8]) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Sends what the chip transmits straight back into it.
struct Reflector(OnceLock<Arc<Rtl8139>>);

impl FrameSink for Reflector {
    fn send_frame(&self, frame: &[u8]) {
        if let Some(chip) = self.0.get() {
            chip.send_frame(frame);
        }
    }
}

/// A fresh model; with `reflect`, its transmissions come back to it.
fn model(reflect: bool) -> (Arc<Rtl8139>, Arc<HostMemory>) {
    let memory = Arc::new(HostMemory::new());
    let chip = Arc::new(Rtl8139::new(
        ModelConfig::default(),
        memory.clone() as Arc<dyn DmaMemory>,
    ));
    if reflect {
        let r = Arc::new(Reflector(OnceLock::new()));
        let _ = r.0.set(chip.clone());
        chip.attach_wire(r);
    }
    (chip, memory)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One bring-up: (seconds, downcalls, upcalls, register accesses).
fn bring_up(mode: &Mode) -> Result<(f64, u64, u64, u64)> {
    let (chip, memory) = model(false);
    let start = Instant::now();
    let driver = Driver::start(
        chip,
        memory,
        Arc::new(Counter::default()),
        Config::new(mode.clone()),
    )?;
    let took = start.elapsed().as_secs_f64();
    let st = driver.status();
    driver.stop()?;
    Ok((
        took,
        st.crossings.downcalls,
        st.crossings.upcalls,
        st.slow_accesses,
    ))
}

/// `dingo bench decaf-init`.
pub fn run_init(runs: usize, json: bool) -> Result<ExitCode> {
    let runs = runs.max(1);
    let variants = variants()?;
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    let mut counts = vec![(0, 0, 0); variants.len()];
    let mut ratios = Vec::new();
    for run in 0..runs + 1 {
        let mut this_run = vec![0.0; variants.len()];
        for k in 0..variants.len() {
            let i = (run + k) % variants.len();
            let (t, down, up, accesses) = bring_up(&variants[i].1)?;
            times[i].push(t);
            counts[i] = (down, up, accesses);
            this_run[i] = t;
        }
        ratios.push(this_run[1] / this_run[0]);
    }
    // The first round warms caches and the page cache for the binary.
    for t in &mut times {
        t.remove(0);
    }
    ratios.remove(0);
    let native = median(times[0].clone());
    let decaf = median(times[1].clone());
    let limit = 1.1 * native + 0.005;
    outln!(
        "dingo bench decaf-init: RTL8139 bring-up (launch, probe, open) on the in-process model, median of {runs} runs; the decaf process is `{}`",
        decaf_program_name()
    );
    outln!(
        "{:<16} {:>12} {:>10} {:>10} {:>12} {:>10}",
        "driver",
        "bring-up ms",
        "x native",
        "downcalls",
        "upcalls",
        "reg access"
    );
    for (i, (name, _)) in variants.iter().enumerate() {
        let t = median(times[i].clone());
        let (down, up, acc) = counts[i];
        outln!(
            "{:<16} {:>12.3} {:>10.2} {:>10} {:>12} {:>10}",
            name,
            t * 1e3,
            t / native,
            down,
            up,
            acc
        );
    }
    outln!(
        "decaf process: {:.3} ms against a limit of 1.1 x native + 5 ms = {:.3} ms: {} (per-run ratio median {:.2})",
        decaf * 1e3,
        limit * 1e3,
        if decaf <= limit { "met" } else { "MISSED" },
        median(ratios)
    );
    if json {
        outln!(
            "{{\"bench\":\"decaf-init\",\"runs\":{runs},\"native_ms\":{:.4},\"decaf_process_ms\":{:.4},\"decaf_thread_ms\":{:.4},\"downcalls\":{},\"upcalls\":{},\"limit_ms\":{:.4}}}",
            native * 1e3,
            decaf * 1e3,
            median(times[2].clone()) * 1e3,
            counts[1].0,
            counts[1].1,
            limit * 1e3
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// One driver under steady load: frames sent and reflected back.
struct Loaded {
    driver: Driver,
    received: Arc<Counter>,
    frame: Vec<u8>,
    frames: u64,
    seconds: f64,
}

impl Loaded {
    fn start(mode: &Mode, frame_len: usize) -> Result<Loaded> {
        let (chip, memory) = model(true);
        let received = Arc::new(Counter::default());
        let driver = Driver::start(chip, memory, received.clone(), Config::new(mode.clone()))?;
        let mut frame = vec![0u8; frame_len];
        frame[..6].copy_from_slice(&driver.status().mac);
        frame[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
        let mut l = Loaded {
            driver,
            received,
            frame,
            frames: 0,
            seconds: 0.0,
        };
        l.load(Duration::from_millis(50))?; // warm up
        (l.frames, l.seconds) = (0, 0.0);
        Ok(l)
    }

    /// Sends for `slice`, counting what comes back.
    fn load(&mut self, slice: Duration) -> Result<()> {
        let got0 = self.received.0.load(Ordering::Relaxed);
        let start = Instant::now();
        while start.elapsed() < slice {
            for _ in 0..64 {
                self.driver
                    .transmit_wait(&self.frame, Duration::from_secs(1))?;
            }
        }
        self.seconds += start.elapsed().as_secs_f64();
        self.frames += self.received.0.load(Ordering::Relaxed) - got0;
        Ok(())
    }
}

/// The length of one turn: the variants take turns in slices this long,
/// so that drift in the machine's speed falls on all of them.
const SLICE: Duration = Duration::from_millis(100);

/// `dingo bench decaf-steady`.
pub fn run_steady(seconds: f64, runs: usize, frame_len: usize, json: bool) -> Result<ExitCode> {
    let runs = runs.max(1);
    let variants = steady_variants()?;
    let mut pps: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    let mut crossings = vec![0; variants.len()];
    let (mut ratios, mut spreads) = (Vec::new(), Vec::new());
    let slices = ((seconds / SLICE.as_secs_f64()).ceil() as usize).max(1);
    let n = variants.len();
    for run in 0..runs {
        // Started in turn too: which driver is made first must not matter.
        let mut started: Vec<Option<Loaded>> = (0..n).map(|_| None).collect();
        for k in 0..n {
            let i = (run + k) % n;
            started[i] = Some(Loaded::start(&variants[i].1, frame_len)?);
        }
        let mut loaded: Vec<Loaded> = started.into_iter().flatten().collect();
        let before: Vec<_> = loaded.iter().map(|l| l.driver.status().crossings).collect();
        for slice in 0..slices {
            for k in 0..loaded.len() {
                loaded[(run + slice + k) % variants.len()].load(SLICE)?;
            }
        }
        let this_run: Vec<f64> = loaded.iter().map(|l| l.frames as f64 / l.seconds).collect();
        for (i, l) in loaded.into_iter().enumerate() {
            let after = l.driver.status().crossings;
            crossings[i] +=
                after.downcalls + after.upcalls - before[i].downcalls - before[i].upcalls;
            pps[i].push(this_run[i]);
            l.driver.stop()?;
        }
        // Against both native drivers: their mean is the baseline, their
        // difference the noise floor.
        let base = (this_run[0] + this_run[3]) / 2.0;
        ratios.push(this_run[1] / base);
        spreads.push((this_run[3] / this_run[0] - 1.0).abs());
    }
    let native = (median(pps[0].clone()) + median(pps[3].clone())) / 2.0;
    let ratio = median(ratios);
    let spread = median(spreads);
    outln!(
        "dingo bench decaf-steady: {frame_len}-byte frames sent and reflected back through the RTL8139 driver, {seconds} s per run, median of {runs} runs"
    );
    outln!(
        "{:<16} {:>14} {:>10} {:>22}",
        "driver",
        "frames/s",
        "x natives",
        "crossings meanwhile"
    );
    for (i, (name, _)) in variants.iter().enumerate() {
        let p = median(pps[i].clone());
        outln!(
            "{:<16} {:>14.0} {:>10.3} {:>22}",
            name,
            p,
            p / native,
            crossings[i] / runs as u64
        );
    }
    outln!(
        "decaf process: {ratio:.3}x the mean of the two native drivers (median of per-run ratios; target at least 0.99: {}); noise floor: the two native drivers differed by {:.1}% (median per run)",
        if ratio >= 0.99 { "met" } else { "MISSED" },
        spread * 100.0
    );
    if json {
        outln!(
            "{{\"bench\":\"decaf-steady\",\"runs\":{runs},\"seconds\":{seconds},\"frame\":{frame_len},\"native_pps\":{native:.0},\"decaf_process_pps\":{:.0},\"ratio\":{ratio:.4}}}",
            median(pps[1].clone())
        );
    }
    Ok(ExitCode::SUCCESS)
}
