//! pcap writer, reader and `Capture`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use netwire::FrameSink;
use netwire::pcap::{
    self, Capture, PcapError, PcapReader, PcapWriter, SharedBuffer, TimestampPrecision,
};
use proptest::prelude::*;

fn frame(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

#[test]
fn header_matches_libpcap_layout() {
    let w = PcapWriter::new(Vec::new(), TimestampPrecision::Micros).unwrap();
    let bytes = w.into_inner();
    // What libpcap's pcap_dump_open writes on a little-endian machine for
    // DLT_EN10MB with snaplen 262144.
    let expected: [u8; 24] = [
        0xd4, 0xc3, 0xb2, 0xa1, // magic 0xa1b2c3d4
        0x02, 0x00, 0x04, 0x00, // version 2.4
        0x00, 0x00, 0x00, 0x00, // thiszone
        0x00, 0x00, 0x00, 0x00, // sigfigs
        0x00, 0x00, 0x04, 0x00, // snaplen 262144
        0x01, 0x00, 0x00, 0x00, // LINKTYPE_ETHERNET
    ];
    assert_eq!(bytes, expected);

    let w = PcapWriter::new(Vec::new(), TimestampPrecision::Nanos).unwrap();
    let bytes = w.into_inner();
    assert_eq!(&bytes[..4], &[0x4d, 0x3c, 0xb2, 0xa1]);
    assert_eq!(&bytes[4..], &expected[4..]);
}

#[test]
fn record_layout_is_libpcaps() {
    let mut w = PcapWriter::new(Vec::new(), TimestampPrecision::Micros).unwrap();
    w.write_frame_at(Duration::new(0x0102_0304, 567_000_000), &[0xaa, 0xbb])
        .unwrap();
    let bytes = w.into_inner();
    assert_eq!(
        &bytes[24..],
        &[
            0x04, 0x03, 0x02, 0x01, // ts_sec
            0xd8, 0xa6, 0x08, 0x00, // ts_usec = 567000 = 0x0008a6d8
            0x02, 0x00, 0x00, 0x00, // incl_len
            0x02, 0x00, 0x00, 0x00, // orig_len
            0xaa, 0xbb,
        ]
    );
}

#[test]
fn write_then_read_back_byte_for_byte() {
    for precision in [TimestampPrecision::Micros, TimestampPrecision::Nanos] {
        let mut w = PcapWriter::new(Vec::new(), precision).unwrap();
        let mut written = Vec::new();
        for (i, len) in [60usize, 0, 1, 1514, 9000, 42].into_iter().enumerate() {
            let ts = Duration::new(
                1_700_000_000 + i as u64,
                123_456_789 * i as u32 % 1_000_000_000,
            );
            let f = frame(len, i as u8);
            w.write_frame_at(ts, &f).unwrap();
            written.push((ts, f));
        }
        let bytes = w.into_inner();
        let r = PcapReader::new(bytes.as_slice()).unwrap();
        assert_eq!(r.precision(), precision);
        assert!(!r.is_big_endian());
        let packets = r.read_all().unwrap();
        assert_eq!(packets.len(), written.len());
        for (p, (ts, f)) in packets.iter().zip(&written) {
            assert_eq!(&p.data, f);
            assert_eq!(p.orig_len as usize, f.len());
            let expect_ts = match precision {
                TimestampPrecision::Micros => {
                    Duration::new(ts.as_secs(), ts.subsec_micros() * 1000)
                }
                TimestampPrecision::Nanos => *ts,
            };
            assert_eq!(p.timestamp, expect_ts);
        }
        // Writing the packets again gives the same file, byte for byte.
        let mut again = PcapWriter::new(Vec::new(), precision).unwrap();
        for p in &packets {
            again.write_frame_at(p.timestamp, &p.data).unwrap();
        }
        assert_eq!(again.into_inner(), bytes);
    }
}

#[test]
fn reads_big_endian_files() {
    let mut b = Vec::new();
    b.extend_from_slice(&0xa1b2_c3d4u32.to_be_bytes());
    b.extend_from_slice(&2u16.to_be_bytes());
    b.extend_from_slice(&4u16.to_be_bytes());
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&65535u32.to_be_bytes());
    b.extend_from_slice(&1u32.to_be_bytes());
    b.extend_from_slice(&5u32.to_be_bytes());
    b.extend_from_slice(&7u32.to_be_bytes());
    b.extend_from_slice(&3u32.to_be_bytes());
    b.extend_from_slice(&3u32.to_be_bytes());
    b.extend_from_slice(&[1, 2, 3]);
    let r = PcapReader::new(b.as_slice()).unwrap();
    assert!(r.is_big_endian());
    assert_eq!(r.snaplen(), 65535);
    let p = r.read_all().unwrap();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].data, [1, 2, 3]);
    assert_eq!(p[0].timestamp, Duration::new(5, 7_000));
}

