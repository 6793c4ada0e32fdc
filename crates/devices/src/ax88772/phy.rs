//! The embedded 10/100 PHY at MDIO address 0x10 (device-facts.md §2.5.7,
//! §2.12, §2.13): IEEE clause-22 registers, autonegotiation and link.
//!
//! ```text
//!            carrier on the cable ──┐
//!   SW_RESET IPPD=0 (powered) ──────┤
//!   SW_RESET IPRL=1 (out of reset) ─┼──▶ negotiating ──(autoneg_delay)──▶ link up
//!   BMCR PDOWN=0 ───────────────────┘        ▲
//!                          BMCR ANRESTART / RESET restarts it
//! ```
//!
//! Link is up only while all four inputs hold and autonegotiation has
//! completed with at least one common 10/100 mode (or at once in forced
//! mode, BMCR ANENABLE clear). Autonegotiation takes
//! [`Config::autoneg_delay`](super::Config::autoneg_delay) measured on the
//! model's clock; zero completes it at once.
//!
//! BMSR LSTATUS is latched low: a link failure reads 0 once even if the link
//! is back, and the PHY starts with the latch set after every reset, so the
//! first BMSR read after reset shows link down (Linux reads BMSR twice).
//! RESET and ANRESTART self-clear at once. While the PHY is held in reset
//! or powered down by SW_RESET it does not drive MDIO: reads give 0xFFFF,
//! writes are lost, and it comes back with its default registers.

use std::time::Duration;

/// MDIO address of the embedded PHY (§2.5.7).
pub const PHY_ADDRESS_EMBEDDED: u8 = 0x10;
/// What an MDIO read from an address nobody answers returns (§2.6).
pub const MDIO_ABSENT: u16 = 0xFFFF;

/// Clause-22 register numbers (Linux `MII_*`, §2.13).
pub mod reg {
    /// Basic mode control.
    pub const BMCR: u8 = 0;
    /// Basic mode status.
    pub const BMSR: u8 = 1;
    /// PHY identifier, high half.
    pub const PHYSID1: u8 = 2;
    /// PHY identifier, low half.
    pub const PHYSID2: u8 = 3;
    /// Autonegotiation advertisement.
    pub const ADVERTISE: u8 = 4;
    /// Link partner ability.
    pub const LPA: u8 = 5;
    /// Autonegotiation expansion.
    pub const EXPANSION: u8 = 6;
    /// First vendor-specific register; 16..=31 are plain storage here.
    pub const VENDOR_FIRST: u8 = 16;
}

/// BMCR bits (Linux `BMCR_*`, §2.13).
pub mod bmcr {
    /// Software reset, self-clearing.
    pub const RESET: u16 = 0x8000;
    /// Loopback (latched only).
    pub const LOOPBACK: u16 = 0x4000;
    /// Forced speed 100 Mbit/s.
    pub const SPEED100: u16 = 0x2000;
    /// Autonegotiation enable.
    pub const ANENABLE: u16 = 0x1000;
    /// Power down.
    pub const PDOWN: u16 = 0x0800;
    /// Isolate (latched only).
    pub const ISOLATE: u16 = 0x0400;
    /// Restart autonegotiation, self-clearing.
    pub const ANRESTART: u16 = 0x0200;
    /// Forced full duplex.
    pub const FULLDPLX: u16 = 0x0100;
}

/// BMSR bits (Linux `BMSR_*`, §2.13).
pub mod bmsr {
    /// Extended register capability.
    pub const ERCAP: u16 = 0x0001;
    /// Link status, latched low.
    pub const LSTATUS: u16 = 0x0004;
    /// Able to autonegotiate.
    pub const ANEGCAPABLE: u16 = 0x0008;
    /// Autonegotiation complete.
    pub const ANEGCOMPLETE: u16 = 0x0020;
    /// 10 Mbit/s half duplex capable.
    pub const HALF10: u16 = 0x0800;
    /// 10 Mbit/s full duplex capable.
    pub const FULL10: u16 = 0x1000;
    /// 100 Mbit/s half duplex capable.
    pub const HALF100: u16 = 0x2000;
    /// 100 Mbit/s full duplex capable.
    pub const FULL100: u16 = 0x4000;
}

