//! What a traffic harness or a benchmark needs of a network adapter,
//! whichever driver runs it: the Dingo driver behind its OS end
//! ([`Adapter`], through its [`dingo_host::net::NetHost`]) or the native
//! driver ([`NativeAdapter`]).
//!
//! ```text
//!   harness ── Nic::transmit ──▶ Adapter ──▶ NetHost ══ ports ══▶ Dingo asix driver
//!           └─ Nic::transmit ──▶ NativeAdapter ──▶ NativeAx88772 (locks, threads)
//!   harness ◀── receiver ─────── either
//! ```

use crate::adapter::Adapter;
use crate::load::Side;
use crate::native::{NativeAdapter, NativeAx88772};
use std::sync::Arc;
use std::time::Duration;

pub use dingo_host::net::Receiver;

/// A network adapter as the OS uses it. Every method may be called from
/// any thread.
pub trait Nic: Send + Sync {
    /// Hands the adapter one Ethernet frame (without FCS). True if it was
    /// taken (sent, or queued to be sent); false if not, for now (queue
    /// stopped, backlog full, interface down or asleep): retry later.
    fn transmit(&self, frame: &[u8]) -> bool;

    /// Where received frames go from now on (for the Dingo adapter, only
    /// the first receiver set counts).
    fn set_receiver(&self, rx: Receiver);

    /// Waits until the link is up (`up`) or down; false after `timeout`.
    fn wait_link(&self, up: bool, timeout: Duration) -> bool;

    /// The link speed in Mb/s, if the link is up.
    fn link(&self) -> Option<u32>;
}

impl Nic for Adapter {
    fn transmit(&self, frame: &[u8]) -> bool {
        self.net.transmit(frame)
    }

    fn set_receiver(&self, rx: Receiver) {
        self.net.set_receiver(rx);
    }

    fn wait_link(&self, up: bool, timeout: Duration) -> bool {
        self.net.wait_link(up, timeout)
    }

    fn link(&self) -> Option<u32> {
        self.net.link()
    }
}

impl Nic for NativeAx88772 {
    fn transmit(&self, frame: &[u8]) -> bool {
        NativeAx88772::transmit(self, frame)
    }

    fn set_receiver(&self, rx: Receiver) {
        NativeAx88772::set_receiver(self, rx);
    }

    fn wait_link(&self, up: bool, timeout: Duration) -> bool {
        NativeAx88772::wait_link(self, up, timeout)
    }

    fn link(&self) -> Option<u32> {
        NativeAx88772::link(self)
    }
}

impl Nic for NativeAdapter {
    fn transmit(&self, frame: &[u8]) -> bool {
        self.driver.transmit(frame)
    }

    fn set_receiver(&self, rx: Receiver) {
        self.driver.set_receiver(rx);
    }

    fn wait_link(&self, up: bool, timeout: Duration) -> bool {
        self.driver.wait_link(up, timeout)
    }

    fn link(&self) -> Option<u32> {
        self.driver.link()
    }
}

/// One side of the echo load ([`crate::load::run`]) on `nic`.
pub fn load_side<N: Nic + 'static>(nic: Arc<N>) -> Side {
    let tx = nic.clone();
    Side {
        transmit: Arc::new(move |frame: &[u8]| tx.transmit(frame)),
        set_receiver: Box::new(move |rx| nic.set_receiver(rx)),
    }
}
