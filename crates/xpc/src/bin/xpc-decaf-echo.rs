//! A decaf process for tests and benchmarks: maps the shared region whose
//! file descriptor number is its first argument and serves a few
//! procedures until the nucleus goes away.
//!
//! Procedures: 1 ECHO (returns its arguments), 2 SLOW (sleeps the number
//! of milliseconds in its first argument byte, then returns), 3 UPCALL
//! (calls the nucleus's procedure 100 with its arguments and returns the
//! answer: a nested call).

use std::time::Duration;
use xpc::shm::{Shm, Side};
use xpc::{Endpoint, Fault};

fn main() {
    let Some(fd) = std::env::args().nth(1) else {
        eprintln!("usage: xpc-decaf-echo FD");
        std::process::exit(2);
    };
    // Reopen the inherited memfd through /proc: no raw descriptor handling.
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(format!("/proc/self/fd/{fd}"))
    {
        Ok(f) => f,
        Err(e) => {
            eprintln!("xpc-decaf-echo: cannot open descriptor {fd}: {e}");
            std::process::exit(2);
        }
    };
    let parent = rustix::process::getppid();
    let shm = match Shm::open(&file, Side::Decaf, move || {
        rustix::process::getppid() == parent
    }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("xpc-decaf-echo: cannot map the region: {e}");
            std::process::exit(2);
        }
    };
    let mut ep = Endpoint::new(shm);
    ep.register(1, |_, args| Ok(args.to_vec()));
    ep.register(2, |_, args| {
        std::thread::sleep(Duration::from_millis(u64::from(
            args.first().copied().unwrap_or(0),
        )));
        Ok(Vec::new())
    });
    ep.register(3, |ep, args| {
        ep.call(100, args.to_vec(), Duration::from_secs(5))
            .map_err(|e| Fault::Failed(e.to_string()))
    });
    while ep.serve(None).is_ok() {}
}
