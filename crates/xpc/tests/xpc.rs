//! XPC between two in-process domains: nested calls in both directions,
//! deadlines and late replies, a hostile or crashed peer, and frames that
//! are not frames.

use proptest::prelude::*;
use std::thread;
use std::time::{Duration, Instant};
use xpc::{Endpoint, Fault, Frame, InProcess, Transport, XpcError, in_process};

const ECHO: u32 = 1;
const READ_REG: u32 = 2;
const OPEN: u32 = 3;
const SLOW: u32 = 4;
const DEPTH: u32 = 5;

const T: Duration = Duration::from_secs(5);

/// The decaf side: serves calls until the channel closes.
fn decaf(transport: InProcess) -> thread::JoinHandle<Endpoint<InProcess>> {
    thread::spawn(move || {
        let mut ep = Endpoint::new(transport);
        ep.register(ECHO, |_, args| Ok(args.to_vec()));
        // OPEN reads two registers from the nucleus while it is served: a
        // nested upcall... downcall, seen from the decaf side.
        ep.register(OPEN, |ep, _| {
            let a = ep
                .call(READ_REG, vec![0x10], T)
                .map_err(|e| Fault::Failed(e.to_string()))?;
            let b = ep
                .call(READ_REG, vec![0x14], T)
                .map_err(|e| Fault::Failed(e.to_string()))?;
            Ok([a, b].concat())
        });
        ep.register(SLOW, |_, _| {
            thread::sleep(Duration::from_millis(200));
            Ok(b"late".to_vec())
        });
        // DEPTH n calls the nucleus's DEPTH n-1: ping-pong nesting.
        ep.register(DEPTH, |ep, args| {
            let n = args.first().copied().unwrap_or(0);
            if n == 0 {
                return Ok(vec![ep.depth() as u8]);
            }
            ep.call(DEPTH, vec![n - 1], T)
                .map_err(|e| Fault::Failed(e.to_string()))
        });
        while ep.serve(None).is_ok() {}
        ep
    })
}

fn nucleus(transport: InProcess) -> Endpoint<InProcess> {
    let mut ep = Endpoint::new(transport);
    ep.register(READ_REG, |_, args| Ok(vec![args[0] + 1]));
    ep.register(DEPTH, |ep, args| {
        let n = args.first().copied().unwrap_or(0);
        if n == 0 {
            return Ok(vec![ep.depth() as u8]);
        }
        ep.call(DEPTH, vec![n - 1], T)
            .map_err(|e| Fault::Failed(e.to_string()))
    });
    ep
}

#[test]
fn calls_and_nested_upcalls_in_both_directions() {
    let (a, b) = in_process();
    let server = decaf(b);
    let mut n = nucleus(a);
    assert_eq!(n.call(ECHO, b"hello".to_vec(), T).unwrap(), b"hello");
    // The decaf side calls back into the nucleus twice while serving OPEN.
    assert_eq!(n.call(OPEN, Vec::new(), T).unwrap(), vec![0x11, 0x15]);
    // Ten levels of nesting, alternating sides; the innermost sees the
    // deepest stack.
    let depth = n.call(DEPTH, vec![10], T).unwrap();
    assert_eq!(depth, vec![5]);
    assert_eq!(n.depth(), 0);
    assert_eq!(
        n.call(99, Vec::new(), T),
        Err(XpcError::Fault(Fault::NoSuchProcedure(99)))
    );
    let stats = n.stats();
    assert_eq!(stats.refused, 0);
    assert!(stats.served >= 7, "{stats:?}");
    drop(n);
    server.join().unwrap();
}

#[test]
fn a_timed_out_call_errs_and_its_late_reply_is_dropped() {
    let (a, b) = in_process();
    let server = decaf(b);
    let mut n = nucleus(a);
    assert_eq!(
        n.call(SLOW, Vec::new(), Duration::from_millis(20)),
        Err(XpcError::Timeout)
    );
    // The late reply arrives while the next call waits: dropped, counted.
    assert_eq!(n.call(ECHO, b"x".to_vec(), T).unwrap(), b"x");
    assert_eq!(n.stats().late, 1);
    drop(n);
    server.join().unwrap();
}

