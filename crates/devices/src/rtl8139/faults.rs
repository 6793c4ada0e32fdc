//! Fault injection: a lossy wire, a stalled or aborting transmitter and a
//! failing PCI bus, on demand and deterministically.
//!
//! A [`Faults`] value is installed with
//! [`Rtl8139::set_faults`](super::Rtl8139::set_faults), which also reseeds
//! the generator, so the same faults with the same seed on the same traffic
//! give the same outcome. Countdowns (`rx.drop_next`, `rx.corrupt_next`,
//! `tx_abort_next`) are used up as they fire, and a software reset ends
//! `tx_hang`; [`Rtl8139::faults`](super::Rtl8139::faults) shows what is
//! left. Every fault that fires is counted in [`Stats`](super::Stats).
//!
//! The link flapping is an action rather than a setting:
//! [`Rtl8139::set_link`](super::Rtl8139::set_link).

pub(crate) use crate::ax88772::faults::Verdict;
use crate::ax88772::faults::{judge, take_one};
use crate::ax88772::{FrameFaults, XorShift64};

/// The fault configuration.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    /// Seed of the generator behind the fractional faults.
    pub seed: u64,
    /// Frames on their way from the wire to the chip, before the chip looks
    /// at them. A dropped frame never arrives; a corrupted one arrives with
    /// one byte flipped, so the chip finds a bad CRC (see
    /// [`rcr::AER`](super::regs::rcr::AER)).
    pub rx: FrameFaults,
    /// The transmitter stalls: a descriptor written to send keeps OWN = 0,
    /// gets no TOK and raises no interrupt, until a software reset (CR.RST,
    /// which also clears this flag) or until the flag is cleared with
    /// `set_faults` (the held frames are then sent). This is the condition
    /// a driver's transmit-timeout recovery exists for. Set at power-on
    /// (through `Config`), it ends at the driver's first reset.
    pub tx_hang: bool,
    /// Abort this many of the next transmits that would have gone on the
    /// wire (as after excessive collisions): TSD.TABT with OWN, ISR.TER,
    /// nothing sent.
    pub tx_abort_next: u32,
    /// Every bus-master access fails, as on a PCI master abort: a transmit
    /// aborts (TSD.TABT, ISR.TER) and a received frame is dropped with
    /// ISR.SERR.
    pub dma_fail: bool,
}

/// The installed faults and the generator.
#[derive(Debug)]
pub(crate) struct FaultState {
    pub(crate) config: Faults,
    rng: XorShift64,
}

impl FaultState {
    pub(crate) fn new(config: Faults) -> Self {
        let rng = XorShift64::new(config.seed);
        FaultState { config, rng }
    }

    /// The fate of a received frame of `len` bytes.
    pub(crate) fn judge_rx(&mut self, len: usize) -> Verdict {
        judge(&mut self.config.rx, &mut self.rng, len)
    }

    /// Whether the transmitter is stalled.
    pub(crate) fn tx_hung(&self) -> bool {
        self.config.tx_hang
    }

    /// Whether this transmit is to abort (uses one up).
    pub(crate) fn take_tx_abort(&mut self) -> bool {
        take_one(&mut self.config.tx_abort_next)
    }

    /// Whether bus-master accesses fail.
    pub(crate) fn dma_fails(&self) -> bool {
        self.config.dma_fail
    }

    /// A software reset ends a transmitter stall.
    pub(crate) fn reset(&mut self) {
        self.config.tx_hang = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countdowns_are_used_up() {
        let mut f = FaultState::new(Faults {
            rx: FrameFaults {
                drop_next: 1,
                corrupt_next: 1,
                ..Default::default()
            },
            tx_abort_next: 2,
            ..Default::default()
        });
        assert_eq!(f.judge_rx(10), Verdict::Drop);
        assert!(matches!(f.judge_rx(10), Verdict::Corrupt(i) if i < 10));
        assert_eq!(f.judge_rx(10), Verdict::Pass);
        assert!(f.take_tx_abort() && f.take_tx_abort() && !f.take_tx_abort());
    }

    #[test]
    fn an_empty_frame_cannot_be_corrupted() {
        let mut f = FaultState::new(Faults {
            rx: FrameFaults {
                corrupt_fraction: 1.0,
                ..Default::default()
            },
            ..Default::default()
        });
        assert_eq!(f.judge_rx(0), Verdict::Pass);
    }
}
