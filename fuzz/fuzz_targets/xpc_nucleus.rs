//! Random frames from a hostile decaf process, fed to a nucleus endpoint
//! that serves them and makes a call meanwhile: it must return errors,
//! never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::time::{Duration, Instant};
use xpc::{Endpoint, Transport, TransportError};

/// Frames cut from the fuzz input; sends go nowhere.
struct Script {
    frames: Vec<Vec<u8>>,
}

impl Transport for Script {
    fn send(&mut self, _frame: Vec<u8>) -> Result<(), TransportError> {
        Ok(())
    }
    fn recv(&mut self, _deadline: Option<Instant>) -> Result<Vec<u8>, TransportError> {
        if self.frames.is_empty() {
            return Err(TransportError::Closed);
        }
        Ok(self.frames.remove(0))
    }
}

fuzz_target!(|data: &[u8]| {
    // Frames separated by a 0xFF 0xFE marker.
    let frames = data
        .split(|&b| b == 0xFE)
        .map(<[u8]>::to_vec)
        .collect();
    let mut ep = Endpoint::new(Script { frames });
    ep.register(1, |ep, args| {
        ep.call(2, args.to_vec(), Duration::from_millis(1))
            .map_err(|e| xpc::Fault::Failed(e.to_string()))
    });
    let _ = ep.call(7, data.to_vec(), Duration::from_millis(1));
    for _ in 0..64 {
        if ep.serve(Some(Instant::now())).is_err() && ep.depth() == 0 {
            break;
        }
    }
});
