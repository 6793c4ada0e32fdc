//! What a locked section leaves for after the lock is released: frames to
//! record in the pcap [`Capture`] and frames to put on the wire. Both go out
//! without the model's lock held, since a sink may block or call back.

use netwire::{Capture, FrameSink};

/// A [`FrameSink`] that discards every frame: the inner sink for a
/// [`Capture`] given to [`Rtl8139::set_capture`](super::Rtl8139::set_capture),
/// so that it records and forwards nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Discard;

impl FrameSink for Discard {
    fn send_frame(&self, _frame: &[u8]) {}
}

/// Frames collected under the lock, in the order they happened.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    capturing: bool,
    /// For the capture: received frames as they arrived, transmitted
    /// frames as sent.
    record: Vec<Vec<u8>>,
    /// For the wire.
    wire: Vec<Vec<u8>>,
}

impl Outbox {
    /// An empty outbox; `capturing` says whether frames are to be recorded.
    pub(crate) fn new(capturing: bool) -> Self {
        Outbox {
            capturing,
            ..Outbox::default()
        }
    }

    /// A frame arrived from the wire.
    pub(crate) fn arrived(&mut self, frame: &[u8]) {
        if self.capturing {
            self.record.push(frame.to_vec());
        }
    }

    /// A frame goes on the wire.
    pub(crate) fn transmit(&mut self, frame: Vec<u8>) {
        if self.capturing {
            self.record.push(frame.clone());
        }
        self.wire.push(frame);
    }

    /// Record into `capture` (if any), then send to `wire` (if any).
    pub(crate) fn deliver(self, capture: Option<&Capture>, wire: Option<&dyn FrameSink>) {
        if let Some(capture) = capture {
            for frame in &self.record {
                capture.send_frame(frame);
            }
        }
        if let Some(wire) = wire {
            for frame in &self.wire {
                wire.send_frame(frame);
            }
        }
    }

    /// Whether there is nothing to deliver.
    pub(crate) fn is_empty(&self) -> bool {
        self.record.is_empty() && self.wire.is_empty()
    }
}
