//! The serial EEPROM (SROM) behind READ_EEPROM / WRITE_EEPROM
//! (device-facts.md §2.4, §2.5.10).
//!
//! 256 16-bit words (Linux exposes 0x200 bytes). Unprogrammed words read
//! 0xFFFF; the node ID sits in words 4..=6, two MAC bytes per word, low byte
//! first (the 772B layout, §2.5.10; the model uses it for the 772 too and
//! loads the node ID from there at power-on and on GPIO RSE). Writes take
//! effect only between WRITE_ENABLE and WRITE_DISABLE, like a 93C46's
//! EWEN/EWDS; other writes are ignored (and counted), as the part would.

use super::filter::ETH_ALEN;

/// Words in the EEPROM.
pub const EEPROM_WORDS: usize = 256;
/// First of the three words holding the node ID (§2.5.10).
pub const EEPROM_NODE_ID_WORD: usize = 4;
/// What an unprogrammed word reads.
const ERASED: u16 = 0xFFFF;

/// EEPROM contents and write-enable latch.
#[derive(Clone, Debug)]
pub(crate) struct Eeprom {
    words: Vec<u16>,
    write_enabled: bool,
}

impl Eeprom {
    /// An EEPROM programmed with `mac` as node ID and erased elsewhere.
    pub(crate) fn with_mac(mac: [u8; ETH_ALEN]) -> Self {
        let mut words = vec![ERASED; EEPROM_WORDS];
        for (i, pair) in mac.chunks_exact(2).enumerate() {
            words[EEPROM_NODE_ID_WORD + i] = u16::from_le_bytes([pair[0], pair[1]]);
        }
        Eeprom {
            words,
            write_enabled: false,
        }
    }

    /// Word `offset`, or `None` past the end.
    pub(crate) fn read(&self, offset: u16) -> Option<u16> {
        self.words.get(usize::from(offset)).copied()
    }

    /// Write `value` at `offset`: `None` past the end, `Some(false)` if
    /// writing is not enabled (ignored), `Some(true)` if written.
    pub(crate) fn write(&mut self, offset: u16, value: u16) -> Option<bool> {
        let word = self.words.get_mut(usize::from(offset))?;
        if self.write_enabled {
            *word = value;
        }
        Some(self.write_enabled)
    }

    /// WRITE_ENABLE (true) / WRITE_DISABLE (false).
    pub(crate) fn set_write_enabled(&mut self, enabled: bool) {
        self.write_enabled = enabled;
    }

    /// The node ID stored in words 4..=6.
    pub(crate) fn node_id(&self) -> [u8; ETH_ALEN] {
        let mut mac = [0; ETH_ALEN];
        for (i, pair) in mac.chunks_exact_mut(2).enumerate() {
            pair.copy_from_slice(&self.words[EEPROM_NODE_ID_WORD + i].to_le_bytes());
        }
        mac
    }

    /// All words.
    pub(crate) fn words(&self) -> &[u16] {
        &self.words
    }
}