#[test]
fn a_call_that_arrives_after_its_deadline_is_refused() {
    let (a, mut b) = in_process();
    let mut n = nucleus(a);
    // A raw peer sends a call whose deadline has passed.
    b.send(
        Frame::Call {
            id: 7,
            procedure: READ_REG,
            deadline_us: 1,
            payload: vec![1],
        }
        .encode(),
    )
    .unwrap();
    n.serve(Some(Instant::now() + T)).unwrap();
    let reply = Frame::decode(&b.recv(Some(Instant::now() + T)).unwrap()).unwrap();
    assert_eq!(
        reply,
        Frame::Reply {
            id: 7,
            result: Err(Fault::TooLate)
        }
    );
}

#[test]
fn a_hostile_peer_gets_errors_and_the_nucleus_keeps_serving() {
    let (a, mut evil) = in_process();
    let mut n = nucleus(a);
    let deadline = || Some(Instant::now() + T);
    // Garbage, a reply to nothing, a truncated frame, a huge length.
    for bytes in [
        vec![0xde, 0xad],
        Frame::Reply {
            id: 42,
            result: Ok(vec![]),
        }
        .encode(),
        Frame::Call {
            id: 1,
            procedure: READ_REG,
            deadline_us: 0,
            payload: vec![1, 2, 3],
        }
        .encode()[..20]
            .to_vec(),
        [
            1u32.to_be_bytes().as_slice(),
            &[0; 20],
            &u32::MAX.to_be_bytes(),
        ]
        .concat(),
    ] {
        evil.send(bytes).unwrap();
        assert!(matches!(n.serve(deadline()), Err(XpcError::Protocol(_))));
    }
    assert_eq!(n.stats().refused, 4);
    // Still serving.
    evil.send(
        Frame::Call {
            id: 2,
            procedure: READ_REG,
            deadline_us: 0,
            payload: vec![9],
        }
        .encode(),
    )
    .unwrap();
    n.serve(deadline()).unwrap();
    let reply = Frame::decode(&evil.recv(deadline()).unwrap()).unwrap();
    assert_eq!(
        reply,
        Frame::Reply {
            id: 2,
            result: Ok(vec![10])
        }
    );
}

#[test]
fn a_crashed_peer_fails_the_pending_call_and_a_new_one_works() {
    for _ in 0..20 {
        let (a, b) = in_process();
        // A decaf side that dies in the middle of the call.
        let dying = thread::spawn(move || {
            let mut ep = Endpoint::new(b);
            ep.register(ECHO, |_, _| panic!("the decaf driver crashed"));
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ep.serve(None)));
        });
        let mut n = nucleus(a);
        assert_eq!(n.call(ECHO, b"x".to_vec(), T), Err(XpcError::PeerGone));
        dying.join().unwrap();
        // Restart: a fresh decaf side on a fresh channel.
        let (a, b) = in_process();
        let server = decaf(b);
        let mut n = nucleus(a);
        assert_eq!(n.call(ECHO, b"again".to_vec(), T).unwrap(), b"again");
        drop(n);
        server.join().unwrap();
    }
}

proptest! {
    /// Frames round-trip, and no byte string makes decoding panic.
    #[test]
    fn frames_round_trip(id: u64, procedure: u32, deadline_us: u64, payload in proptest::collection::vec(any::<u8>(), 0..64), text in "[a-z ]{0,20}") {
        let frames = [
            Frame::Call { id, procedure, deadline_us, payload: payload.clone() },
            Frame::Reply { id, result: Ok(payload) },
            Frame::Reply { id, result: Err(Fault::Failed(text)) },
            Frame::Reply { id, result: Err(Fault::NoSuchProcedure(procedure)) },
            Frame::Reply { id, result: Err(Fault::TooLate) },
        ];
        for f in frames {
            let bytes = f.encode();
            prop_assert_eq!(bytes.len() % 4, 0);
            prop_assert_eq!(Frame::decode(&bytes), Ok(f));
            for cut in 0..bytes.len() {
                prop_assert!(Frame::decode(&bytes[..cut]).is_err());
            }
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = Frame::decode(&bytes);
    }
}
