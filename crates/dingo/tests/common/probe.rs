//! A driver that checks the dispatcher's promises from the inside: no two
//! control handlers overlap, no control handler overlaps a data handler,
//! every message arrives once, and each sender's messages arrive in order.

#[cfg(loom)]
use loom::sync::Mutex;
#[cfg(loom)]
use loom::sync::atomic::{AtomicBool, AtomicU64, Ordering};
#[cfg(not(loom))]
use std::sync::Mutex;
#[cfg(not(loom))]
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use dingo::Handler;

/// A message: who sent it and its number in that sender's sequence.
pub type Msg = (usize, u64);

/// The serial state: control messages seen, in order.
pub struct Probe {
    pub seen: Vec<Msg>,
}

/// What data handlers share.
pub struct Shared {
    pub in_control: AtomicBool,
    pub data_running: AtomicU64,
    pub max_data_running: AtomicU64,
    pub overlaps: AtomicU64,
    /// Per sender: the next data sequence number expected.
    pub data_next: Vec<Mutex<u64>>,
    pub out_of_order: AtomicU64,
    pub data_seen: AtomicU64,
}

impl Shared {
    pub fn new(senders: usize) -> Shared {
        Shared {
            in_control: AtomicBool::new(false),
            data_running: AtomicU64::new(0),
            max_data_running: AtomicU64::new(0),
            overlaps: AtomicU64::new(0),
            data_next: (0..senders).map(|_| Mutex::new(0)).collect(),
            out_of_order: AtomicU64::new(0),
            data_seen: AtomicU64::new(0),
        }
    }
}

impl Handler for Probe {
    type Control = Msg;
    type Data = Msg;
    type Shared = Shared;

    fn control(&mut self, sh: &Shared, m: Msg) {
        if sh.in_control.swap(true, Ordering::SeqCst) {
            sh.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        if sh.data_running.load(Ordering::SeqCst) != 0 {
            sh.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        self.seen.push(m);
        sh.in_control.store(false, Ordering::SeqCst);
    }

    fn data(sh: &Shared, (sender, seq): Msg) {
        let now = sh.data_running.fetch_add(1, Ordering::SeqCst) + 1;
        sh.max_data_running.fetch_max(now, Ordering::SeqCst);
        if sh.in_control.load(Ordering::SeqCst) {
            sh.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        {
            let mut next = sh.data_next[sender].lock().unwrap();
            if *next != seq {
                sh.out_of_order.fetch_add(1, Ordering::SeqCst);
            }
            *next = seq + 1;
        }
        sh.data_seen.fetch_add(1, Ordering::SeqCst);
        sh.data_running.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Checks that `seen` holds each sender's control messages exactly once
/// and in order, `per_sender[s]` of them for sender `s`.
pub fn check_control_order(seen: &[Msg], per_sender: &[u64]) -> Result<(), String> {
    let mut next = vec![0u64; per_sender.len()];
    for &(s, seq) in seen {
        if seq != next[s] {
            return Err(format!("sender {s}: got {seq}, expected {}", next[s]));
        }
        next[s] += 1;
    }
    if next != per_sender {
        return Err(format!("counts {next:?}, expected {per_sender:?}"));
    }
    Ok(())
}
