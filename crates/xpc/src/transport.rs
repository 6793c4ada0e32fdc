//! How frames travel between two domains.
//!
//! [`InProcess`] joins two endpoints in one process (tests, and the
//! deterministic baseline); a cross-process transport over shared memory
//! implements the same trait.

use std::sync::mpsc;
use std::time::Instant;

/// Why a frame could not be received or sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportError {
    /// Nothing arrived before the deadline.
    Timeout,
    /// The other end is closed.
    Closed,
}

/// Carries whole frames, in order, between two domains.
pub trait Transport: Send {
    /// Sends one frame.
    fn send(&mut self, frame: Vec<u8>) -> Result<(), TransportError>;
    /// Receives the next frame, waiting until `deadline` (or for ever).
    fn recv(&mut self, deadline: Option<Instant>) -> Result<Vec<u8>, TransportError>;

    /// Sends one frame from a borrowed buffer (transports that copy anyway
    /// avoid an allocation).
    fn send_bytes(&mut self, frame: &[u8]) -> Result<(), TransportError> {
        self.send(frame.to_vec())
    }

    /// Receives the next frame into `buf` (replacing its contents), reusing
    /// its allocation where the transport can.
    fn recv_into(
        &mut self,
        buf: &mut Vec<u8>,
        deadline: Option<Instant>,
    ) -> Result<(), TransportError> {
        *buf = self.recv(deadline)?;
        Ok(())
    }
}

/// One end of an in-process channel.
pub struct InProcess {
    tx: mpsc::Sender<Vec<u8>>,
    rx: mpsc::Receiver<Vec<u8>>,
}

/// Two joined ends.
pub fn in_process() -> (InProcess, InProcess) {
    let (a_tx, b_rx) = mpsc::channel();
    let (b_tx, a_rx) = mpsc::channel();
    (
        InProcess { tx: a_tx, rx: a_rx },
        InProcess { tx: b_tx, rx: b_rx },
    )
}

impl Transport for InProcess {
    fn send(&mut self, frame: Vec<u8>) -> Result<(), TransportError> {
        self.tx.send(frame).map_err(|_| TransportError::Closed)
    }

    fn recv(&mut self, deadline: Option<Instant>) -> Result<Vec<u8>, TransportError> {
        match deadline {
            None => self.rx.recv().map_err(|_| TransportError::Closed),
            Some(d) => {
                let wait = d.saturating_duration_since(Instant::now());
                self.rx.recv_timeout(wait).map_err(|e| match e {
                    mpsc::RecvTimeoutError::Timeout => TransportError::Timeout,
                    mpsc::RecvTimeoutError::Disconnected => TransportError::Closed,
                })
            }
        }
    }
}

/// A transport chosen at run time (e.g. in-process or shared memory).
impl Transport for Box<dyn Transport> {
    fn send(&mut self, frame: Vec<u8>) -> Result<(), TransportError> {
        (**self).send(frame)
    }

    fn recv(&mut self, deadline: Option<Instant>) -> Result<Vec<u8>, TransportError> {
        (**self).recv(deadline)
    }

    fn send_bytes(&mut self, frame: &[u8]) -> Result<(), TransportError> {
        (**self).send_bytes(frame)
    }

    fn recv_into(
        &mut self,
        buf: &mut Vec<u8>,
        deadline: Option<Instant>,
    ) -> Result<(), TransportError> {
        (**self).recv_into(buf, deadline)
    }
}
