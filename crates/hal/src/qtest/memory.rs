//! [`GuestMemory`]: a [`DmaMemory`] over a window of the QEMU machine's RAM,
//! reached with qtest's `read`/`write` commands.
//!
//! The allocator keeps the live allocations and a free list of ranges
//! (first fit, neighbours merged on free). Addresses are reused after a
//! free, as they must be in a finite window; an access must still lie
//! inside one live allocation, as with [`HostMemory`](crate::HostMemory).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use super::QemuError;
use super::connection::{QtestConnection, lock};
use crate::{DmaBuffer, DmaError, DmaMemory};

/// Largest transfer per `read`/`write` command (QEMU scans its input
/// buffer for the newline from the start on every 1 KiB it receives, so
/// very long lines cost quadratic time there).
pub const CHUNK: usize = 16 * 1024;

struct Alloc {
    /// Live allocations: start -> length.
    live: BTreeMap<u64, u64>,
    /// Free ranges: start -> end (exclusive), never adjacent.
    free: BTreeMap<u64, u64>,
}

impl Alloc {
    /// Checks that `addr .. addr + len` lies inside one live allocation.
    fn check(&self, addr: u64, len: usize) -> Result<(), DmaError> {
        let fault = DmaError::OutOfRange { addr, len };
        let (&start, &size) = self.live.range(..=addr).next_back().ok_or(fault)?;
        let end = u64::try_from(len)
            .ok()
            .and_then(|l| addr.checked_add(l))
            .ok_or(fault)?;
        if end > start + size {
            return Err(fault);
        }
        Ok(())
    }

    fn take(&mut self, len: u64, align: u64) -> Option<u64> {
        let (start, end, addr) = self.free.iter().find_map(|(&start, &end)| {
            let addr = start.checked_next_multiple_of(align)?;
            (addr.checked_add(len)? <= end).then_some((start, end, addr))
        })?;
        self.free.remove(&start);
        if start < addr {
            self.free.insert(start, addr);
        }
        if addr + len < end {
            self.free.insert(addr + len, end);
        }
        self.live.insert(addr, len);
        Some(addr)
    }

    fn give_back(&mut self, addr: u64, len: u64) {
        let mut start = addr;
        let mut end = addr + len;
        if let Some((&s, &e)) = self.free.range(..addr).next_back()
            && e == addr
        {
            self.free.remove(&s);
            start = s;
        }
        if let Some(e) = self.free.remove(&end) {
            end = e;
        }
        self.free.insert(start, end);
    }
}

/// Guest RAM `start .. end` as DMA memory (see [`Qemu::memory`](super::Qemu::memory)
/// for the window a launched machine uses). Allocations are zeroed with
/// `write` commands.
///
/// A failure on the wire makes a [`DmaMemory`] call fail with
/// [`DmaError::OutOfRange`] (reads) or [`DmaError::NoSpace`] (allocation),
/// the trait having no other kinds; the cause is recorded on the connection
/// ([`QtestConnection::error`]), and [`GuestMemory::try_read`] and
/// [`GuestMemory::try_write`] return it directly.
pub struct GuestMemory {
    conn: Arc<QtestConnection>,
    start: u64,
    end: u64,
    state: Mutex<Alloc>,
}

impl fmt::Debug for GuestMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuestMemory")
            .field(
                "window",
                &format_args!("{:#x}..{:#x}", self.start, self.end),
            )
            .field("allocations", &self.allocations())
            .finish()
    }
}

impl GuestMemory {
    /// DMA memory in guest RAM `start .. end`, which nothing else in the
    /// machine may use. Fails if the window is empty or not below 4 GiB (the
    /// devices of interest take 32-bit addresses).
    pub fn new(conn: Arc<QtestConnection>, start: u64, end: u64) -> Result<Self, QemuError> {
        if start >= end || end > 1 << 32 {
            return Err(QemuError::Config(format!(
                "guest memory window {start:#x}..{end:#x} is empty or above 4 GiB"
            )));
        }
        Ok(GuestMemory {
            conn,
            start,
            end,
            state: Mutex::new(Alloc {
                live: BTreeMap::new(),
                free: BTreeMap::from([(start, end)]),
            }),
        })
    }

    /// The window: first address and end (exclusive).
    pub fn window(&self) -> (u64, u64) {
        (self.start, self.end)
    }

    /// Number of live allocations.
    pub fn allocations(&self) -> usize {
        lock(&self.state).live.len()
    }

