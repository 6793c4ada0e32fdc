//! XPC across processes over shared memory: a decaf process
//! (`xpc-decaf-echo`) serves calls; nested calls cross both ways; killing
//! it with SIGKILL in the middle of a call, 100 times, fails that call
//! and nothing else, and a restarted decaf process works.

use rustix::fd::AsRawFd;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use xpc::shm::{self, Shm, Side};
use xpc::{Endpoint, XpcError};

const T: Duration = Duration::from_secs(10);

/// A decaf process and the nucleus's end of its channel.
fn start() -> (Endpoint<Shm>, Arc<Mutex<Child>>) {
    let (shm, child) = xpc::peer::spawn(Command::new(env!("CARGO_BIN_EXE_xpc-decaf-echo")), &[])
        .expect("the decaf process starts");
    let mut ep = Endpoint::new(shm);
    ep.register(100, |_, args| {
        Ok(args.iter().map(|b| b.wrapping_add(1)).collect())
    });
    (ep, child)
}

fn stop(ep: Endpoint<Shm>, child: Arc<Mutex<Child>>) {
    drop(ep);
    let mut c = child.lock().unwrap();
    let _ = c.kill();
    let _ = c.wait();
}

#[test]
fn calls_and_nested_calls_cross_processes() {
    let (mut ep, child) = start();
    assert_eq!(ep.call(1, b"hello".to_vec(), T).unwrap(), b"hello");
    let big = vec![7u8; 200_000];
    assert_eq!(ep.call(1, big.clone(), T).unwrap(), big);
    // The decaf side calls back into this process while serving.
    assert_eq!(ep.call(3, vec![1, 2, 3], T).unwrap(), vec![2, 3, 4]);
    // Many small calls: the rings wrap around many times.
    for n in 0..20_000u32 {
        let args = n.to_be_bytes().to_vec();
        assert_eq!(ep.call(1, args.clone(), T).unwrap(), args);
    }
    stop(ep, child);
}

#[test]
fn sigkill_in_the_middle_of_a_call_fails_it_and_a_restart_works() {
    for round in 0..100 {
        let (mut ep, child) = start();
        let victim = child.clone();
        let killer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(5));
            let _ = victim.lock().unwrap().kill();
        });
        // SLOW 200 ms: the decaf process dies while serving it.
        let r = ep.call(2, vec![200], T);
        assert_eq!(r, Err(XpcError::PeerGone), "round {round}");
        killer.join().unwrap();
        // The nucleus keeps serving: later calls fail fast, no hang.
        assert_eq!(ep.call(1, vec![1], T), Err(XpcError::PeerGone));
        stop(ep, child);
        // A restarted decaf process works.
        let (mut ep, child) = start();
        assert_eq!(ep.call(1, vec![round as u8], T).unwrap(), vec![round as u8]);
        stop(ep, child);
    }
}

/// The cross-domain lock in the shared region: the nucleus (spinning while
/// it holds it) and the decaf process (sleeping waiters while it does)
/// never hold it at once.
#[test]
fn the_combolock_excludes_across_processes() {
    use xpc::combolock::Domain;
    let fd = shm::create().expect("a memfd");
    let mut child = Command::new(env!("CARGO_BIN_EXE_xpc-decaf-echo"))
        .args([fd.as_raw_fd().to_string(), "lock".into(), "3000".into()])
        .spawn()
        .expect("the decaf process starts");
    let shm = Shm::open(&fd, Side::Nucleus, || true).expect("the region maps");
    // Keep taking the lock for as long as the decaf process runs, so the
    // two really contend.
    let mut ok = true;
    let mut rounds = 0;
    let start = std::time::Instant::now();
    let status = loop {
        ok &= xpc::peer::hold_lock(&shm, Domain::Nucleus, 50);
        rounds += 1;
        if let Some(status) = child.try_wait().expect("waitable") {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the decaf process hangs"
        );
    };
    assert!(
        rounds > 1,
        "the nucleus took the lock while the decaf process ran"
    );
    assert!(ok, "the nucleus saw the decaf side inside");
    assert!(
        status.success(),
        "the decaf side saw the nucleus inside: {status:?}"
    );
    assert_eq!(
        shm.lock_word().load(std::sync::atomic::Ordering::SeqCst) & 3,
        0
    );
}
