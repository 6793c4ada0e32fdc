//! The receive address filter (device-facts.md §2.5.1).
//!
//! In order: PRO accepts every frame; broadcast needs AB; other multicast
//! needs AMALL, or AM and a hit in the 64-bit hash table; unicast is
//! accepted when it is addressed to the node ID. (The facts call PRO
//! "accept all unicast"; Linux's promiscuous mode sets PRO alone, without
//! AMALL, and expects to see multicast too, so the model accepts all.)
//! AP (bit 5, "accept physical") is not needed for unicast to the node ID:
//! Linux never sets it and receives unicast.

use super::registers::rx_ctl;

/// Length of a MAC address.
pub const ETH_ALEN: usize = 6;
const BROADCAST: [u8; ETH_ALEN] = [0xFF; ETH_ALEN];

/// Linux's `ether_crc`: CRC-32 (polynomial 0x04C11DB7), initial value all
/// ones, data bits taken least significant first, shifted in at the top of
/// the register, no final inversion.
pub fn ether_crc(data: &[u8]) -> u32 {
    const POLYNOMIAL: u32 = 0x04C1_1DB7;
    let mut crc = u32::MAX;
    for &octet in data {
        for bit in 0..8 {
            let top = crc >> 31;
            let data_bit = u32::from(octet >> bit) & 1;
            crc <<= 1;
            if top ^ data_bit != 0 {
                crc ^= POLYNOMIAL;
            }
        }
    }
    crc
}

/// The bit of the 64-bit multicast hash table that `address` selects: the
/// top 6 bits of [`ether_crc`] (§2.5.1). Byte `index / 8`, bit `index % 8`.
pub fn multicast_hash_index(address: &[u8; ETH_ALEN]) -> u8 {
    (ether_crc(address) >> 26) as u8
}

/// The filter's inputs: the registers that decide.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AddressFilter<'a> {
    pub(crate) rx_ctl: u16,
    pub(crate) node_id: &'a [u8; ETH_ALEN],
    pub(crate) multicast_hash: &'a [u8; 8],
}

impl AddressFilter<'_> {
    /// Whether a frame with this destination address is received.
    pub(crate) fn accepts(&self, destination: &[u8; ETH_ALEN]) -> bool {
        let on = |bit: u16| self.rx_ctl & bit != 0;
        if on(rx_ctl::PRO) {
            true
        } else if *destination == BROADCAST {
            on(rx_ctl::AB)
        } else if destination[0] & 1 != 0 {
            on(rx_ctl::AMALL) || (on(rx_ctl::AM) && self.hash_hit(destination))
        } else {
            destination == self.node_id
        }
    }

    fn hash_hit(&self, destination: &[u8; ETH_ALEN]) -> bool {
        let index = multicast_hash_index(destination);
        self.multicast_hash[usize::from(index / 8)] & (1 << (index % 8)) != 0
    }
}
