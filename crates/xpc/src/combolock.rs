//! The cross-domain lock (the Decaf paper's *combolock*): a spinlock while
//! only the nucleus takes it, a sleeping lock once the decaf side holds it.
//!
//! ```text
//!   state word: ┌ holder: 0 free, 1 nucleus, 2 decaf ┬ sleepers: bit 2 ┐
//!
//!   nucleus lock:  free ──CAS──▶ nucleus
//!                  held by the nucleus: spin (it is short: a fast path)
//!                  held by the decaf side: mark sleepers, sleep on the word
//!   decaf lock:    free ──CAS──▶ decaf, then `mask` (e.g. the device's
//!                  interrupt) until it unlocks; held: mark sleepers, sleep
//!   unlock:        swap to free; wake sleepers if marked
//! ```
//!
//! The word is a plain `AtomicU32`, so it can live in memory shared by the
//! two processes; the futex is shared, not private.

use rustix::thread::futex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const FREE: u32 = 0;
const NUCLEUS: u32 = 1;
const DECAF: u32 = 2;
const HOLDER: u32 = 3;
const SLEEPERS: u32 = 4;

/// Who takes the lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Domain {
    /// The privileged side: spins while the nucleus holds the lock.
    Nucleus,
    /// The decaf process: its hold may be long, so waiters sleep.
    Decaf,
}

/// A device's interrupt line as the nucleus controls it (e.g. the RTL8139's
/// interrupt mask register): masked while the decaf side holds a lock the
/// interrupt handler needs. An interrupt raised while masked stays pending
/// and is delivered on unmask, as a device's level-triggered line does.
pub trait InterruptLine {
    /// Stop delivering the device's interrupt.
    fn mask(&self);
    /// Deliver it again (and any that became pending meanwhile).
    fn unmask(&self);
}

/// A cross-domain lock over a word (see the module docs).
pub struct ComboLock<'a> {
    word: &'a AtomicU32,
}

/// Holding the lock; unlocks on drop.
pub struct Held<'l, 'a> {
    lock: &'l ComboLock<'a>,
    unmask: Option<Box<dyn FnOnce() + 'l>>,
}

impl<'a> ComboLock<'a> {
    /// A lock over `word` (0 means free).
    pub fn new(word: &'a AtomicU32) -> ComboLock<'a> {
        ComboLock { word }
    }

    /// Takes the lock for `domain`. For the decaf side, `mask` runs once
    /// the lock is taken (mask the device's interrupt) and `unmask` when it
    /// is released.
    pub fn lock<'l>(
        &'l self,
        domain: Domain,
        mask: impl FnOnce(),
        unmask: impl FnOnce() + 'l,
    ) -> Held<'l, 'a> {
        let me = match domain {
            Domain::Nucleus => NUCLEUS,
            Domain::Decaf => DECAF,
        };
        loop {
            let now = self.word.load(Ordering::Relaxed);
            if now & HOLDER == FREE {
                if self
                    .word
                    .compare_exchange_weak(
                        now,
                        (now & SLEEPERS) | me,
                        Ordering::Acquire,
                        Ordering::Relaxed,
                    )
                    .is_ok()
                {
                    break;
                }
                continue;
            }
            if now & HOLDER == NUCLEUS {
                // A nucleus hold is short: spin.
                std::hint::spin_loop();
                continue;
            }
            // The decaf side holds it, maybe for long: sleep.
            if now & SLEEPERS == 0
                && self
                    .word
                    .compare_exchange_weak(
                        now,
                        now | SLEEPERS,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    )
                    .is_err()
            {
                continue;
            }
            let ts = rustix::time::Timespec {
                tv_sec: 0,
                tv_nsec: Duration::from_millis(10).as_nanos() as i64,
            };
            let _ = futex::wait(self.word, futex::Flags::empty(), now | SLEEPERS, Some(&ts));
        }
        if me == DECAF {
            mask();
            Held {
                lock: self,
                unmask: Some(Box::new(unmask)),
            }
        } else {
            Held {
                lock: self,
                unmask: None,
            }
        }
    }

    /// Takes the lock for `domain`, guarding state shared with `line`'s
    /// interrupt handler: when the decaf side takes it, the device's
    /// interrupt is masked until it unlocks, so the handler (which takes
    /// the lock in the nucleus domain) never waits on a sleeping holder.
    pub fn lock_device<'l>(&'l self, domain: Domain, line: &'l dyn InterruptLine) -> Held<'l, 'a> {
        self.lock(domain, || line.mask(), move || line.unmask())
    }

    /// Who holds the lock now.
    pub fn holder(&self) -> Option<Domain> {
        match self.word.load(Ordering::Acquire) & HOLDER {
            NUCLEUS => Some(Domain::Nucleus),
            DECAF => Some(Domain::Decaf),
            _ => None,
        }
    }
}