    /// Like [`DmaMemory::read`], with the cause of a failure.
    pub fn try_read(&self, addr: u64, buf: &mut [u8]) -> Result<(), QemuError> {
        lock(&self.state)
            .check(addr, buf.len())
            .map_err(QemuError::Dma)?;
        if buf.is_empty() {
            return Ok(());
        }
        self.conn.read(addr, buf)
    }

    /// Like [`DmaMemory::write`], with the cause of a failure.
    pub fn try_write(&self, addr: u64, data: &[u8]) -> Result<(), QemuError> {
        lock(&self.state)
            .check(addr, data.len())
            .map_err(QemuError::Dma)?;
        if data.is_empty() {
            return Ok(());
        }
        self.conn.write(addr, data)
    }
}

fn dma_error(e: QemuError, addr: u64, len: usize) -> DmaError {
    match e {
        QemuError::Dma(d) => d,
        _ => DmaError::OutOfRange { addr, len },
    }
}

impl DmaMemory for GuestMemory {
    fn alloc(&self, len: usize, align: usize) -> Result<DmaBuffer, DmaError> {
        if len == 0 || !align.is_power_of_two() {
            return Err(DmaError::NoSpace);
        }
        let len64 = u64::try_from(len).map_err(|_| DmaError::NoSpace)?;
        let align64 = u64::try_from(align).map_err(|_| DmaError::NoSpace)?;
        let addr = lock(&self.state)
            .take(len64, align64)
            .ok_or(DmaError::NoSpace)?;
        // Zero it: the window held the firmware's scratch data during boot,
        // and freed buffers keep their contents.
        let zeros = vec![0u8; len.min(CHUNK)];
        let mut at = 0;
        while at < len {
            let n = (len - at).min(CHUNK);
            if self.conn.write(addr + at as u64, &zeros[..n]).is_err() {
                let mut st = lock(&self.state);
                st.live.remove(&addr);
                st.give_back(addr, len64);
                return Err(DmaError::NoSpace);
            }
            at += n;
        }
        Ok(DmaBuffer { addr, len })
    }

    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), DmaError> {
        let len = buf.len();
        self.try_read(addr, buf)
            .map_err(|e| dma_error(e, addr, len))
    }

    fn write(&self, addr: u64, data: &[u8]) -> Result<(), DmaError> {
        self.try_write(addr, data)
            .map_err(|e| dma_error(e, addr, data.len()))
    }

    fn free(&self, buffer: DmaBuffer) -> Result<(), DmaError> {
        let mut st = lock(&self.state);
        match st.live.get(&buffer.addr) {
            Some(&len) if u64::try_from(buffer.len) == Ok(len) => {
                st.live.remove(&buffer.addr);
                st.give_back(buffer.addr, len);
                Ok(())
            }
            _ => Err(DmaError::NotAllocated),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixStream;
    use std::time::Duration;

    /// A fake QEMU with 1 MiB of RAM at 0x100000 that answers `read` and
    /// `write` properly, except a `read` of `short_at`, which it answers
    /// with too few bytes.
    fn fake_ram(short_at: Option<u64>) -> Arc<QtestConnection> {
        let (ours, theirs) = UnixStream::pair().unwrap();
        std::thread::spawn(move || {
            let mut ram: HashMap<u64, u8> = HashMap::new();
            let mut w = theirs.try_clone().unwrap();
            for line in BufReader::new(theirs).lines() {
                let Ok(line) = line else { break };
                let words: Vec<&str> = line.split(' ').collect();
                let num = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
                let reply = match words[..] {
                    ["read", addr, len] => {
                        let (addr, len) = (num(addr), len.parse::<u64>().unwrap());
                        if Some(addr) == short_at {
                            "OK 0x00\n".to_owned()
                        } else {
                            let mut s = String::from("OK 0x");
                            for a in addr..addr + len {
                                s.push_str(&format!(
                                    "{:02x}",
                                    ram.get(&a).copied().unwrap_or(0xEE)
                                ));
                            }
                            s + "\n"
                        }
                    }
                    ["write", addr, len, data] => {
                        let (addr, len) = (num(addr), len.parse::<u64>().unwrap());
                        let data = data.trim_start_matches("0x").as_bytes();
                        for i in 0..len {
                            let i2 = 2 * i as usize;
                            let b = u8::from_str_radix(
                                std::str::from_utf8(&data[i2..i2 + 2]).unwrap(),
                                16,
                            )
                            .unwrap();
                            ram.insert(addr + i, b);
                        }
                        "OK\n".to_owned()
                    }
                    _ => "FAIL\n".to_owned(),
                };
                if w.write_all(reply.as_bytes()).is_err() {
                    break;
                }
            }
        });
        QtestConnection::new(ours, Duration::from_secs(2)).unwrap()
    }

    #[test]
    fn alloc_zeroes_and_round_trips() {
        let m = GuestMemory::new(fake_ram(None), 0x10_0000, 0x20_0000).unwrap();
        let b = m.alloc(40_000, 4096).unwrap();
        assert_eq!(b.addr % 4096, 0);
        let mut out = vec![0xAAu8; 40_000];
        m.read(b.addr, &mut out).unwrap();
        assert!(out.iter().all(|&x| x == 0), "zeroed across chunks");
        let data: Vec<u8> = (0..40_000u32).map(|i| (i * 7) as u8).collect();
        m.write(b.addr, &data).unwrap();
        m.read(b.addr, &mut out).unwrap();
        assert_eq!(out, data);
        assert!(m.read(b.addr + 39_999, &mut [0; 2]).is_err());
        assert!(m.write(b.addr - 1, &[0]).is_err());
        m.free(b).unwrap();
        assert_eq!(m.free(b), Err(DmaError::NotAllocated));
        assert!(m.read(b.addr, &mut [0; 1]).is_err());
    }

    #[test]
    fn free_list_reuses_and_merges() {
        let m = GuestMemory::new(fake_ram(None), 0x10_0000, 0x10_4000).unwrap();
        let a = m.alloc(0x1000, 1).unwrap();
        let b = m.alloc(0x1000, 1).unwrap();
        let c = m.alloc(0x2000, 1).unwrap();
        assert_eq!((a.addr, b.addr, c.addr), (0x10_0000, 0x10_1000, 0x10_2000));
        assert_eq!(m.alloc(1, 1), Err(DmaError::NoSpace));
        m.free(a).unwrap();
        m.free(c).unwrap();
        assert_eq!(m.alloc(0x3000, 1), Err(DmaError::NoSpace), "not contiguous");
        m.free(b).unwrap();
        let all = m.alloc(0x4000, 0x4000).unwrap();
        assert_eq!(all.addr, 0x10_0000);
        assert_eq!(lock(&m.state).free.len(), 0);
        m.free(all).unwrap();
        assert_eq!(lock(&m.state).free.len(), 1);
    }

    #[test]
    fn short_read_reply_is_an_error() {
        let conn = fake_ram(Some(0x10_0000));
        let m = GuestMemory::new(Arc::clone(&conn), 0x10_0000, 0x20_0000).unwrap();
        let b = m.alloc(16, 1).unwrap();
        let mut out = [0u8; 16];
        assert!(matches!(
            m.try_read(b.addr, &mut out),
            Err(QemuError::Protocol(_))
        ));
        assert_eq!(
            m.read(b.addr, &mut out),
            Err(DmaError::OutOfRange {
                addr: b.addr,
                len: 16
            })
        );
        assert!(matches!(conn.error(), Some(QemuError::Protocol(_))));
    }

    #[test]
    fn bad_requests_are_errors() {
        assert!(GuestMemory::new(fake_ram(None), 5, 5).is_err());
        let m = GuestMemory::new(fake_ram(None), 0x10_0000, 0x20_0000).unwrap();
        assert_eq!(m.alloc(0, 1), Err(DmaError::NoSpace));
        assert_eq!(m.alloc(1, 3), Err(DmaError::NoSpace));
        assert_eq!(m.alloc(usize::MAX, 1), Err(DmaError::NoSpace));
        assert_eq!(m.alloc(16, 1 << 40), Err(DmaError::NoSpace));
        assert!(m.read(u64::MAX, &mut [0; 2]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn allocator_never_overlaps(ops in proptest::collection::vec((0u8..3, 1u64..0x3000, 0u32..13), 0..60)) {
            let mut a = Alloc { live: BTreeMap::new(), free: BTreeMap::from([(0x1000u64, 0x11000u64)]) };
            let mut held: Vec<(u64, u64)> = Vec::new();
            for (op, len, align) in ops {
                if op < 2 {
                    if let Some(addr) = a.take(len, 1 << align) {
                        proptest::prop_assert_eq!(addr % (1 << align), 0);
                        proptest::prop_assert!(addr >= 0x1000 && addr + len <= 0x11000);
                        for &(s, l) in &held {
                            proptest::prop_assert!(addr + len <= s || s + l <= addr);
                        }
                        held.push((addr, len));
                    }
                } else if let Some((s, l)) = held.pop() {
                    a.live.remove(&s);
                    a.give_back(s, l);
                }
            }
            for (s, l) in held.drain(..) {
                a.live.remove(&s);
                a.give_back(s, l);
            }
            proptest::prop_assert_eq!(a.free.len(), 1);
        }
    }
}