/// BMCR after reset: autonegotiation on, 100 Mbit/s full duplex.
pub const BMCR_DEFAULT: u16 = bmcr::ANENABLE | bmcr::SPEED100 | bmcr::FULLDPLX;
/// BMSR bits that never change: 10/100 half/full, autoneg, extended registers.
pub const BMSR_ABILITIES: u16 =
    bmsr::FULL100 | bmsr::HALF100 | bmsr::FULL10 | bmsr::HALF10 | bmsr::ANEGCAPABLE | bmsr::ERCAP;
/// ANAR after reset: 10/100 half/full + CSMA (0x01E1, §2.11, §2.13).
pub const ADVERTISE_DEFAULT: u16 = 0x01E1;
/// The technology-ability bits of ANAR/LPA (10/100 half/full, 100BASE-T4).
const ADVERTISE_MODES: u16 = 0x03E0;
/// ANER bit 0: the link partner can autonegotiate.
const EXPANSION_LP_ANEG_ABLE: u16 = 0x0001;

/// The model's default PHY identifier (PHYSID1 << 16 | PHYSID2). The real
/// AX88772's embedded PHY ID is not in the sources (§2.13), so this is a
/// made-up value in ASIX's OUI space that matches none of the ax88796b
/// driver's IDs: Linux binds its generic PHY driver to it.
pub const DEFAULT_PHY_ID: u32 = 0x003B_1801;
/// The default link partner: ACK, pause, 10/100 half/full, CSMA.
pub const DEFAULT_LINK_PARTNER: u16 = 0x45E1;

/// What the PHY sees of the world when it is evaluated.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PhyInputs {
    /// The cable has a carrier.
    pub(crate) carrier: bool,
    /// Current time on the model's clock.
    pub(crate) now: Duration,
}

/// The PHY's state.
#[derive(Debug)]
pub(crate) struct Phy {
    id: u32,
    link_partner: u16,
    autoneg_delay: Duration,
    bmcr: u16,
    advertise: u16,
    vendor: [u16; 16],
    /// SW_RESET IPPD clear.
    powered: bool,
    /// SW_RESET IPRL set.
    out_of_reset: bool,
    /// When the current autonegotiation (or forced link-up) started.
    negotiation_started: Option<Duration>,
    link_up: bool,
    /// LSTATUS latch: the link failed since BMSR was last read.
    link_failed_since_read: bool,
}

impl Phy {
    pub(crate) fn new(id: u32, link_partner: u16, autoneg_delay: Duration) -> Self {
        Phy {
            id,
            link_partner,
            autoneg_delay,
            bmcr: BMCR_DEFAULT,
            advertise: ADVERTISE_DEFAULT,
            vendor: [0; 16],
            powered: true,
            out_of_reset: true,
            negotiation_started: None,
            link_up: false,
            link_failed_since_read: true,
        }
    }

    /// Whether the PHY drives MDIO (powered and out of reset).
    pub(crate) fn answers_mdio(&self) -> bool {
        self.powered && self.out_of_reset
    }

    /// Link as the PHY sees it now (not latched).
    pub(crate) fn link_up(&self) -> bool {
        self.link_up
    }

    /// Set the SW_RESET-driven pins. Leaving reset or power-down loads the
    /// default registers. Returns whether the link changed.
    pub(crate) fn set_pins(
        &mut self,
        powered: bool,
        out_of_reset: bool,
        inputs: PhyInputs,
    ) -> bool {
        let was_answering = self.answers_mdio();
        self.powered = powered;
        self.out_of_reset = out_of_reset;
        if !was_answering && self.answers_mdio() {
            self.load_defaults();
        }
        self.update(inputs)
    }

