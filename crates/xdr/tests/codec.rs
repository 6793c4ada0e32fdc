//! The codec on the built-in types: round trips (property tests), the
//! exact wire bytes of RFC 4506, and every decoding error.

use proptest::prelude::*;
use xdr::{Decoder, Encoder, Error, Xdr};

fn round_trip<T: Xdr + PartialEq + std::fmt::Debug>(v: &T) -> Vec<u8> {
    let bytes = v.to_bytes().unwrap();
    assert_eq!(bytes.len() % 4, 0);
    assert!(
        bytes.len() >= T::MIN_SIZE,
        "{} < MIN_SIZE {}",
        bytes.len(),
        T::MIN_SIZE
    );
    assert_eq!(&T::from_bytes(&bytes).unwrap(), v);
    bytes
}

proptest! {
    #[test]
    fn scalars_round_trip(i in any::<i32>(), u in any::<u32>(), h in any::<i64>(), uh in any::<u64>(), b in any::<bool>()) {
        prop_assert_eq!(round_trip(&i), i.to_be_bytes().to_vec());
        prop_assert_eq!(round_trip(&u), u.to_be_bytes().to_vec());
        prop_assert_eq!(round_trip(&h), h.to_be_bytes().to_vec());
        prop_assert_eq!(round_trip(&uh), uh.to_be_bytes().to_vec());
        prop_assert_eq!(round_trip(&b), u32::from(b).to_be_bytes().to_vec());
    }

    #[test]
    fn floats_round_trip_bit_for_bit(f in any::<u32>(), d in any::<u64>()) {
        let (f, d) = (f32::from_bits(f), f64::from_bits(d));
        let fb = f.to_bytes().unwrap();
        prop_assert_eq!(f32::from_bytes(&fb).unwrap().to_bits(), f.to_bits());
        let db = d.to_bytes().unwrap();
        prop_assert_eq!(f64::from_bytes(&db).unwrap().to_bits(), d.to_bits());
    }

    #[test]
    fn opaque_and_strings_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..40), s in "\\PC{0,20}") {
        let enc = round_trip(&bytes);
        prop_assert_eq!(enc.len(), 4 + bytes.len().div_ceil(4) * 4);
        round_trip(&s);
        let fixed: [u8; 5] = [1, 2, 3, 4, 5];
        prop_assert_eq!(round_trip(&fixed), vec![1, 2, 3, 4, 5, 0, 0, 0]);
    }

    #[test]
    fn containers_round_trip(
        ints in proptest::collection::vec(any::<i32>(), 0..10),
        nested in proptest::collection::vec(proptest::collection::vec(any::<u64>(), 0..4), 0..4),
        opt in proptest::option::of(any::<i64>()),
        strings in proptest::collection::vec("[a-z]{0,9}", 0..5),
        arr in any::<[i32; 3]>(),
        opaques in any::<[[u8; 3]; 2]>(),
    ) {
        round_trip(&ints);
        round_trip(&nested);
        round_trip(&opt);
        round_trip(&strings);
        round_trip(&arr);
        round_trip(&opaques);
        round_trip(&Some(Box::new(Some(ints.clone()))));
        round_trip(&());
    }

    #[test]
    fn bounded_writes_respect_their_maximum(bytes in proptest::collection::vec(any::<u8>(), 0..20), max in 0u32..20) {
        let mut e = Encoder::new();
        let r = e.write_opaque(&bytes, max);
        if bytes.len() as u32 <= max {
            prop_assert!(r.is_ok());
            let out = e.finish();
            let mut d = Decoder::new(&out);
            prop_assert_eq!(d.read_opaque(max).unwrap(), bytes);
        } else {
            prop_assert_eq!(r, Err(Error::TooLong { offset: 0, length: bytes.len() as u64, max: u64::from(max) }));
        }
    }
}

#[test]
fn wire_bytes_follow_rfc_4506() {
    assert_eq!((-2_i32).to_bytes().unwrap(), [0xff, 0xff, 0xff, 0xfe]);
    assert_eq!(1.0_f32.to_bytes().unwrap(), [0x3f, 0x80, 0, 0]);
    assert_eq!(
        "abcde".to_string().to_bytes().unwrap(),
        [0, 0, 0, 5, b'a', b'b', b'c', b'd', b'e', 0, 0, 0]
    );
    assert_eq!(
        vec![1_u32, 2].to_bytes().unwrap(),
        [0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2]
    );
    assert_eq!(Some(3_i32).to_bytes().unwrap(), [0, 0, 0, 1, 0, 0, 0, 3]);
    assert_eq!(None::<i32>.to_bytes().unwrap(), [0, 0, 0, 0]);
    assert_eq!(().to_bytes().unwrap(), [0u8; 0]);
    assert_eq!([7_u8].to_bytes().unwrap(), [7, 0, 0, 0]);
    assert_eq!(<[u8; 4] as Xdr>::MIN_SIZE, 4);
    assert_eq!(<[u8; 5] as Xdr>::MIN_SIZE, 8);
    assert_eq!(<[i64; 3] as Xdr>::MIN_SIZE, 24);
}

