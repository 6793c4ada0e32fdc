//! Classic libpcap capture files (LINKTYPE_ETHERNET).
//!
//! The format, as libpcap writes it (all fields in the writer's byte order;
//! this writer always uses little-endian, the reader accepts both):
//!
//! ```text
//! global header, 24 bytes:
//!   u32 magic      0xa1b2c3d4 (µs timestamps) or 0xa1b23c4d (ns timestamps)
//!   u16 major = 2, u16 minor = 4
//!   i32 thiszone = 0, u32 sigfigs = 0
//!   u32 snaplen    largest record payload kept
//!   u32 linktype   1 = LINKTYPE_ETHERNET
//! per record, 16 bytes + payload:
//!   u32 ts_sec, u32 ts_frac (µs or ns), u32 incl_len, u32 orig_len, incl_len bytes
//! ```
//!
//! [`PcapWriter`] writes to any [`io::Write`]; [`PcapReader`] reads back and
//! reports truncated or garbage input as a [`PcapError`], never panicking.
//! [`Capture`] is a [`FrameSink`] that records every frame it forwards.

use std::fmt;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::FrameSink;

/// Magic number of a file with microsecond timestamps.
pub const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
/// Magic number of a file with nanosecond timestamps.
pub const MAGIC_NANOS: u32 = 0xa1b2_3c4d;
/// LINKTYPE_ETHERNET: IEEE 802.3 frames without FCS.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Snapshot length the writer declares: libpcap's maximum (262144 bytes).
/// Longer frames are truncated in the file (their `orig_len` is kept).
pub const SNAPLEN: u32 = 262_144;
/// Length of the global file header.
pub const FILE_HEADER_LEN: usize = 24;
/// Length of each record header.
pub const RECORD_HEADER_LEN: usize = 16;

/// Resolution of record timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimestampPrecision {
    /// Microseconds (magic `0xa1b2c3d4`), what most tools write.
    #[default]
    Micros,
    /// Nanoseconds (magic `0xa1b23c4d`).
    Nanos,
}

impl TimestampPrecision {
    fn magic(self) -> u32 {
        match self {
            TimestampPrecision::Micros => MAGIC_MICROS,
            TimestampPrecision::Nanos => MAGIC_NANOS,
        }
    }

    fn frac_limit(self) -> u32 {
        match self {
            TimestampPrecision::Micros => 1_000_000,
            TimestampPrecision::Nanos => 1_000_000_000,
        }
    }
}

/// Why a pcap stream could not be read.
#[derive(Debug)]
pub enum PcapError {
    /// The underlying reader failed.
    Io(io::Error),
    /// The stream ended inside the 24-byte file header.
    TruncatedFileHeader {
        /// Bytes that were present.
        got: usize,
    },
    /// The first four bytes are not a classic pcap magic number.
    BadMagic(u32),
    /// The format version is not 2.x.
    UnsupportedVersion {
        /// Major version found.
        major: u16,
        /// Minor version found.
        minor: u16,
    },
    /// The link type is not LINKTYPE_ETHERNET.
    UnsupportedLinkType(u32),
    /// The stream ended inside a 16-byte record header.
    TruncatedRecordHeader {
        /// Index of the record (0-based).
        index: u64,
        /// Bytes of the header that were present.
        got: usize,
    },
    /// The stream ended inside a record's payload.
    TruncatedRecordData {
        /// Index of the record (0-based).
        index: u64,
        /// Payload length the header declared.
        expected: usize,
        /// Bytes that were present.
        got: usize,
    },
    /// A record declares a payload longer than any valid capture holds.
    RecordTooLong {
        /// Index of the record (0-based).
        index: u64,
        /// Declared payload length.
        incl_len: u32,
        /// The largest accepted length.
        max: u32,
    },
    /// A record's sub-second timestamp field is out of range.
    BadTimestamp {
        /// Index of the record (0-based).
        index: u64,
        /// The fraction found (µs or ns).
        fraction: u32,
    },
}

