//! The 93C46 serial EEPROM behind 9346CR's bit-bang pins
//! (device-facts.md §3.8): 64 16-bit words, word 0 = 0x8129, word 1 the
//! vendor ID, word 2 the device ID, words 7..=9 the MAC (low byte first).

/// Words in the EEPROM.
pub const EEPROM_WORDS: usize = 64;
/// First of the three words holding the MAC (§3.6 step 7, §3.8).
pub const EEPROM_MAC_WORD: usize = 7;

/// Where the serial protocol is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for a start bit (DI = 1 on a rising clock).
    Start,
    /// Shifting in opcode (2 bits) and address (6 bits): `bits` so far.
    Command { value: u16, bits: u8 },
    /// Shifting out a word, MSB first: `left` bits still to come.
    Read { word: u16, left: u8 },
}

/// EEPROM contents and the state of its serial interface.
#[derive(Clone, Debug)]
pub(crate) struct Eeprom {
    words: [u16; EEPROM_WORDS],
    phase: Phase,
    clock: bool,
    data_out: bool,
}

impl Eeprom {
    /// The QEMU layout (§3.8) with `mac` in words 7..=9.
    pub(crate) fn new(mac: [u8; 6]) -> Self {
        let mut words = [0u16; EEPROM_WORDS];
        words[0] = 0x8129;
        words[1] = super::VENDOR_ID;
        words[2] = super::DEVICE_ID;
        for (i, pair) in mac.chunks_exact(2).enumerate() {
            words[EEPROM_MAC_WORD + i] = u16::from_le_bytes([pair[0], pair[1]]);
        }
        Eeprom {
            words,
            phase: Phase::Start,
            clock: false,
            data_out: false,
        }
    }

    /// The MAC stored in words 7..=9 (what auto-load and reset load).
    pub(crate) fn mac(&self) -> [u8; 6] {
        let mut mac = [0; 6];
        for i in 0..3 {
            mac[2 * i..2 * i + 2].copy_from_slice(&self.words[EEPROM_MAC_WORD + i].to_le_bytes());
        }
        mac
    }

    /// EEDO as the pins are now.
    pub(crate) fn data_out(&self) -> bool {
        self.data_out
    }

    /// Leave programming mode: chip select drops, protocol restarts.
    pub(crate) fn deselect(&mut self) {
        self.phase = Phase::Start;
        self.clock = false;
        self.data_out = false;
    }

    /// New pin levels from a 9346CR write in programming mode: chip select,
    /// clock, data in. Acts on the rising clock edge.
    pub(crate) fn pins(&mut self, cs: bool, sk: bool, di: bool) {
        if !cs {
            self.deselect();
            return;
        }
        let rising = sk && !self.clock;
        self.clock = sk;
        if !rising {
            return;
        }
        self.phase = match self.phase {
            Phase::Start if di => Phase::Command { value: 0, bits: 0 },
            Phase::Start => Phase::Start,
            Phase::Command { value, bits } => {
                let value = value << 1 | u16::from(di);
                if bits + 1 < 8 {
                    Phase::Command {
                        value,
                        bits: bits + 1,
                    }
                } else if value >> 6 == 0b10 {
                    // Read: a dummy 0, then the word (§3.8).
                    self.data_out = false;
                    let word = self.words[usize::from(value & 0x3F)];
                    Phase::Read { word, left: 16 }
                } else {
                    // Write/erase opcodes are not modelled: ignored.
                    Phase::Start
                }
            }
            Phase::Read { word, left } => {
                if left == 0 {
                    self.data_out = false;
                    if di {
                        Phase::Command { value: 0, bits: 0 }
                    } else {
                        Phase::Start
                    }
                } else {
                    self.data_out = word >> (left - 1) & 1 != 0;
                    Phase::Read {
                        word,
                        left: left - 1,
                    }
                }
            }
        };
    }
}