fn one_record_file() -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), TimestampPrecision::Micros).unwrap();
    w.write_frame_at(Duration::new(1, 2), &frame(100, 9))
        .unwrap();
    w.into_inner()
}

#[test]
fn errors_are_specific() {
    let good = one_record_file();
    assert!(matches!(
        pcap::parse(&[]),
        Err(PcapError::TruncatedFileHeader { got: 0 })
    ));
    assert!(matches!(
        pcap::parse(&good[..10]),
        Err(PcapError::TruncatedFileHeader { got: 10 })
    ));
    assert!(matches!(
        pcap::parse(b"GIF89a garbage garbage garbage"),
        Err(PcapError::BadMagic(_))
    ));
    assert!(matches!(
        pcap::parse(&good[..24 + 5]),
        Err(PcapError::TruncatedRecordHeader { index: 0, got: 5 })
    ));
    assert!(matches!(
        pcap::parse(&good[..24 + 16 + 50]),
        Err(PcapError::TruncatedRecordData {
            index: 0,
            expected: 100,
            got: 50
        })
    ));
    let mut wrong_link = good.clone();
    wrong_link[20] = 101;
    assert!(matches!(
        pcap::parse(&wrong_link),
        Err(PcapError::UnsupportedLinkType(101))
    ));
    let mut wrong_version = good.clone();
    wrong_version[4] = 1;
    assert!(matches!(
        pcap::parse(&wrong_version),
        Err(PcapError::UnsupportedVersion { major: 1, minor: 4 })
    ));
    let mut huge = good.clone();
    huge[24 + 8..24 + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        pcap::parse(&huge),
        Err(PcapError::RecordTooLong { .. })
    ));
    let mut bad_ts = good.clone();
    bad_ts[24 + 4..24 + 8].copy_from_slice(&1_000_000u32.to_le_bytes());
    assert!(matches!(
        pcap::parse(&bad_ts),
        Err(PcapError::BadTimestamp { .. })
    ));
    // Messages say what is wrong.
    let msg = pcap::parse(&good[..24 + 16 + 50]).unwrap_err().to_string();
    assert!(msg.contains("truncated data: 50 of 100"), "{msg}");
    let io: std::io::Error = pcap::parse(&good[..3]).unwrap_err().into();
    assert_eq!(io.kind(), std::io::ErrorKind::InvalidData);
}

#[test]
fn reader_stops_after_error() {
    let good = one_record_file();
    let mut doubled = good.clone();
    doubled.extend_from_slice(&good[24..24 + 20]);
    let mut r = PcapReader::new(doubled.as_slice()).unwrap();
    assert!(r.next_packet().unwrap().is_some());
    assert!(r.next_packet().is_err());
    assert!(r.next_packet().unwrap().is_none());
}

#[derive(Default)]
struct Collect(Mutex<Vec<Vec<u8>>>);

impl FrameSink for Collect {
    fn send_frame(&self, frame: &[u8]) {
        self.0.lock().unwrap().push(frame.to_vec());
    }
}