impl fmt::Display for PcapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PcapError::Io(e) => write!(f, "pcap: I/O error: {e}"),
            PcapError::TruncatedFileHeader { got } => write!(
                f,
                "pcap: truncated file header: {got} of {FILE_HEADER_LEN} bytes"
            ),
            PcapError::BadMagic(m) => write!(
                f,
                "pcap: bad magic number {m:#010x} (not a classic pcap file)"
            ),
            PcapError::UnsupportedVersion { major, minor } => {
                write!(f, "pcap: unsupported format version {major}.{minor}")
            }
            PcapError::UnsupportedLinkType(t) => write!(
                f,
                "pcap: unsupported link type {t} (only {LINKTYPE_ETHERNET}, Ethernet)"
            ),
            PcapError::TruncatedRecordHeader { index, got } => write!(
                f,
                "pcap: record {index}: truncated record header: {got} of {RECORD_HEADER_LEN} bytes"
            ),
            PcapError::TruncatedRecordData {
                index,
                expected,
                got,
            } => write!(
                f,
                "pcap: record {index}: truncated data: {got} of {expected} bytes"
            ),
            PcapError::RecordTooLong {
                index,
                incl_len,
                max,
            } => write!(
                f,
                "pcap: record {index}: captured length {incl_len} exceeds the maximum {max}"
            ),
            PcapError::BadTimestamp { index, fraction } => write!(
                f,
                "pcap: record {index}: sub-second timestamp {fraction} out of range"
            ),
        }
    }
}

impl std::error::Error for PcapError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PcapError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<PcapError> for io::Error {
    fn from(e: PcapError) -> io::Error {
        match e {
            PcapError::Io(e) => e,
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}

/// One captured frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Capture time since the Unix epoch.
    pub timestamp: Duration,
    /// Length of the frame on the wire (may exceed `data.len()` if it was
    /// truncated to the snapshot length).
    pub orig_len: u32,
    /// The captured bytes.
    pub data: Vec<u8>,
}

/// Writes a classic pcap stream (little-endian, LINKTYPE_ETHERNET).
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    precision: TimestampPrecision,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header and returns a writer for records.
    pub fn new(mut out: W, precision: TimestampPrecision) -> io::Result<Self> {
        out.write_all(&file_header(precision))?;
        Ok(PcapWriter { out, precision })
    }

    /// The timestamp precision this stream declares.
    pub fn precision(&self) -> TimestampPrecision {
        self.precision
    }

    /// Appends a frame stamped with the current wall-clock time.
    pub fn write_frame(&mut self, frame: &[u8]) -> io::Result<()> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        self.write_frame_at(now, frame)
    }

    /// Appends a frame with the given timestamp (since the Unix epoch).
    /// Fails with `InvalidInput` if the seconds do not fit the format's
    /// 32 bits (after the year 2106).
    pub fn write_frame_at(&mut self, timestamp: Duration, frame: &[u8]) -> io::Result<()> {
        let record = record_bytes(self.precision, timestamp, frame)?;
        self.out.write_all(&record)
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// Returns the underlying writer (not flushed).
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// The 24-byte global header this crate writes.
pub fn file_header(precision: TimestampPrecision) -> [u8; FILE_HEADER_LEN] {
    let mut h = [0u8; FILE_HEADER_LEN];
    h[0..4].copy_from_slice(&precision.magic().to_le_bytes());
    h[4..6].copy_from_slice(&2u16.to_le_bytes());
    h[6..8].copy_from_slice(&4u16.to_le_bytes());
    // thiszone (8..12) and sigfigs (12..16) stay zero.
    h[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
    h[20..24].copy_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    h
}

/// One record (header and payload) in one buffer, so it is written with a
/// single `write_all` and a failed write never leaves half a header behind
/// in a buffered writer.
fn record_bytes(
    precision: TimestampPrecision,
    timestamp: Duration,
    frame: &[u8],
) -> io::Result<Vec<u8>> {
    let secs = u32::try_from(timestamp.as_secs()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "pcap: timestamp does not fit 32-bit seconds",
        )
    })?;
    let frac = match precision {
        TimestampPrecision::Micros => timestamp.subsec_micros(),
        TimestampPrecision::Nanos => timestamp.subsec_nanos(),
    };
    let orig_len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
    let incl = frame.len().min(SNAPLEN as usize);
    let mut rec = Vec::with_capacity(RECORD_HEADER_LEN + incl);
    rec.extend_from_slice(&secs.to_le_bytes());
    rec.extend_from_slice(&frac.to_le_bytes());
    rec.extend_from_slice(&(incl as u32).to_le_bytes());
    rec.extend_from_slice(&orig_len.to_le_bytes());
    rec.extend_from_slice(&frame[..incl]);
    Ok(rec)
}

/// Reads a classic pcap stream of Ethernet frames.
#[derive(Debug)]
pub struct PcapReader<R: Read> {
    input: R,
    precision: TimestampPrecision,
    big_endian: bool,
    snaplen: u32,
    index: u64,
    failed: bool,
}

