//! The OS side of Dingo drivers: host adapters that serve a driver's ports.
//!
//! - [`timer::TimerService`]: serves a `Timer` port (specs/timer.tingu)
//!   with the runtime's timer service: `arm` becomes a deadline whose
//!   expiry is delivered as `fired`.
//! - [`net::NetHost`]: the OS end of a network driver's `Lifecycle`,
//!   `PowerManagement` and `EthernetController` ports, with the packet
//!   buffers ([`net::PacketPool`]) both sides share.
//! - [`outbox`]: how an adapter delivers messages in order, outside its lock.

pub mod net;
pub mod outbox;
pub mod timer;

pub use net::{NetHost, PacketPool};
pub use timer::TimerService;
