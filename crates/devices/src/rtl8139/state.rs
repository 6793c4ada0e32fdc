//! The lock's contents and the register file's byte-level behaviour
//! (device-facts.md §3.2, §3.3). Multi-byte accesses are split into bytes;
//! side effects (reset, transmit, RCR restarting the ring, 9346CR) run once
//! after all bytes of the access are stored.

use hal::{ConfigSpace, command};

use super::eeprom::Eeprom;
use super::faults::FaultState;
use super::regs::{TCR_VERSION_8139C, TCR_VERSION_MASK, cfg9346, cr, int, reg, tsd};
use super::{Config, Stats};

/// Everything behind the model's mutex.
pub(crate) struct State {
    /// Plain storage for registers without special behaviour (IDR, MAR,
    /// TSAD, RBSTART, TCR, RCR, CONFIGn, ...).
    pub(crate) regs: [u8; 256],
    pub(crate) tsd: [u32; 4],
    /// Next descriptor the chip will serve (§3.4 item 1).
    pub(crate) tx_next: usize,
    pub(crate) cr: u8,
    /// CAPR as the chip compares it: written value + 16 (§3.5).
    pub(crate) capr: u16,
    pub(crate) cbr: u16,
    pub(crate) imr: u16,
    pub(crate) isr: u16,
    pub(crate) mpc: u32,
    pub(crate) link: bool,
    pub(crate) link_change: bool,
    pub(crate) eeprom: Eeprom,
    pub(crate) config: ConfigSpace,
    pub(crate) irq_level: bool,
    pub(crate) stats: Stats,
    pub(crate) faults: FaultState,
    /// Descriptors held by a transmitter stall (bit n: TSDn), so that each
    /// is counted once.
    pub(crate) tx_held: u8,
    revision: u8,
}

/// Side effects collected while storing the bytes of one write.
#[derive(Default)]
struct Touched {
    cr: Option<u8>,
    cfg9346: Option<u8>,
    tsd: u8,
    rcr: bool,
}

impl State {
    pub(crate) fn new(config: &Config, pci: ConfigSpace) -> Self {
        let mut st = State {
            regs: [0; 256],
            tsd: [0; 4],
            tx_next: 0,
            cr: 0,
            capr: 0,
            cbr: 0,
            imr: 0,
            isr: 0,
            mpc: 0,
            link: config.link_up,
            link_change: false,
            eeprom: Eeprom::new(config.mac),
            config: pci,
            irq_level: false,
            stats: Stats::default(),
            faults: FaultState::new(Default::default()),
            tx_held: 0,
            revision: config.revision,
        };
        st.reset();
        st.faults = FaultState::new(config.faults.clone());
        st
    }

    /// Software reset (§3.3 CR.RST): every register back to its reset
    /// value, MAC reloaded from the EEPROM (as QEMU does), nothing pending,
    /// a transmitter stall ended.
    pub(crate) fn reset(&mut self) {
        self.regs = [0; 256];
        self.regs[..6].copy_from_slice(&self.eeprom.mac());
        self.set32(reg::TCR, TCR_VERSION_8139C);
        self.regs[reg::CONFIG1 as usize] = 0x0C;
        self.regs[reg::CONFIG3 as usize] = 0x01;
        self.regs[reg::HLTCLK as usize] = b'R';
        self.set16(reg::BMCR, 0x1000);
        self.set16(reg::ANAR, 0x05E1);
        // All descriptors host-owned: nothing to send until TSD is written.
        self.tsd = [tsd::OWN; 4];
        self.tx_next = 0;
        self.tx_held = 0;
        self.faults.reset();
        self.cr = 0;
        self.capr = 0;
        self.cbr = 0;
        self.imr = 0;
        self.isr = 0;
        self.mpc = 0;
        self.eeprom.deselect();
        self.stats.resets += 1;
    }

    pub(crate) fn get32(&self, off: u32) -> u32 {
        let o = off as usize;
        u32::from_le_bytes([
            self.regs[o],
            self.regs[o + 1],
            self.regs[o + 2],
            self.regs[o + 3],
        ])
    }
    fn set32(&mut self, off: u32, v: u32) {
        self.regs[off as usize..][..4].copy_from_slice(&v.to_le_bytes());
    }
    fn set16(&mut self, off: u32, v: u16) {
        self.regs[off as usize..][..2].copy_from_slice(&v.to_le_bytes());
    }

