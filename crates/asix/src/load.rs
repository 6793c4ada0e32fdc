//! A closed-loop echo load between two network endpoints, for the demo and
//! `dingo bench net`: each client sends a frame from side A, side B echoes
//! it, and the client waits for the echo before it sends the next one. The
//! round trips per second are the throughput, their times the latency.
//!
//! ```text
//!   client i ── frame(i, seq, t0) ──▶ A ══ wire ══▶ B ─┐ echo
//!   client i ◀── frame(i, seq) ───── A ◀══ wire ══ B ◀─┘
//!        rtt = now - t0; next seq
//! ```
//!
//! A frame that is lost (a full queue, a dropped frame) is sent again after
//! a timeout and counted as lost.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Sends a frame; false if the endpoint refused it (queue full, down).
pub type Transmit = Arc<dyn Fn(&[u8]) -> bool + Send + Sync>;
/// Receives frames.
pub type OnFrame = Arc<dyn Fn(&[u8]) + Send + Sync>;

/// One side of the load: how to send, and how to install a receiver.
pub struct Side {
    /// Sends a frame.
    pub transmit: Transmit,
    /// Installs the receiver (called once).
    pub set_receiver: Box<dyn FnOnce(OnFrame) + Send>,
}

/// The load's shape.
#[derive(Clone, Copy, Debug)]
pub struct LoadConfig {
    /// Concurrent clients.
    pub clients: usize,
    /// Bytes per frame (60..=1514).
    pub frame_len: usize,
    /// How long to run.
    pub duration: Duration,
    /// How long a client waits for its echo before sending again.
    pub timeout: Duration,
}

impl Default for LoadConfig {
    fn default() -> Self {
        LoadConfig {
            clients: 4,
            frame_len: 64,
            duration: Duration::from_secs(2),
            timeout: Duration::from_millis(200),
        }
    }
}

/// What a run measured.
#[derive(Clone, Debug, Default)]
pub struct LoadReport {
    /// Completed round trips.
    pub round_trips: u64,
    /// Frames that got no echo in time.
    pub lost: u64,
    /// Seconds measured.
    pub seconds: f64,
    /// Round-trip times in microseconds, sorted.
    pub rtt_us: Vec<u32>,
}

impl LoadReport {
    /// Frames per second through the pair (two per round trip).
    pub fn pps(&self) -> f64 {
        2.0 * self.round_trips as f64 / self.seconds.max(1e-9)
    }

    /// A percentile of the round-trip time, in microseconds.
    pub fn percentile_us(&self, p: f64) -> f64 {
        if self.rtt_us.is_empty() {
            return f64::NAN;
        }
        let i = ((self.rtt_us.len() - 1) as f64 * p / 100.0).round() as usize;
        f64::from(self.rtt_us[i.min(self.rtt_us.len() - 1)])
    }
}

/// Progress, for a live summary (read it while the load runs).
#[derive(Debug, Default)]
pub struct Progress {
    /// Round trips so far.
    pub round_trips: AtomicU64,
    /// Bytes echoed so far (both ways).
    pub bytes: AtomicU64,
    /// Lost frames so far.
    pub lost: AtomicU64,
    /// Sum of round-trip times in nanoseconds so far.
    pub rtt_ns: AtomicU64,
}

/// The frame type the load uses (IEEE local experimental ethertype 2).
const ETHERTYPE: [u8; 2] = [0x88, 0xB6];
const REQUEST: u8 = 1;
const ECHO: u8 = 2;

fn frame(len: usize, client: u16, seq: u32, kind: u8) -> Vec<u8> {
    let mut f = vec![0u8; len.clamp(60, 1514)];
    f[..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, kind]);
    f[12..14].copy_from_slice(&ETHERTYPE);
    f[14] = kind;
    f[15..17].copy_from_slice(&client.to_be_bytes());
    f[17..21].copy_from_slice(&seq.to_be_bytes());
    f
}

fn parse(f: &[u8]) -> Option<(u8, u16, u32)> {
    if f.len() < 21 || f[12..14] != ETHERTYPE {
        return None;
    }
    Some((
        f[14],
        u16::from_be_bytes([f[15], f[16]]),
        u32::from_be_bytes([f[17], f[18], f[19], f[20]]),
    ))
}

/// Runs the load between `a` and `b`; `progress` is updated as it goes.
pub fn run(a: Side, b: Side, config: LoadConfig, progress: Arc<Progress>) -> LoadReport {
    // B echoes every request.
    let b_tx = b.transmit.clone();
    (b.set_receiver)(Arc::new(move |f: &[u8]| {
        if let Some((REQUEST, _, _)) = parse(f) {
            let mut echo = f.to_vec();
            echo[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, ECHO]);
            echo[14] = ECHO;
            let _ = b_tx(&echo);
        }
    }));
    // A hands each echo to its client.
    let clients: Arc<Mutex<HashMap<u16, Sender<u32>>>> = Arc::default();
    let routes = clients.clone();
    (a.set_receiver)(Arc::new(move |f: &[u8]| {
        if let Some((ECHO, client, seq)) = parse(f)
            && let Ok(r) = routes.lock()
            && let Some(tx) = r.get(&client)
        {
            let _ = tx.send(seq);
        }
    }));
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for c in 0..config.clients.max(1) {
        let client = c as u16;
        let (tx, rx): (Sender<u32>, Receiver<u32>) = mpsc::channel();
        if let Ok(mut r) = clients.lock() {
            r.insert(client, tx);
        }
        let (stop, progress, send) = (stop.clone(), progress.clone(), a.transmit.clone());
        threads.push(std::thread::spawn(move || {
            let mut rtts = Vec::new();
            let (mut seq, mut lost) = (0u32, 0u64);
            while !stop.load(Ordering::Relaxed) {
                seq = seq.wrapping_add(1);
                let f = frame(config.frame_len, client, seq, REQUEST);
                let t0 = Instant::now();
                while !send(&f) {
                    if stop.load(Ordering::Relaxed) {
                        return (rtts, lost);
                    }
                    std::thread::sleep(Duration::from_micros(50));
                }
                let deadline = t0 + config.timeout;
                loop {
                    match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                        Ok(s) if s == seq => {
                            let rtt = t0.elapsed();
                            rtts.push(rtt.as_micros().min(u128::from(u32::MAX)) as u32);
                            progress.round_trips.fetch_add(1, Ordering::Relaxed);
                            progress
                                .bytes
                                .fetch_add(2 * f.len() as u64, Ordering::Relaxed);
                            progress
                                .rtt_ns
                                .fetch_add(rtt.as_nanos() as u64, Ordering::Relaxed);
                            break;
                        }
                        Ok(_) => continue, // a late echo of an earlier frame
                        Err(_) => {
                            lost += 1;
                            progress.lost.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                    }
                }
            }
            (rtts, lost)
        }));
    }
    let start = Instant::now();
    std::thread::sleep(config.duration);
    stop.store(true, Ordering::Relaxed);
    let mut report = LoadReport::default();
    for t in threads {
        if let Ok((rtts, lost)) = t.join() {
            report.round_trips += rtts.len() as u64;
            report.rtt_us.extend(rtts);
            report.lost += lost;
        }
    }
    report.seconds = start.elapsed().as_secs_f64();
    report.rtt_us.sort_unstable();
    report
}
