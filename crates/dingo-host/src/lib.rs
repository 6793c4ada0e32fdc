//! The OS side of Dingo drivers: host adapters that serve a driver's ports.
//!
//! - [`timer::TimerService`]: serves a `Timer` port (specs/timer.tingu)
//!   with the runtime's timer service: `arm` becomes a deadline whose
//!   expiry is delivered as `fired`.

pub mod timer;

pub use timer::TimerService;