    /// Ring size from RCR.RBLEN: 8 KiB << n (§3.3).
    pub(crate) fn ring_size(&self) -> u32 {
        8192 << ((self.get32(reg::RCR) >> super::regs::rcr::RBLEN_SHIFT) & 3)
    }

    fn cfg_mode(&self) -> u8 {
        self.regs[reg::CFG9346 as usize] >> cfg9346::MODE_SHIFT
    }

    /// Interrupt line level (§3.3: asserted while ISR & IMR != 0).
    pub(crate) fn irq_wanted(&self) -> bool {
        self.isr & self.imr != 0 && self.config.command() & command::INTX_DISABLE == 0
    }

    pub(crate) fn bus_master(&self) -> bool {
        self.config.command() & command::BUS_MASTER != 0
    }

    fn bmsr(&self) -> u16 {
        // 0x7809 | AN complete | link (§3.3, QEMU reset values).
        0x7809 | if self.link { 0x0024 } else { 0 }
    }

    /// Read `size` bytes at `off` (caller checked the window).
    pub(crate) fn read(&mut self, off: u32, size: u32) -> u32 {
        let mut v = 0;
        for i in 0..size {
            v |= u32::from(self.read_byte(off + i)) << (8 * i);
        }
        // CSCR LinkChange clears on read (§3.7, model choice).
        if (off..off + size).contains(&(reg::CSCR + 1)) {
            self.link_change = false;
        }
        v
    }

    fn read_byte(&self, off: u32) -> u8 {
        let byte = |v: u32, base: u32| (v >> (8 * (off - base))) as u8;
        match off {
            0x10..=0x1F => byte(self.tsd[((off - 0x10) / 4) as usize], off & !3),
            0x34..=0x36 | 0x48..=0x4B => 0,
            // BUFE compares the pointers within the ring, as QEMU does
            // (it stores CAPR + 16 modulo the ring size).
            reg::CR => {
                let size = self.ring_size();
                let empty = u32::from(self.capr) % size == u32::from(self.cbr) % size;
                self.cr | if empty { cr::BUFE } else { 0 }
            }
            0x38..=0x39 => byte(u32::from(self.capr.wrapping_sub(16)), reg::CAPR),
            0x3A..=0x3B => byte(u32::from(self.cbr), reg::CBR),
            0x3C..=0x3D => byte(u32::from(self.imr), reg::IMR),
            0x3E..=0x3F => byte(u32::from(self.isr), reg::ISR),
            0x4C..=0x4F => byte(self.mpc, reg::MPC),
            reg::CFG9346 => {
                let pins = self.regs[off as usize] & !cfg9346::EEDO;
                pins | if self.eeprom.data_out() {
                    cfg9346::EEDO
                } else {
                    0
                }
            }
            // MSR: 0xD0 | LINKB (link down) (§3.3).
            reg::MSR => 0xD0 | if self.link { 0 } else { 0x04 },
            reg::RERID => self.revision,
            0x60..=0x61 => byte(u32::from(self.tsad_summary()), reg::TSAD_SUMMARY),
            0x64..=0x65 => byte(u32::from(self.bmsr()), reg::BMSR),
            0x68..=0x69 => byte(if self.link { 0x05E1 } else { 0 }, reg::ANLPAR),
            0x6A..=0x6B => byte(1, reg::ANER),
            0x74..=0x75 => {
                let v = u32::from(self.link) << 10 | u32::from(self.link_change) << 11;
                byte(v, reg::CSCR)
            }
            _ => self.regs.get(off as usize).copied().unwrap_or(0xFF),
        }
    }

    /// TSAD summary (§3.3): TOK 15:12, TUN 11:8, TABT 7:4, OWN 3:0.
    fn tsad_summary(&self) -> u16 {
        let mut v = 0u16;
        for (i, &t) in self.tsd.iter().enumerate() {
            let bit = |m: u32, shift: usize| u16::from(t & m != 0) << (shift + i);
            v |= bit(tsd::TOK, 12) | bit(tsd::TUN, 8) | bit(tsd::TABT, 4) | bit(tsd::OWN, 0);
        }
        v
    }