#[test]
fn capture_records_and_forwards() {
    let inner = Arc::new(Collect::default());
    let (cap, buf) = Capture::in_memory(inner.clone());
    let frames: Vec<Vec<u8>> = (0..20).map(|i| frame(60 + i * 70, i as u8)).collect();
    for f in &frames {
        cap.send_frame(f);
    }
    assert_eq!(cap.frames_recorded(), 20);
    assert_eq!(*inner.0.lock().unwrap(), frames);
    let packets = buf.packets().unwrap();
    let data: Vec<Vec<u8>> = packets.into_iter().map(|p| p.data).collect();
    assert_eq!(data, frames);
    assert!(cap.take_error().is_none());
}

#[test]
fn capture_to_a_writer() {
    let inner = Arc::new(Collect::default());
    let buf = SharedBuffer::new();
    let cap =
        Capture::with_precision(inner.clone(), buf.clone(), TimestampPrecision::Nanos).unwrap();
    cap.send_frame(&[1, 2, 3]);
    drop(cap);
    let r = PcapReader::new(std::io::Cursor::new(buf.contents())).unwrap();
    assert_eq!(r.precision(), TimestampPrecision::Nanos);
    assert_eq!(r.read_all().unwrap()[0].data, [1, 2, 3]);
}

struct FailingWriter;

impl std::io::Write for FailingWriter {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("disk full"))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn capture_write_error_still_forwards() {
    let inner = Arc::new(Collect::default());
    assert!(Capture::new(inner.clone(), FailingWriter).is_err());
    // A writer that fails after the header.
    struct AfterHeader(usize);
    impl std::io::Write for AfterHeader {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            if self.0 >= 24 {
                return Err(std::io::Error::other("disk full"));
            }
            self.0 += b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let cap = Capture::new(inner.clone(), AfterHeader(0)).unwrap();
    cap.send_frame(&[1]);
    cap.send_frame(&[2]);
    assert_eq!(inner.0.lock().unwrap().len(), 2);
    assert_eq!(cap.frames_recorded(), 0);
    assert!(cap.take_error().unwrap().to_string().contains("disk full"));
}

proptest! {
    #[test]
    fn roundtrip_any_frames(
        frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..2000), 0..20),
        nanos in any::<bool>(),
    ) {
        let precision = if nanos { TimestampPrecision::Nanos } else { TimestampPrecision::Micros };
        let mut w = PcapWriter::new(Vec::new(), precision).unwrap();
        for (i, f) in frames.iter().enumerate() {
            w.write_frame_at(Duration::new(i as u64, 1000 * i as u32), f).unwrap();
        }
        let packets = pcap::parse(&w.into_inner()).unwrap();
        prop_assert_eq!(packets.len(), frames.len());
        for (p, f) in packets.iter().zip(&frames) {
            prop_assert_eq!(&p.data, f);
        }
    }

    /// Every strict prefix of a valid file that cuts a record is an error,
    /// never a panic; prefixes at record boundaries parse.
    #[test]
    fn truncation_is_an_error(
        frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut w = PcapWriter::new(Vec::new(), TimestampPrecision::Micros).unwrap();
        let mut boundaries = vec![24usize];
        for f in &frames {
            w.write_frame_at(Duration::from_secs(1), f).unwrap();
            boundaries.push(boundaries.last().unwrap() + 16 + f.len());
        }
        let bytes = w.into_inner();
        let cut = cut.index(bytes.len());
        let result = pcap::parse(&bytes[..cut]);
        if let Some(n) = boundaries.iter().position(|&b| b == cut) {
            prop_assert_eq!(result.unwrap().len(), n);
        } else {
            prop_assert!(result.is_err(), "cut at {} parsed", cut);
        }
    }

    /// Garbage never panics the reader, whatever header it starts with.
    #[test]
    fn garbage_never_panics(
        valid_header in any::<bool>(),
        tail in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let mut bytes = if valid_header {
            pcap::file_header(TimestampPrecision::Micros).to_vec()
        } else {
            Vec::new()
        };
        bytes.extend_from_slice(&tail);
        if let Ok(r) = PcapReader::new(bytes.as_slice()) {
            for p in r.take(1000) {
                if p.is_err() { break; }
            }
        }
    }
}