    /// An MDIO read of register `reg`.
    pub(crate) fn read(&mut self, reg: u8, inputs: PhyInputs) -> u16 {
        self.update(inputs);
        if !self.answers_mdio() {
            return MDIO_ABSENT;
        }
        match reg {
            reg::BMCR => self.bmcr,
            reg::BMSR => self.read_bmsr(),
            reg::PHYSID1 => (self.id >> 16) as u16,
            reg::PHYSID2 => self.id as u16,
            reg::ADVERTISE => self.advertise,
            reg::LPA if self.autoneg_complete(inputs.now) => self.link_partner,
            reg::EXPANSION if self.autoneg_complete(inputs.now) => EXPANSION_LP_ANEG_ABLE,
            r if r >= reg::VENDOR_FIRST => self.vendor[usize::from(r & 0x0F)],
            _ => 0,
        }
    }

    /// An MDIO write. Returns whether the link changed.
    pub(crate) fn write(&mut self, reg: u8, value: u16, inputs: PhyInputs) -> bool {
        let mut changed = self.update(inputs);
        if !self.answers_mdio() {
            return changed;
        }
        match reg {
            reg::BMCR => changed |= self.write_bmcr(value),
            reg::ADVERTISE => self.advertise = value,
            r if r >= reg::VENDOR_FIRST => self.vendor[usize::from(r & 0x0F)] = value,
            _ => {} // read-only or unimplemented
        }
        changed | self.update(inputs)
    }

    /// Re-evaluate negotiation and link. Returns whether the link changed.
    pub(crate) fn update(&mut self, inputs: PhyInputs) -> bool {
        let can_link = self.answers_mdio() && inputs.carrier && self.bmcr & bmcr::PDOWN == 0;
        if !can_link {
            self.negotiation_started = None;
        } else if self.negotiation_started.is_none() {
            self.negotiation_started = Some(inputs.now);
        }
        let link = can_link && (!self.autoneg_enabled() || self.autoneg_complete(inputs.now));
        self.set_link(link)
    }

    fn set_link(&mut self, link: bool) -> bool {
        if link == self.link_up {
            return false;
        }
        if !link {
            self.link_failed_since_read = true;
        }
        self.link_up = link;
        true
    }

    fn autoneg_enabled(&self) -> bool {
        self.bmcr & bmcr::ANENABLE != 0
    }

    fn autoneg_complete(&self, now: Duration) -> bool {
        let common_modes = self.advertise & self.link_partner & ADVERTISE_MODES;
        self.autoneg_enabled()
            && common_modes != 0
            && self
                .negotiation_started
                .is_some_and(|start| now.saturating_sub(start) >= self.autoneg_delay)
    }

    fn read_bmsr(&mut self) -> u16 {
        let mut value = BMSR_ABILITIES;
        if self.link_up && !self.link_failed_since_read {
            value |= bmsr::LSTATUS;
        }
        if self.link_up && self.autoneg_enabled() {
            value |= bmsr::ANEGCOMPLETE;
        }
        self.link_failed_since_read = false;
        value
    }

    fn write_bmcr(&mut self, value: u16) -> bool {
        if value & bmcr::RESET != 0 {
            self.load_defaults();
            return self.restart_negotiation();
        }
        let old = self.bmcr;
        self.bmcr = value & !bmcr::ANRESTART;
        let autoneg_switched_on = old & bmcr::ANENABLE == 0 && self.autoneg_enabled();
        if value & bmcr::ANRESTART != 0 || autoneg_switched_on {
            self.restart_negotiation()
        } else {
            false
        }
    }

    /// Drop the link and start negotiating afresh (at the next update).
    fn restart_negotiation(&mut self) -> bool {
        self.negotiation_started = None;
        self.set_link(false)
    }

    fn load_defaults(&mut self) {
        self.bmcr = BMCR_DEFAULT;
        self.advertise = ADVERTISE_DEFAULT;
        self.vendor = [0; 16];
        self.negotiation_started = None;
        self.link_failed_since_read = true;
    }
}