    /// Write `size` bytes at `off`; returns whether a transmit may be due.
    pub(crate) fn write(&mut self, off: u32, size: u32, value: u32) -> bool {
        let mut t = Touched::default();
        for i in 0..size {
            self.write_byte(off + i, (value >> (8 * i)) as u8, &mut t);
        }
        if let Some(v) = t.cr {
            if v & cr::RST != 0 {
                self.reset();
                return false;
            }
            self.cr = v & (cr::RE | cr::TE);
        }
        if let Some(v) = t.cfg9346 {
            self.cfg9346(v);
        }
        if t.rcr {
            // §3.5 item 6: an RCR write restarts the ring at 0.
            self.cbr = 0;
            self.capr = 0;
        }
        for n in 0..4 {
            if t.tsd & (1 << n) != 0 {
                // §3.4 item 6: clear 31:24 and 15:14 of the written value.
                self.tsd[n] &= !(0xFF00_0000 | tsd::TOK | tsd::TUN);
            }
        }
        t.tsd != 0 || t.cr.is_some_and(|v| v & cr::TE != 0)
    }

    fn write_byte(&mut self, off: u32, v: u8, t: &mut Touched) {
        let set_byte = |word: &mut u32, base: u32| {
            let shift = 8 * (off - base);
            *word = (*word & !(0xFF << shift)) | u32::from(v) << shift;
        };
        let set_half = |half: &mut u16, base: u32| {
            let shift = 8 * (off - base);
            *half = (*half & !(0xFF << shift)) | u16::from(v) << shift;
        };
        match off {
            0x06..=0x07 | 0x34..=0x36 | 0x3A..=0x3B | 0x48..=0x4B => {}
            0x10..=0x1F => {
                let n = ((off - 0x10) / 4) as usize;
                set_byte(&mut self.tsd[n], off & !3);
                t.tsd |= 1 << n;
            }
            reg::CR => t.cr = Some(v),
            0x38..=0x39 => {
                let mut written = self.capr.wrapping_sub(16);
                set_half(&mut written, reg::CAPR);
                self.capr = written.wrapping_add(16);
            }
            0x3C..=0x3D => set_half(&mut self.imr, reg::IMR),
            0x3E..=0x3F => {
                // Write 1 to clear (§3.3).
                let mut bits = 0;
                set_half(&mut bits, reg::ISR);
                self.isr &= !(bits & !int::NOT_WRITABLE);
            }
            0x40..=0x43 => {
                // QEMU ignores TCR writes while TE is 0 (§3.3); version bits
                // and CLRABT are not stored.
                if self.cr & cr::TE != 0 {
                    let keep = TCR_VERSION_MASK | 1;
                    let old = self.get32(reg::TCR);
                    let mut new = old;
                    set_byte(&mut new, reg::TCR);
                    self.set32(reg::TCR, (new & !keep) | (old & TCR_VERSION_MASK));
                }
            }
            0x44..=0x47 => {
                self.regs[off as usize] = v;
                t.rcr = true;
            }
            0x4C..=0x4F => self.mpc = 0,
            reg::CFG9346 => t.cfg9346 = Some(v),
            // CONFIG0/1/3/4 only in config-write mode (§3.3).
            0x51 | 0x52 | 0x59 | 0x5A => {
                if self.cfg_mode() == cfg9346::MODE_CONFIG_WRITE {
                    self.regs[off as usize] = v;
                }
            }
            0x62..=0x63 => {
                // BMCR: speed, ANE, duplex writable; reset and restart-AN
                // complete at once (self-clear).
                let mut bmcr = u16::from_le_bytes([self.regs[0x62], self.regs[0x63]]);
                set_half(&mut bmcr, reg::BMCR);
                let old = u16::from_le_bytes([self.regs[0x62], self.regs[0x63]]);
                self.set16(reg::BMCR, (bmcr & 0x3100) | (old & !0x3100 & !0x8200));
            }
            reg::MSR | reg::RERID | 0x60..=0x61 | 0x64..=0x65 | 0x68..=0x6B | 0x74..=0x75 => {}
            _ => {
                if let Some(r) = self.regs.get_mut(off as usize) {
                    *r = v;
                }
            }
        }
    }

    /// 9346CR write (§3.3, §3.8).
    fn cfg9346(&mut self, v: u8) {
        let mode = v >> cfg9346::MODE_SHIFT;
        self.regs[reg::CFG9346 as usize] = v & !cfg9346::EEDO;
        match mode {
            cfg9346::MODE_PROGRAM => self.eeprom.pins(
                v & cfg9346::EECS != 0,
                v & cfg9346::EESK != 0,
                v & cfg9346::EEDI != 0,
            ),
            cfg9346::MODE_AUTOLOAD => {
                // Auto-load: reload the MAC, then back to normal mode.
                self.eeprom.deselect();
                let mac = self.eeprom.mac();
                self.regs[..6].copy_from_slice(&mac);
                self.regs[reg::CFG9346 as usize] = 0;
            }
            _ => self.eeprom.deselect(),
        }
    }
}
