//! Ethernet wires for device models.
//!
//! A device model's MAC transmits a frame by handing it to the
//! [`FrameSink`] it is attached to, and receives frames through its own
//! [`FrameSink`] implementation. A wire joins two sinks.
//!
//! - [`link`]: an in-process wire between two devices, optionally paced at
//!   a line rate (100 Mb/s for an AX88772), with carrier and statistics.
//! - [`tap`]: a Linux TAP interface, so the kernel is the link partner.
//! - [`netns`]: network namespaces, veth pairs and `ip` helpers for tests.
//! - [`pcap`]: capture files, and [`Capture`], a sink that records frames.
//! - [`udp`]: frames as UDP datagrams on loopback (QEMU's `socket` netdev).

pub mod link;
pub mod netns;
pub mod pcap;
pub mod tap;
pub mod udp;

pub use link::{DirectionStats, End, Link, LinkConfig, LinkEnd};
pub use netns::{NetNs, VethPair, can_use_netns};
pub use pcap::{Capture, PcapReader, PcapWriter};
pub use tap::{Tap, TapSink};
pub use udp::{UdpPort, UdpStats};

/// Something that accepts Ethernet frames (without FCS): the receive side of
/// a device model's MAC, or one end of a wire.
pub trait FrameSink: Send + Sync {
    /// Deliver one frame. May block briefly to apply back-pressure (a wire at
    /// its rate limit); never for long.
    fn send_frame(&self, frame: &[u8]);
}
