//! [`UdpPort`]: Ethernet frames as UDP datagrams on loopback, one frame per
//! datagram, the framing of QEMU's `-netdev socket,udp=..,localaddr=..`.
//!
//! ```text
//!  device (or test) ──send_frame──▶ UdpPort ──datagram──▶ peer (QEMU's localaddr)
//!  peer ──datagram──▶ receive thread ──send_frame──▶ attached sink
//! ```
//!
//! Datagrams from any address other than the peer's are counted and
//! dropped, as are those longer than [`MAX_FRAME`] bytes and those that
//! arrive while no sink is attached.

use std::fmt;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::FrameSink;

/// Longest frame handed to the sink; longer datagrams are dropped.
pub const MAX_FRAME: usize = 2048;

/// How long the receive thread blocks before it checks for a stop (a stop
/// also wakes it at once with an empty datagram to itself).
const POLL: Duration = Duration::from_millis(100);

/// Counters of a [`UdpPort`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UdpStats {
    /// Frames sent to the peer.
    pub tx_frames: u64,
    /// Bytes of those frames.
    pub tx_bytes: u64,
    /// Failed or short sends.
    pub tx_errors: u64,
    /// Frames received from the peer and handed to the sink.
    pub rx_frames: u64,
    /// Bytes of those frames.
    pub rx_bytes: u64,
    /// Frames from the peer dropped because no sink was attached.
    pub rx_no_sink: u64,
    /// Datagrams longer than [`MAX_FRAME`].
    pub rx_oversize: u64,
    /// Datagrams from another address than the peer's.
    pub rx_foreign: u64,
    /// Failed receives.
    pub rx_errors: u64,
}

#[derive(Default)]
struct Counters {
    tx_frames: AtomicU64,
    tx_bytes: AtomicU64,
    tx_errors: AtomicU64,
    rx_frames: AtomicU64,
    rx_bytes: AtomicU64,
    rx_no_sink: AtomicU64,
    rx_oversize: AtomicU64,
    rx_foreign: AtomicU64,
    rx_errors: AtomicU64,
}

fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