impl<R: Read> PcapReader<R> {
    /// Reads and checks the file header.
    pub fn new(mut input: R) -> Result<Self, PcapError> {
        let mut h = [0u8; FILE_HEADER_LEN];
        let got = read_full(&mut input, &mut h)?;
        if got < FILE_HEADER_LEN {
            // A stream too short to hold a header may still say it is no pcap.
            if got >= 4 {
                let m = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
                if magic_kind(m).is_none() {
                    return Err(PcapError::BadMagic(m));
                }
            }
            return Err(PcapError::TruncatedFileHeader { got });
        }
        let m = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let (precision, big_endian) = magic_kind(m).ok_or(PcapError::BadMagic(m))?;
        let u16_at = |i: usize| {
            let b = [h[i], h[i + 1]];
            if big_endian {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            }
        };
        let u32_at = |i: usize| {
            let b = [h[i], h[i + 1], h[i + 2], h[i + 3]];
            if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let (major, minor) = (u16_at(4), u16_at(6));
        if major != 2 {
            return Err(PcapError::UnsupportedVersion { major, minor });
        }
        let linktype = u32_at(20);
        // The upper bits may carry FCS information; the link type is the low 16.
        if linktype & 0xffff != LINKTYPE_ETHERNET {
            return Err(PcapError::UnsupportedLinkType(linktype));
        }
        Ok(PcapReader {
            input,
            precision,
            big_endian,
            snaplen: u32_at(16),
            index: 0,
            failed: false,
        })
    }

    /// The timestamp precision the file declares.
    pub fn precision(&self) -> TimestampPrecision {
        self.precision
    }

    /// Whether the file was written big-endian.
    pub fn is_big_endian(&self) -> bool {
        self.big_endian
    }

    /// The snapshot length the file declares.
    pub fn snaplen(&self) -> u32 {
        self.snaplen
    }

    /// The next record, `Ok(None)` at a clean end of stream. After an error
    /// the reader stays failed and returns `Ok(None)`.
    pub fn next_packet(&mut self) -> Result<Option<Packet>, PcapError> {
        if self.failed {
            return Ok(None);
        }
        let r = self.read_record();
        if r.is_err() {
            self.failed = true;
        }
        r
    }

    fn read_record(&mut self) -> Result<Option<Packet>, PcapError> {
        let index = self.index;
        let mut h = [0u8; RECORD_HEADER_LEN];
        let got = read_full(&mut self.input, &mut h)?;
        if got == 0 {
            return Ok(None);
        }
        if got < RECORD_HEADER_LEN {
            return Err(PcapError::TruncatedRecordHeader { index, got });
        }
        let be = self.big_endian;
        let u32_at = |i: usize| {
            let b = [h[i], h[i + 1], h[i + 2], h[i + 3]];
            if be {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let (secs, fraction, incl_len, orig_len) = (u32_at(0), u32_at(4), u32_at(8), u32_at(12));
        if fraction >= self.precision.frac_limit() {
            return Err(PcapError::BadTimestamp { index, fraction });
        }
        if incl_len > SNAPLEN {
            return Err(PcapError::RecordTooLong {
                index,
                incl_len,
                max: SNAPLEN,
            });
        }
        let expected = incl_len as usize;
        let mut data = vec![0u8; expected];
        let got = read_full(&mut self.input, &mut data)?;
        if got < expected {
            return Err(PcapError::TruncatedRecordData {
                index,
                expected,
                got,
            });
        }
        let nanos = match self.precision {
            TimestampPrecision::Micros => fraction * 1_000,
            TimestampPrecision::Nanos => fraction,
        };
        self.index += 1;
        Ok(Some(Packet {
            timestamp: Duration::new(u64::from(secs), nanos),
            orig_len,
            data,
        }))
    }

    /// Reads every remaining record.
    pub fn read_all(mut self) -> Result<Vec<Packet>, PcapError> {
        let mut out = Vec::new();
        while let Some(p) = self.next_packet()? {
            out.push(p);
        }
        Ok(out)
    }
}

impl<R: Read> Iterator for PcapReader<R> {
    type Item = Result<Packet, PcapError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_packet().transpose()
    }
}

/// Parses a whole in-memory pcap stream.
pub fn parse(bytes: &[u8]) -> Result<Vec<Packet>, PcapError> {
    PcapReader::new(bytes)?.read_all()
}

fn magic_kind(m: u32) -> Option<(TimestampPrecision, bool)> {
    match m {
        MAGIC_MICROS => Some((TimestampPrecision::Micros, false)),
        MAGIC_NANOS => Some((TimestampPrecision::Nanos, false)),
        x if x == MAGIC_MICROS.swap_bytes() => Some((TimestampPrecision::Micros, true)),
        x if x == MAGIC_NANOS.swap_bytes() => Some((TimestampPrecision::Nanos, true)),
        _ => None,
    }
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<usize, PcapError> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(PcapError::Io(e)),
        }
    }
    Ok(got)
}

