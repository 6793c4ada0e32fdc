//! The receive deframer against a reference packer: any list of frames,
//! packed the way the chip packs them and cut into transfers anywhere
//! (even inside a header), comes out whole and in order.

use asix::framing::{HEADER, RxDeframer, header};
use proptest::prelude::*;

fn pack(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut stream = Vec::new();
    for f in frames {
        stream.extend_from_slice(&header(f.len() as u16));
        stream.extend_from_slice(f);
        if f.len() % 2 == 1 {
            stream.push(0);
        }
    }
    stream
}

proptest! {
    #[test]
    fn frames_survive_any_split(
        lens in prop::collection::vec(1usize..=1514, 1..12),
        cuts in prop::collection::vec(1usize..2048, 0..20),
    ) {
        let frames: Vec<Vec<u8>> = lens
            .iter()
            .enumerate()
            .map(|(i, &n)| (0..n).map(|j| (i * 31 + j) as u8).collect())
            .collect();
        let stream = pack(&frames);
        let mut d = RxDeframer::new();
        let mut got = Vec::new();
        let mut rest = &stream[..];
        for c in cuts {
            let n = c.min(rest.len());
            d.push(&rest[..n], |f| got.push(f.to_vec())).unwrap();
            rest = &rest[n..];
        }
        d.push(rest, |f| got.push(f.to_vec())).unwrap();
        prop_assert_eq!(got, frames);
    }

    #[test]
    fn random_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..4096)) {
        let mut d = RxDeframer::new();
        let _ = d.push(&data, |f| assert!(f.len() <= 1518 && !f.is_empty()));
        let _ = HEADER;
    }
}