impl Drop for Held<'_, '_> {
    fn drop(&mut self) {
        if let Some(unmask) = self.unmask.take() {
            unmask();
        }
        let before = self.lock.word.swap(FREE, Ordering::Release);
        if before & SLEEPERS != 0 {
            let _ = futex::wake(self.lock.word, futex::Flags::empty(), u32::MAX);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn mutual_exclusion_across_domains_and_masking() {
        let word = AtomicU32::new(0);
        let inside = AtomicU64::new(0);
        let overlaps = AtomicU64::new(0);
        let masked = AtomicU64::new(0);
        let total = AtomicU64::new(0);
        std::thread::scope(|s| {
            for t in 0..4 {
                let (word, inside, overlaps, masked, total) =
                    (&word, &inside, &overlaps, &masked, &total);
                s.spawn(move || {
                    let lock = ComboLock::new(word);
                    let domain = if t % 2 == 0 {
                        Domain::Nucleus
                    } else {
                        Domain::Decaf
                    };
                    for _ in 0..2000 {
                        let _held = lock.lock(
                            domain,
                            || {
                                masked.fetch_add(1, Ordering::SeqCst);
                            },
                            || {
                                masked.fetch_sub(1, Ordering::SeqCst);
                            },
                        );
                        if inside.fetch_add(1, Ordering::SeqCst) != 0 {
                            overlaps.fetch_add(1, Ordering::SeqCst);
                        }
                        // The interrupt is masked exactly while the decaf side holds it.
                        let m = masked.load(Ordering::SeqCst);
                        if (domain == Domain::Decaf) != (m == 1) {
                            overlaps.fetch_add(1, Ordering::SeqCst);
                        }
                        total.fetch_add(1, Ordering::Relaxed);
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                });
            }
        });
        assert_eq!(overlaps.load(Ordering::SeqCst), 0);
        assert_eq!(total.load(Ordering::SeqCst), 8000);
        assert_eq!(ComboLock::new(&word).holder(), None);
    }

    #[test]
    fn the_holder_is_visible() {
        let word = AtomicU32::new(0);
        let lock = ComboLock::new(&word);
        {
            let _h = lock.lock(Domain::Decaf, || {}, || {});
            assert_eq!(lock.holder(), Some(Domain::Decaf));
        }
        {
            let _h = lock.lock(Domain::Nucleus, || {}, || {});
            assert_eq!(lock.holder(), Some(Domain::Nucleus));
        }
        assert_eq!(lock.holder(), None);
    }
}

#[cfg(test)]
mod device_tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::AtomicBool;

    /// A device whose interrupt handler takes the lock in the nucleus
    /// domain: an interrupt raised while it is masked waits until unmask.
    struct Device<'a> {
        lock: ComboLock<'a>,
        masked: AtomicBool,
        pending: AtomicBool,
        /// What the handler saw: the holder when it ran (must never be the
        /// decaf side: it would have had to wait on a sleeping holder).
        handled: Mutex<Vec<Option<Domain>>>,
    }

    impl Device<'_> {
        fn raise(&self) {
            self.pending.store(true, Ordering::SeqCst);
            self.deliver();
        }
        fn deliver(&self) {
            if !self.masked.load(Ordering::SeqCst) && self.pending.swap(false, Ordering::SeqCst) {
                let seen = self.lock.holder();
                self.handled.lock().unwrap().push(seen);
                let _h = self.lock.lock(Domain::Nucleus, || {}, || {});
            }
        }
    }

    impl InterruptLine for Device<'_> {
        fn mask(&self) {
            self.masked.store(true, Ordering::SeqCst);
        }
        fn unmask(&self) {
            self.masked.store(false, Ordering::SeqCst);
            // Unlock has not happened yet: deliver after it, from the
            // caller (see the test), as a real line fires once the CPU
            // returns from the critical section.
        }
    }

    #[test]
    fn a_decaf_hold_masks_the_device_and_the_interrupt_waits() {
        let word = AtomicU32::new(0);
        let dev = Device {
            lock: ComboLock::new(&word),
            masked: AtomicBool::new(false),
            pending: AtomicBool::new(false),
            handled: Mutex::new(Vec::new()),
        };
        {
            let _held = dev.lock.lock_device(Domain::Decaf, &dev);
            assert!(
                dev.masked.load(Ordering::SeqCst),
                "masked while decaf holds"
            );
            dev.raise();
            assert!(
                dev.handled.lock().unwrap().is_empty(),
                "not delivered while masked"
            );
            assert!(dev.pending.load(Ordering::SeqCst));
        }
        assert!(!dev.masked.load(Ordering::SeqCst), "unmasked on unlock");
        dev.deliver();
        assert_eq!(*dev.handled.lock().unwrap(), vec![None]);
        // A nucleus hold masks nothing.
        {
            let _held = dev.lock.lock_device(Domain::Nucleus, &dev);
            assert!(!dev.masked.load(Ordering::SeqCst));
        }
    }
}