struct Inner {
    socket: UdpSocket,
    local: SocketAddr,
    peer: SocketAddr,
    sink: RwLock<Option<Arc<dyn FrameSink>>>,
    counters: Counters,
    stopping: AtomicBool,
    last_error: Mutex<Option<io::Error>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Inner {
    fn sink(&self) -> Option<Arc<dyn FrameSink>> {
        self.sink.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// One end of a UDP "wire": bound on loopback, sending each frame as one
/// datagram to the peer (implements [`FrameSink`]) and handing each
/// datagram from the peer to the attached sink on a receive thread. The
/// thread stops when the port is dropped.
pub struct UdpPort {
    inner: Arc<Inner>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for UdpPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpPort")
            .field("local", &self.inner.local)
            .field("peer", &self.inner.peer)
            .field("stats", &self.stats())
            .finish()
    }
}

impl UdpPort {
    /// Binds `local` and exchanges frames with `peer`.
    pub fn bind(local: SocketAddr, peer: SocketAddr) -> io::Result<UdpPort> {
        UdpPort::from_socket(UdpSocket::bind(local)?, peer)
    }

    /// Uses an already bound socket (such as one reserved when the peer
    /// was started) and exchanges frames with `peer`.
    pub fn from_socket(socket: UdpSocket, peer: SocketAddr) -> io::Result<UdpPort> {
        socket.set_nonblocking(false)?;
        socket.set_read_timeout(Some(POLL))?;
        let local = socket.local_addr()?;
        let inner = Arc::new(Inner {
            socket,
            local,
            peer,
            sink: RwLock::new(None),
            counters: Counters::default(),
            stopping: AtomicBool::new(false),
            last_error: Mutex::new(None),
        });
        let thread = {
            let inner = Arc::clone(&inner);
            thread::Builder::new()
                .name(format!("netwire-udp-{}", local.port()))
                .spawn(move || receive_loop(&inner))?
        };
        Ok(UdpPort {
            inner,
            thread: Some(thread),
        })
    }

    /// Hands every frame received from now on to `sink` (replacing any
    /// previous one).
    pub fn attach(&self, sink: Arc<dyn FrameSink>) {
        *self.inner.sink.write().unwrap_or_else(|p| p.into_inner()) = Some(sink);
    }

    /// Stops handing frames to the sink (they are counted as `rx_no_sink`).
    pub fn detach(&self) {
        *self.inner.sink.write().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.inner.peer
    }

    /// Counters so far.
    pub fn stats(&self) -> UdpStats {
        let c = &self.inner.counters;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        UdpStats {
            tx_frames: l(&c.tx_frames),
            tx_bytes: l(&c.tx_bytes),
            tx_errors: l(&c.tx_errors),
            rx_frames: l(&c.rx_frames),
            rx_bytes: l(&c.rx_bytes),
            rx_no_sink: l(&c.rx_no_sink),
            rx_oversize: l(&c.rx_oversize),
            rx_foreign: l(&c.rx_foreign),
            rx_errors: l(&c.rx_errors),
        }
    }

    /// The most recent send or receive error, if any (clears it).
    pub fn take_error(&self) -> Option<io::Error> {
        lock(&self.inner.last_error).take()
    }
}

impl FrameSink for UdpPort {
    fn send_frame(&self, frame: &[u8]) {
        let c = &self.inner.counters;
        match self.inner.socket.send_to(frame, self.inner.peer) {
            Ok(n) if n == frame.len() => {
                bump(&c.tx_frames, 1);
                bump(&c.tx_bytes, n as u64);
            }
            Ok(n) => {
                bump(&c.tx_errors, 1);
                *lock(&self.inner.last_error) = Some(io::Error::new(
                    io::ErrorKind::WriteZero,
                    format!("short UDP send {n} of {}", frame.len()),
                ));
            }
            Err(e) => {
                bump(&c.tx_errors, 1);
                *lock(&self.inner.last_error) = Some(e);
            }
        }
    }
}

impl Drop for UdpPort {
    fn drop(&mut self) {
        self.inner.stopping.store(true, Ordering::Release);
        // Wake the receive thread now rather than at its next timeout.
        let _ = self.inner.socket.send_to(&[], self.inner.local);
        if let Some(t) = self.thread.take()
            && t.thread().id() != thread::current().id()
        {
            let _ = t.join();
        }
    }
}

fn receive_loop(inner: &Inner) {
    let mut buf = vec![0u8; MAX_FRAME + 1];
    let c = &inner.counters;
    while !inner.stopping.load(Ordering::Acquire) {
        match inner.socket.recv_from(&mut buf) {
            Ok((_, from)) if from != inner.peer => {
                // Includes our own wake-up datagram.
                if from != inner.local {
                    bump(&c.rx_foreign, 1);
                }
            }
            Ok((n, _)) if n > MAX_FRAME => bump(&c.rx_oversize, 1),
            Ok((n, _)) => match inner.sink() {
                Some(sink) => {
                    bump(&c.rx_frames, 1);
                    bump(&c.rx_bytes, n as u64);
                    sink.send_frame(&buf[..n]);
                }
                None => bump(&c.rx_no_sink, 1),
            },
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => {
                // ECONNREFUSED from an earlier send to a closed port shows
                // up here on Linux: count it and go on.
                bump(&c.rx_errors, 1);
                *lock(&inner.last_error) = Some(e);
                thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use std::sync::mpsc;

    struct Collect(Mutex<mpsc::Sender<Vec<u8>>>);
    impl FrameSink for Collect {
        fn send_frame(&self, frame: &[u8]) {
            let _ = lock(&self.0).send(frame.to_vec());
        }
    }

    fn any() -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
    }

    #[test]
    fn frames_cross_both_ways_and_strangers_are_dropped() {
        let a_sock = UdpSocket::bind(any()).unwrap();
        let b_sock = UdpSocket::bind(any()).unwrap();
        let (a_addr, b_addr) = (a_sock.local_addr().unwrap(), b_sock.local_addr().unwrap());
        let a = UdpPort::from_socket(a_sock, b_addr).unwrap();
        let b = UdpPort::from_socket(b_sock, a_addr).unwrap();
        let (tx, rx) = mpsc::channel();
        b.attach(Arc::new(Collect(Mutex::new(tx))));
        let frames: Vec<Vec<u8>> = [60usize, 1514, MAX_FRAME]
            .iter()
            .map(|&n| (0..n).map(|i| i as u8).collect())
            .collect();
        for f in &frames {
            a.send_frame(f);
        }
        for f in &frames {
            assert_eq!(&rx.recv_timeout(Duration::from_secs(2)).unwrap(), f);
        }
        // Too long, and from a stranger: dropped and counted.
        a.send_frame(&vec![0; MAX_FRAME + 1]);
        let stranger = UdpSocket::bind(any()).unwrap();
        stranger.send_to(&[1; 60], b_addr).unwrap();
        a.send_frame(&[7; 64]);
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(2)).unwrap(),
            vec![7; 64]
        );
        let s = b.stats();
        assert_eq!(
            (s.rx_frames, s.rx_oversize, s.rx_foreign),
            (4, 1, 1),
            "{s:?}"
        );
        assert_eq!(a.stats().tx_frames, 5);
        assert_eq!(a.local_addr(), a_addr);
        assert_eq!(a.peer_addr(), b_addr);
    }

    #[test]
    fn no_sink_counts_and_drop_stops_quickly() {
        let a = UdpPort::bind(any(), any()).unwrap();
        let peer = UdpSocket::bind(any()).unwrap();
        let b = UdpPort::bind(any(), peer.local_addr().unwrap()).unwrap();
        peer.send_to(&[1; 60], b.local_addr()).unwrap();
        let t = std::time::Instant::now();
        while b.stats().rx_no_sink == 0 && t.elapsed() < Duration::from_secs(2) {
            thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(b.stats().rx_no_sink, 1);
        let t = std::time::Instant::now();
        drop(b);
        drop(a);
        assert!(t.elapsed() < Duration::from_secs(1));
    }
}
