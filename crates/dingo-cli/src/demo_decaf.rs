//! `dingo decaf-demo`: the RTL8139 driver split into a nucleus and a decaf
//! process, with traffic, and the decaf process killed in the middle. Two
//! RTL8139 models on an in-process wire: A is driven by the split driver,
//! B by the native twin, which echoes every frame back. A line a second;
//! exit 1 if traffic ever stopped or no new decaf process took over.
//!
//! ```text
//!   sender ─▶ driver A (nucleus ⇄ decaf process) ─ RTL8139 ═ wire ═ RTL8139 ─ driver B (native) ─┐
//!   counted ◀──────────────────────────────────────────────────────────────────── echo ◀─────────┘
//! ```

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use clap::Args;
use devices::rtl8139::Rtl8139;
use hal::{DmaMemory, HostMemory};
use netwire::{FrameSink, Link, LinkConfig, LinkEnd};
use rtl8139::{Config, Driver, Mode};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Options of `dingo decaf-demo`.
#[derive(Args)]
pub struct DecafDemoArgs {
    /// Seconds of traffic.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u64).range(2..=3600))]
    seconds: u64,
    /// When to kill the decaf process, in seconds from the start of traffic.
    #[arg(long, default_value_t = 2)]
    kill_at: u64,
    /// Bytes per frame (60 to 1514).
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u16).range(60..=1514))]
    frame: u16,
}

/// Driver B's OS: sends every frame back.
struct Echo(OnceLock<Arc<Driver>>);

impl FrameSink for Echo {
    fn send_frame(&self, frame: &[u8]) {
        let Some(driver) = self.0.get() else { return };
        if frame.len() < 14 {
            return; // not an Ethernet frame: nothing to echo
        }
        let mut back = frame.to_vec();
        back.copy_within(6..12, 0);
        back[6..12].copy_from_slice(&frame[..6]);
        // Never hold up the wire: a frame that finds the queue full is
        // dropped (the sender notices).
        let _ = driver.transmit(&back);
    }
}

/// Driver A's OS: counts the echoes.
#[derive(Default)]
struct Count(AtomicU64);

impl FrameSink for Count {
    fn send_frame(&self, _: &[u8]) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

fn chip(mac: [u8; 6], end: LinkEnd) -> (Arc<Rtl8139>, Arc<dyn DmaMemory>) {
    let memory: Arc<dyn DmaMemory> = Arc::new(HostMemory::new());
    let chip = Arc::new(Rtl8139::new(
        devices::rtl8139::Config {
            mac,
            ..Default::default()
        },
        memory.clone(),
    ));
    chip.plug(end);
    (chip, memory)
}

fn mac_text(mac: [u8; 6]) -> String {
    mac.map(|b| format!("{b:02x}")).join(":")
}

/// Runs the demo.
pub fn run(args: DecafDemoArgs) -> Result<ExitCode> {
    if args.kill_at >= args.seconds {
        return Err(format!(
            "--kill-at {} must come before the end of the traffic (--seconds {})",
            args.kill_at, args.seconds
        )
        .into());
    }
    let link = Link::new(LinkConfig::unthrottled())?;
    let (chip_a, mem_a) = chip([0x52, 0x54, 0x00, 0xDE, 0xCA, 0x01], link.a());
    let (chip_b, mem_b) = chip([0x52, 0x54, 0x00, 0xDE, 0xCA, 0x02], link.b());
    let mut config_a = Config::new(Mode::Decaf(crate::bench_decaf::decaf_process()?));
    config_a.watchdog = Duration::from_secs(1);
    let echoes = Arc::new(Count::default());
    let a = Driver::start(chip_a, mem_a, echoes.clone(), config_a)?;
    let echo = Arc::new(Echo(OnceLock::new()));
    let b = Arc::new(Driver::start(
        chip_b,
        mem_b,
        echo.clone(),
        Config::new(Mode::Native),
    )?);
    let _ = echo.0.set(b.clone());
    let st = a.status();
    outln!(
        "driver A: split, decaf process {} (MAC {}, bring-up {:.2} ms, {} downcalls, {} upcalls); driver B: native twin, echoing",
        st.decaf_pid.map_or("?".into(), |p| p.to_string()),
        mac_text(st.mac),
        st.bring_up.as_secs_f64() * 1e3,
        st.crossings.downcalls,
        st.crossings.upcalls
    );
    let mut frame = vec![0u8; usize::from(args.frame)];
    frame[..6].copy_from_slice(&b.status().mac);
    frame[6..12].copy_from_slice(&st.mac);
    frame[12..14].copy_from_slice(&[0x88, 0xB5]);

    let start = Instant::now();
    let (mut sent, mut last_echoes, mut killed, mut quiet_seconds) = (0u64, 0u64, None, 0);
    let (mut seen, mut progress, mut lost) = (0u64, Instant::now(), 0u64);
    for second in 1..=args.seconds {
        let until = start + Duration::from_secs(second);
        while Instant::now() < until {
            // Up to 8 frames in flight, closed loop.
            if sent - echoes.0.load(Ordering::Relaxed) < 8 {
                if a.transmit(&frame).is_ok() {
                    sent += 1;
                }
            } else {
                std::thread::yield_now();
            }
            if killed.is_none() && start.elapsed() >= Duration::from_secs(args.kill_at) {
                if let Some(pid) = a.status().decaf_pid {
                    let pid = rustix::process::Pid::from_raw(pid as i32).ok_or("bad pid")?;
                    rustix::process::kill_process(pid, rustix::process::Signal::KILL)?;
                    outln!(
                        "       SIGKILL to the decaf process {}",
                        pid.as_raw_nonzero()
                    );
                }
                killed = Some(start.elapsed());
            }
            // A frame lost on the way (a full queue) must not stall the
            // closed loop: after 20 ms without an echo, stop waiting for it.
            let now = echoes.0.load(Ordering::Relaxed);
            if now != seen {
                (seen, progress) = (now, Instant::now());
            } else if sent - now >= 8 && progress.elapsed() > Duration::from_millis(20) {
                lost += sent - now;
                sent = now;
                progress = Instant::now();
            }
        }
        let now = echoes.0.load(Ordering::Relaxed);
        let st = a.status();
        if now == last_echoes {
            quiet_seconds += 1;
        }
        outln!(
            "{second:>4} s  {:>7} round trips/s  {:>6.1} Mb/s each way  crossings {:>4}  decaf pid {:>7}  restarts {}",
            now - last_echoes,
            (now - last_echoes) as f64 * frame.len() as f64 * 8.0 / 1e6,
            st.crossings.downcalls + st.crossings.upcalls,
            st.decaf_pid.map_or("-".into(), |p| p.to_string()),
            st.decaf_restarts
        );
        last_echoes = now;
    }
    let st = a.status();
    let (fa, fb) = (a.fast_stats(), b.fast_stats());
    outln!(
        "driver A: {} frames out, {} in; driver B: {} out, {} in; {lost} given up as lost; decaf restarts {}; last error: {}",
        fa.tx_packets,
        fa.rx_packets,
        fb.tx_packets,
        fb.rx_packets,
        st.decaf_restarts,
        st.last_error.as_deref().unwrap_or("none")
    );
    a.stop()?;
    let ok = quiet_seconds == 0 && st.decaf_restarts == 1;
    outln!(
        "{}",
        if ok {
            "traffic never stopped, and a new decaf process took over: ok"
        } else {
            "FAILED: traffic stopped, or no new decaf process took over"
        }
    );
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
