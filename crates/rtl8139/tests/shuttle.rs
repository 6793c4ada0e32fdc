//! Every interleaving of the fast path's lock and its interrupts, explored
//! by shuttle's exhaustive scheduler: run with `RUSTFLAGS="--cfg shuttle"
//! cargo test -p rtl8139 --test shuttle --release` (`cargo xtask test`
//! does). However an interrupt meets a holder of the lock, every interrupt
//! raised is serviced before everyone is done, and nobody waits in the
//! interrupt path.
#![cfg(shuttle)]

use rtl8139::handoff::{Guard, Handoff};
use shuttle::sync::Arc;
use shuttle::sync::atomic::{AtomicU32, Ordering};
use shuttle::thread;

/// The fast state: how many of the device's events it has seen (a
/// service reads the device's status, which covers every event so far).
struct Fast {
    serviced: u32,
}

/// What `Nucleus::unlock` does, on this toy state.
fn release<'a>(h: &'a Handoff<Fast>, device: &AtomicU32, mut g: Guard<'a, Fast>) {
    loop {
        while h.take_pending() {
            g.serviced = device.load(Ordering::SeqCst);
        }
        h.unlock(g);
        match h.retake_if_pending() {
            Some(next) => g = next,
            None => return,
        }
    }
}

/// The device raises `events` interrupts on one thread while `holders`
/// threads take the lock once each (a transmit, a counter read).
fn scenario(events: u32, holders: usize) {
    shuttle::check_dfs(
        move || {
            let h = Arc::new(Handoff::new(Fast { serviced: 0 }));
            let device = Arc::new(AtomicU32::new(0));
            let mut threads = Vec::new();
            for _ in 0..holders {
                let (h, device) = (h.clone(), device.clone());
                threads.push(thread::spawn(move || {
                    let g = h.lock();
                    release(&h, &device, g);
                }));
            }
            for _ in 0..events {
                device.fetch_add(1, Ordering::SeqCst);
                if let Some(g) = h.notify() {
                    release(&h, &device, g);
                }
            }
            for t in threads {
                t.join().unwrap();
            }
            assert_eq!(h.lock().serviced, events, "an interrupt was lost");
        },
        None,
    );
}

#[test]
fn one_interrupt_against_one_holder() {
    scenario(1, 1);
}

#[test]
fn two_interrupts_against_one_holder() {
    scenario(2, 1);
}

#[test]
fn one_interrupt_against_two_holders() {
    scenario(1, 2);
}
