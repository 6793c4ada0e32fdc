//! Fault injection: the ways a real link, chip or cable misbehaves, on
//! demand and deterministically.
//!
//! A [`Faults`] value is installed with
//! [`Ax88772::set_faults`](super::Ax88772::set_faults), which also reseeds
//! the generator, so the same faults with the same seed on the same traffic
//! give the same outcome. Countdown faults (`drop_next`, `corrupt_next`,
//! `corrupt_next_rx_headers`, [`RxHold::Polls`]) are used up as they fire;
//! [`Ax88772::faults`](super::Ax88772::faults) shows what is left.
//!
//! Stalling an endpoint is an action rather than a setting:
//! [`Ax88772::halt_endpoint`](super::Ax88772::halt_endpoint).

/// A tiny deterministic generator (xorshift64*), so that fractional faults
/// repeat exactly for a given seed.
#[derive(Clone, Debug)]
pub struct XorShift64 {
    state: u64,
}

impl XorShift64 {
    /// A generator from `seed` (0 is replaced by a fixed nonzero value,
    /// since xorshift never leaves zero).
    pub fn new(seed: u64) -> Self {
        XorShift64 {
            state: if seed == 0 {
                0x9E37_79B9_7F4A_7C15
            } else {
                seed
            },
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// True with probability `p` (clamped to 0..=1).
    pub fn chance(&mut self, p: f64) -> bool {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        unit < p
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

/// Faults applied to the frames of one direction.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FrameFaults {
    /// Drop this many of the next frames.
    pub drop_next: u32,
    /// Drop each frame with this probability (0.0..=1.0).
    pub drop_fraction: f64,
    /// Corrupt (flip one byte of) this many of the next frames.
    pub corrupt_next: u32,
    /// Corrupt each frame with this probability.
    pub corrupt_fraction: f64,
}

/// Holding received frames back from the bulk-IN endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RxHold {
    /// Deliver as usual.
    #[default]
    None,
    /// Answer Pending on 0x82 until
    /// [`Ax88772::release_rx`](super::Ax88772::release_rx).
    UntilReleased,
    /// Answer Pending to this many polls of 0x82 that would have returned
    /// data (re-notifying after each so the host polls again), then deliver.
    Polls(u32),
}

/// The fault configuration.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    /// Seed of the generator behind the fractional faults.
    pub seed: u64,
    /// Frames from the wire. Applied to frames that passed the receive
    /// filter, before they enter the RX FIFO.
    pub rx: FrameFaults,
    /// Frames decoded from bulk OUT, before they go to the wire.
    pub tx: FrameFaults,
    /// Hold received frames back.
    pub rx_hold: RxHold,
    /// Corrupt the RX header (its complement half) of this many of the next
    /// frames entering the FIFO. The bulk-IN transfer carrying the end of
    /// such a frame ends right after it, so the next transfer starts on a
    /// header and a driver can resynchronise there.
    pub corrupt_next_rx_headers: u32,
}

/// What happens to one frame (in either model).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Unharmed.
    Pass,
    /// Lost.
    Drop,
    /// Byte at this index is flipped (XOR 0xFF).
    Corrupt(usize),
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

    /// The fate of a transmitted frame of `len` bytes.
    pub(crate) fn judge_tx(&mut self, len: usize) -> Verdict {
        judge(&mut self.config.tx, &mut self.rng, len)
    }

    /// Whether the next RX header is to be corrupted (uses one up).
    pub(crate) fn take_header_corruption(&mut self) -> bool {
        take_one(&mut self.config.corrupt_next_rx_headers)
    }
}

/// The fate of one frame of `len` bytes under `faults` (both models use it).
pub(crate) fn judge(faults: &mut FrameFaults, rng: &mut XorShift64, len: usize) -> Verdict {
    if take_one(&mut faults.drop_next)
        || (faults.drop_fraction > 0.0 && rng.chance(faults.drop_fraction))
    {
        return Verdict::Drop;
    }
    let corrupt = take_one(&mut faults.corrupt_next)
        || (faults.corrupt_fraction > 0.0 && rng.chance(faults.corrupt_fraction));
    if corrupt && len > 0 {
        Verdict::Corrupt(rng.below(len))
    } else {
        Verdict::Pass
    }
}

/// Uses up one of a countdown fault; whether it fired.
pub(crate) fn take_one(counter: &mut u32) -> bool {
    if *counter > 0 {
        *counter -= 1;
        true
    } else {
        false
    }
}

/// Apply a verdict's corruption to `frame`.
pub(crate) fn corrupt(frame: &mut [u8], index: usize) {
    if let Some(byte) = frame.get_mut(index) {
        *byte ^= 0xFF;
    }
}