#[test]
fn decoding_errors_say_what_and_where() {
    assert_eq!(
        i32::from_bytes(&[0, 0, 1]),
        Err(Error::Truncated {
            offset: 0,
            needed: 4,
            available: 3
        })
    );
    assert_eq!(
        bool::from_bytes(&[0, 0, 0, 2]),
        Err(Error::BadBool {
            offset: 0,
            value: 2
        })
    );
    assert_eq!(
        <[u8; 1]>::from_bytes(&[9, 0, 1, 0]),
        Err(Error::NonZeroPadding { offset: 2 })
    );
    assert_eq!(
        String::from_bytes(&[0, 0, 0, 2, 0xc3, 0x28, 0, 0]),
        Err(Error::InvalidUtf8 { offset: 4 })
    );
    assert_eq!(
        u32::from_bytes(&[0, 0, 0, 1, 0]),
        Err(Error::TrailingBytes {
            offset: 4,
            remaining: 1
        })
    );
    let mut d = Decoder::new(&[0, 0, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0, 0]);
    assert_eq!(
        d.read_opaque(8),
        Err(Error::TooLong {
            offset: 0,
            length: 9,
            max: 8
        })
    );
    let mut d = Decoder::new(&[0, 0, 0, 2, 0, 0, 0, 1]);
    assert_eq!(
        d.read_array::<i32>(10),
        Err(Error::Truncated {
            offset: 4,
            needed: 8,
            available: 4
        })
    );
    // Padding that runs past the end is truncation, not a short read.
    assert_eq!(
        Vec::<u8>::from_bytes(&[0, 0, 0, 1, 7]),
        Err(Error::Truncated {
            offset: 4,
            needed: 4,
            available: 1
        })
    );
    assert_eq!(
        Option::<i32>::from_bytes(&[0, 0, 0, 3]),
        Err(Error::BadBool {
            offset: 0,
            value: 3
        })
    );
    for e in [
        Error::TooDeep {
            offset: 8,
            max_depth: 2,
        },
        Error::BadFieldMask {
            type_name: "s",
            mask: 8,
            fields: 3,
        },
    ] {
        assert!(!e.to_string().is_empty());
    }
    assert_eq!(
        Error::NonZeroPadding { offset: 2 }.to_string(),
        "nonzero padding byte at 2"
    );
}

#[test]
fn huge_declared_lengths_are_refused_before_allocating() {
    // 2^32 - 1 elements declared, 4 bytes present.
    let bytes = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];
    assert!(matches!(
        Vec::<u64>::from_bytes(&bytes),
        Err(Error::Truncated { offset: 4, .. })
    ));
    assert!(matches!(
        Vec::<u8>::from_bytes(&bytes),
        Err(Error::Truncated { offset: 4, .. })
    ));
    assert!(matches!(
        String::from_bytes(&bytes),
        Err(Error::Truncated { offset: 4, .. })
    ));
    // A fixed array far bigger than the input.
    assert!(matches!(
        <[u32; 10_000]>::from_bytes(&bytes),
        Err(Error::Truncated { offset: 0, .. })
    ));
}

#[test]
fn nesting_is_bounded() {
    // Option<Option<...>> 300 deep is "1, 1, 1, ...": too deep by default.
    type Deep = Option<Box<Chain>>;
    #[derive(Debug, PartialEq)]
    struct Chain(Deep);
    impl Xdr for Chain {
        const MIN_SIZE: usize = 4;
        fn encode(&self, e: &mut Encoder) -> Result<(), Error> {
            self.0.encode(e)
        }
        fn decode(d: &mut Decoder<'_>) -> Result<Self, Error> {
            Deep::decode(d).map(Chain)
        }
    }
    let mut bytes = [0, 0, 0, 1].repeat(300);
    bytes.extend_from_slice(&[0, 0, 0, 0]);
    assert_eq!(
        Chain::from_bytes(&bytes),
        Err(Error::TooDeep {
            offset: 4 * (xdr::DEFAULT_MAX_DEPTH + 1),
            max_depth: xdr::DEFAULT_MAX_DEPTH
        })
    );
    let mut d = Decoder::new(&bytes).with_max_depth(301);
    let chain = Chain::decode(&mut d).unwrap();
    d.finish().unwrap();
    assert_eq!(chain.to_bytes().unwrap(), bytes);
    // A million levels of hostile input: an error, not a stack overflow.
    let bomb = [0, 0, 0, 1].repeat(1_000_000);
    assert!(matches!(
        Chain::from_bytes(&bomb),
        Err(Error::TooDeep { .. })
    ));
}

#[test]
fn the_default_depth_fits_a_small_stack() {
    // DEFAULT_MAX_DEPTH levels of a generated-style recursive type decode
    // on a 512 KiB thread (debug build).
    let handle = std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(|| {
            #[derive(Debug, PartialEq)]
            struct Node(Option<Box<Node>>, i64);
            impl Xdr for Node {
                const MIN_SIZE: usize = 12;
                fn encode(&self, e: &mut Encoder) -> Result<(), Error> {
                    self.0.encode(e)?;
                    self.1.encode(e)
                }
                fn decode(d: &mut Decoder<'_>) -> Result<Self, Error> {
                    Ok(Node(Xdr::decode(d)?, Xdr::decode(d)?))
                }
            }
            let mut bytes = Vec::new();
            for _ in 0..xdr::DEFAULT_MAX_DEPTH {
                bytes.extend_from_slice(&[0, 0, 0, 1]);
            }
            bytes.extend_from_slice(&[0, 0, 0, 0]);
            bytes.extend(std::iter::repeat_n(0, 8 * (xdr::DEFAULT_MAX_DEPTH + 1)));
            let n = Node::from_bytes(&bytes).unwrap();
            assert_eq!(n.to_bytes().unwrap(), bytes);
        })
        .unwrap();
    handle.join().unwrap();
}