/// A growable in-memory buffer shared between a [`Capture`] and the code
/// that inspects what was captured.
#[derive(Debug, Clone, Default)]
pub struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of the bytes written so far.
    pub fn contents(&self) -> Vec<u8> {
        lock(&self.0).clone()
    }

    /// Parses what was written so far as a pcap stream.
    pub fn packets(&self) -> Result<Vec<Packet>, PcapError> {
        parse(&lock(&self.0))
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        lock(&self.0).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct CaptureState {
    writer: Option<PcapWriter<Box<dyn Write + Send>>>,
    error: Option<io::Error>,
}

/// A [`FrameSink`] that records every frame into a pcap stream and then
/// forwards it, unchanged, to an inner sink.
///
/// A write error does not stop forwarding: the first error is kept (see
/// [`Capture::take_error`]) and recording stops.
pub struct Capture {
    inner: Arc<dyn FrameSink>,
    state: Mutex<CaptureState>,
    recorded: AtomicU64,
}

impl fmt::Debug for Capture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Capture")
            .field("recorded", &self.frames_recorded())
            .finish_non_exhaustive()
    }
}

impl Capture {
    /// Records into `writer` (µs timestamps) and forwards to `inner`. Writes
    /// the pcap file header immediately. Wrap files in a `BufWriter`; it is
    /// flushed by [`Capture::flush`] and on drop.
    pub fn new<W: Write + Send + 'static>(
        inner: Arc<dyn FrameSink>,
        writer: W,
    ) -> io::Result<Self> {
        Self::with_precision(inner, writer, TimestampPrecision::Micros)
    }

    /// Like [`Capture::new`] with a chosen timestamp precision.
    pub fn with_precision<W: Write + Send + 'static>(
        inner: Arc<dyn FrameSink>,
        writer: W,
        precision: TimestampPrecision,
    ) -> io::Result<Self> {
        let writer = PcapWriter::new(Box::new(writer) as Box<dyn Write + Send>, precision)?;
        Ok(Capture {
            inner,
            state: Mutex::new(CaptureState {
                writer: Some(writer),
                error: None,
            }),
            recorded: AtomicU64::new(0),
        })
    }

    /// Records into memory; the returned buffer shows what was captured.
    pub fn in_memory(inner: Arc<dyn FrameSink>) -> (Self, SharedBuffer) {
        let buf = SharedBuffer::new();
        let writer = PcapWriter {
            out: Box::new(buf.clone()) as Box<dyn Write + Send>,
            precision: TimestampPrecision::Micros,
        };
        // Writing the header to memory cannot fail.
        let mut header_sink = buf.clone();
        let _ = header_sink.write_all(&file_header(TimestampPrecision::Micros));
        let capture = Capture {
            inner,
            state: Mutex::new(CaptureState {
                writer: Some(writer),
                error: None,
            }),
            recorded: AtomicU64::new(0),
        };
        (capture, buf)
    }

    /// Frames recorded so far.
    pub fn frames_recorded(&self) -> u64 {
        self.recorded.load(Ordering::Relaxed)
    }

    /// Flushes the underlying writer.
    pub fn flush(&self) -> io::Result<()> {
        match lock(&self.state).writer.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }

    /// The first write error, if recording failed (clears it).
    pub fn take_error(&self) -> Option<io::Error> {
        lock(&self.state).error.take()
    }
}

impl FrameSink for Capture {
    fn send_frame(&self, frame: &[u8]) {
        {
            let mut st = lock(&self.state);
            if let Some(w) = st.writer.as_mut() {
                match w.write_frame(frame) {
                    Ok(()) => {
                        self.recorded.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        st.writer = None;
                        st.error = Some(e);
                    }
                }
            }
        }
        // Forward without holding the lock: the inner sink may block
        // (back-pressure) or call back into another capture.
        self.inner.send_frame(frame);
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_layout() {
        let r = record_bytes(
            TimestampPrecision::Nanos,
            Duration::new(7, 123_456_789),
            &[1, 2, 3],
        )
        .unwrap();
        assert_eq!(
            r,
            [
                7, 0, 0, 0, 0x15, 0xcd, 0x5b, 0x07, 3, 0, 0, 0, 3, 0, 0, 0, 1, 2, 3
            ]
        );
    }

    #[test]
    fn timestamp_overflow_is_an_error() {
        let e = record_bytes(
            TimestampPrecision::Micros,
            Duration::from_secs(1 << 33),
            &[0],
        )
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}
