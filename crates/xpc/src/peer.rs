//! The body of a decaf process for tests and benchmarks
//! (`xpc-decaf-echo`, and `dingo xpc-peer` for `dingo bench xpc`): maps
//! the shared region inherited as a file descriptor and serves a few
//! procedures, or answers raw ping-pongs, until the nucleus goes away.
//!
//! ```text
//!   PEER FD echo [SPINS]       serve ECHO, SLOW, UPCALL
//!   PEER FD raw-spin N         answer N raw pings, spinning
//!   PEER FD raw-sleep N        answer N raw pings, sleeping on a futex
//!   PEER FD lock N             take the region's combolock N times as the
//!                              decaf side (exit 1 if it ever overlapped)
//! ```

use crate::endpoint::Endpoint;
use crate::frame::Fault;
use crate::shm::{self, Shm, Side};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Returns its arguments.
pub const ECHO: u32 = 1;
/// Sleeps the number of milliseconds in its first argument byte.
pub const SLOW: u32 = 2;
/// Calls the nucleus's [`NUCLEUS_INC`] with its arguments (a nested call)
/// and returns the answer.
pub const UPCALL: u32 = 3;
/// What the nucleus serves for [`UPCALL`]: adds one to every byte.
pub const NUCLEUS_INC: u32 = 100;

/// Runs the peer with command-line `args` (without the program name);
/// returns the process's exit code.
pub fn run(args: &[String]) -> i32 {
    let Some(fd) = args.first() else {
        eprintln!("usage: PEER FD [echo [SPINS] | raw-spin N | raw-sleep N]");
        return 2;
    };
    let mut shm = match open_inherited(fd) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("xpc peer: {e}");
            return 2;
        }
    };
    let number = |i: usize| args.get(i).and_then(|s| s.parse::<u32>().ok());
    match args.get(1).map(String::as_str) {
        None | Some("echo") => {
            if let Some(spins) = number(2) {
                shm.set_spins(spins);
            }
            serve(shm);
            0
        }
        Some("lock") => i32::from(!hold_lock(
            &shm,
            crate::combolock::Domain::Decaf,
            number(2).unwrap_or(0),
        )),
        Some("raw-spin") => i32::from(!shm.raw_responder(number(2).unwrap_or(0), false)),
        Some("raw-sleep") => i32::from(!shm.raw_responder(number(2).unwrap_or(0), true)),
        Some(other) => {
            eprintln!("xpc peer: unknown mode `{other}`");
            2
        }
    }
}

/// The decaf side's end of the shared region a nucleus started this
/// process with ([`spawn`]): `fd` is the inherited descriptor's number.
/// The peer counts as alive while this process's parent is the one that
/// started it.
pub fn open_inherited(fd: &str) -> Result<Shm, String> {
    if fd.parse::<u32>().is_err() {
        return Err(format!("`{fd}` is not a descriptor number"));
    }
    // Reopen the inherited memfd through /proc: no raw descriptor handling.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(format!("/proc/self/fd/{fd}"))
        .map_err(|e| format!("cannot open descriptor {fd}: {e}"))?;
    let parent = rustix::process::getppid();
    Shm::open(&file, Side::Decaf, move || {
        rustix::process::getppid() == parent
    })
    .map_err(|e| format!("cannot map the shared region: {e}"))
}

/// Serves [`ECHO`], [`SLOW`] and [`UPCALL`] until the channel fails.
pub fn serve(shm: Shm) {
    let mut ep = Endpoint::new(shm);
    ep.register(ECHO, |_, args| Ok(args.to_vec()));
    ep.register(SLOW, |_, args| {
        std::thread::sleep(Duration::from_millis(u64::from(
            args.first().copied().unwrap_or(0),
        )));
        Ok(Vec::new())
    });
    ep.register(UPCALL, |ep, args| {
        ep.call(NUCLEUS_INC, args.to_vec(), Duration::from_secs(5))
            .map_err(|e| Fault::Failed(e.to_string()))
    });
    while ep.serve(None).is_ok() {}
}

/// Takes the region's cross-domain lock `n` times as `domain`, checking
/// inside that nobody else is (the region's scratch word is the "inside"
/// flag). Returns false if an overlap was seen.
pub fn hold_lock(shm: &Shm, domain: crate::combolock::Domain, n: u32) -> bool {
    use std::sync::atomic::Ordering;
    let lock = crate::combolock::ComboLock::new(shm.lock_word());
    let inside = shm.scratch_word();
    let mut ok = true;
    for i in 0..n {
        let _held = lock.lock(domain, || {}, || {});
        if inside.swap(1, Ordering::SeqCst) != 0 {
            ok = false;
        }
        // Hold it a little, longer now and then (a decaf hold may be long).
        let spin = if i % 64 == 0 { 20_000 } else { 200 };
        for _ in 0..spin {
            std::hint::spin_loop();
        }
        inside.store(0, Ordering::SeqCst);
    }
    ok
}

/// Starts a decaf process on a fresh shared region: `command` gets the
/// region's descriptor number, then `mode`, as its next arguments. Returns
/// the nucleus's end (whose liveness check is whether the process still
/// runs) and the process.
pub fn spawn(mut command: Command, mode: &[&str]) -> std::io::Result<(Shm, Arc<Mutex<Child>>)> {
    use rustix::fd::AsRawFd;
    let fd = shm::create()?;
    let child = command.arg(fd.as_raw_fd().to_string()).args(mode).spawn()?;
    let child = Arc::new(Mutex::new(child));
    let c = child.clone();
    let alive = move || {
        c.lock()
            .map(|mut c| matches!(c.try_wait(), Ok(None)))
            .unwrap_or(false)
    };
    let end = Shm::open(&fd, Side::Nucleus, alive)?;
    Ok((end, child))
}
