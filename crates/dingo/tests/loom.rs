//! Every interleaving of small scenarios, explored by loom: run with
//! `RUSTFLAGS="--cfg loom" cargo test -p dingo --test loom --release`
//! (`cargo xtask test` does). In each, every message is handled exactly
//! once, each sender's messages in order, no control handler overlaps
//! another handler, and the driver ends idle.
#![cfg(loom)]

#[path = "common/probe.rs"]
mod probe;

use dingo::{Dispatcher, Executor, Mode};
use loom::sync::atomic::Ordering;
use loom::sync::{Arc, Mutex};
use loom::thread;
use probe::{Probe, Shared, check_control_order};

/// One thing a sender does.
#[derive(Clone, Copy)]
enum Step {
    Control,
    Data,
}

/// Runs `plan[s]` on sender `s` (sender 0 is the main thread) against a
/// fresh dispatcher, then checks everything.
fn scenario(mode: Mode, plan: &'static [&'static [Step]], executor: bool) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(move || {
        let jobs: Arc<Mutex<Vec<thread::JoinHandle<()>>>> = Arc::new(Mutex::new(Vec::new()));
        let probe = Probe { seen: Vec::new() };
        let shared = Shared::new(plan.len());
        let d = if executor {
            Dispatcher::with_executor(
                probe,
                shared,
                mode,
                std::sync::Arc::new(Spawner(jobs.clone())),
                1,
            )
        } else {
            Dispatcher::new(probe, shared, mode)
        };
        let run = |d: &Dispatcher<Probe>, s: usize| {
            let (mut c, mut n) = (0, 0);
            for step in plan[s] {
                match step {
                    Step::Control => {
                        d.control((s, c));
                        c += 1;
                    }
                    Step::Data => {
                        d.data((s, n));
                        n += 1;
                    }
                }
            }
        };
        let others: Vec<_> = (1..plan.len())
            .map(|s| {
                let d = d.clone();
                thread::spawn(move || run(&d, s))
            })
            .collect();
        run(&d, 0);
        for t in others {
            t.join().unwrap();
        }
        loop {
            let next = jobs.lock().unwrap().pop();
            match next {
                Some(j) => j.join().unwrap(),
                None => break,
            }
        }
        assert!(d.is_idle(), "the driver did not end idle");
        let seen = d.with_serial(|p| std::mem::take(&mut p.seen)).unwrap();
        let controls: Vec<u64> = plan
            .iter()
            .map(|p| p.iter().filter(|s| matches!(s, Step::Control)).count() as u64)
            .collect();
        check_control_order(&seen, &controls).unwrap();
        let sh = d.shared();
        assert_eq!(sh.overlaps.load(Ordering::SeqCst), 0);
        assert_eq!(sh.out_of_order.load(Ordering::SeqCst), 0);
        let data: usize = plan
            .iter()
            .map(|p| p.iter().filter(|s| matches!(s, Step::Data)).count())
            .sum();
        assert_eq!(sh.data_seen.load(Ordering::SeqCst), data as u64);
    });
}

/// An executor that runs each job on a new loom thread.
struct Spawner(Arc<Mutex<Vec<thread::JoinHandle<()>>>>);

impl Executor for Spawner {
    fn execute(&self, job: Box<dyn FnOnce() + std::marker::Send>) {
        let h = thread::spawn(job);
        self.0.lock().unwrap().push(h);
    }
}

use Step::{Control as C, Data as D};

#[test]
fn control_from_three_senders() {
    scenario(Mode::Serialised, &[&[C], &[C], &[C, C]], false);
}

#[test]
fn hybrid_data_and_control() {
    scenario(Mode::Hybrid, &[&[D, C], &[C, D], &[D]], false);
}

#[test]
fn hybrid_data_only() {
    scenario(Mode::Hybrid, &[&[D, D], &[D, D]], false);
}

#[test]
fn serialised_data_and_control() {
    scenario(Mode::Serialised, &[&[D, C], &[C, D]], false);
}

#[test]
fn handing_off_after_every_message() {
    scenario(Mode::Hybrid, &[&[C, D], &[C, C]], true);
}

/// A message pushed but not yet counted must not let a later message of
/// another sender run ahead of that sender's own earlier one (found by the
/// stress test: a drainer could pop the uncounted message with the other
/// sender's unit, leave the driver idle with that sender's message still
/// queued, and the sender's next message then took the fast path).
#[test]
fn a_sender_never_overtakes_its_own_queued_message() {
    scenario(Mode::Serialised, &[&[C], &[C], &[C, C]], false);
    scenario(Mode::Hybrid, &[&[C], &[D], &[C, C]], false);
}
