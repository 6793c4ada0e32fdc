//! Field subsets: a call sends the fields the callee uses, the reply sends
//! back the fields it changes, and each side updates its object in place.
//! The type comes from `tests/extensions.x`:
//!
//! ```text
//! struct device {
//!     [in] unsigned int irq;  [out] unsigned int status;  [inout] opaque mac[6];
//!     string name<16>;        [in, shared] ring_node *queue;
//! };
//! ```

use proptest::prelude::*;
use xdr::{Decoder, Direction, Encoder, Error, FieldMask, Fields, ObjRef, Xdr};

include!(concat!(env!("OUT_DIR"), "/corpus.rs"));
use extensions::types::{Device, RingNode};

fn device(irq: u32, status: u32, mac: [u8; 6], name: &str) -> Device {
    Device {
        irq,
        status,
        mac,
        name: name.to_string(),
        queue: ObjRef::null(),
    }
}

fn encode_fields(d: &Device, mask: FieldMask) -> Result<Vec<u8>, Error> {
    let mut e = Encoder::new();
    d.encode_fields(&mut e, mask)?;
    Ok(e.finish())
}

fn decode_fields_into(d: &mut Device, bytes: &[u8], mask: FieldMask) -> Result<(), Error> {
    let mut dec = Decoder::new(bytes);
    d.decode_fields_into(&mut dec, mask)?;
    dec.finish()
}

#[test]
fn directions_come_from_the_x_file() {
    assert_eq!(Device::NAME, "device");
    assert_eq!(
        Device::FIELD_NAMES,
        ["irq", "status", "mac", "name", "queue"]
    );
    assert_eq!(
        Device::DIRECTIONS,
        [
            Direction::In,
            Direction::Out,
            Direction::InOut,
            Direction::InOut,
            Direction::In
        ]
    );
    assert_eq!(Device::in_fields(), FieldMask::from_bits(0b11101));
    assert_eq!(Device::out_fields(), FieldMask::from_bits(0b01110));
    assert_eq!(Device::all_fields(), FieldMask::from_bits(0b11111));
    assert_eq!(
        Device::mask_of(&["irq", "name"]),
        Some(FieldMask::from_bits(0b1001))
    );
    assert_eq!(Device::mask_of(&["nope"]), None);
}

#[test]
fn only_the_selected_fields_travel_in_declaration_order() {
    let d = device(5, 7, [1, 2, 3, 4, 5, 6], "eth0");
    let bytes = encode_fields(&d, Device::in_fields()).unwrap();
    let mut expected = Vec::new();
    expected.extend(5u32.to_bytes().unwrap());
    expected.extend(d.mac.to_bytes().unwrap());
    expected.extend(d.name.to_bytes().unwrap());
    expected.extend(ObjRef::<RingNode>::null().to_bytes().unwrap());
    assert_eq!(bytes, expected);
    assert_eq!(
        encode_fields(&d, FieldMask::EMPTY).unwrap(),
        Vec::<u8>::new()
    );
    assert_eq!(
        encode_fields(&d, Device::all_fields()).unwrap(),
        d.to_bytes().unwrap(),
        "all fields is the whole struct"
    );
}

#[test]
fn a_call_and_its_reply_update_objects_in_place() {
    // The caller's object; the callee starts from its own copy.
    let mut caller = device(11, 0, [0xaa; 6], "wlan0");
    let mut callee = device(0, 99, [0; 6], "");
    let call = encode_fields(&caller, Device::in_fields()).unwrap();
    decode_fields_into(&mut callee, &call, Device::in_fields()).unwrap();
    assert_eq!(callee.irq, 11);
    assert_eq!(callee.status, 99, "an out field is not sent with the call");
    assert_eq!(callee.name, "wlan0");
    // The callee works, then replies with the out fields.
    callee.status = 1;
    callee.name.push('!');
    callee.irq = 12; // in only: the caller will not see it
    let reply = encode_fields(&callee, Device::out_fields()).unwrap();
    decode_fields_into(&mut caller, &reply, Device::out_fields()).unwrap();
    assert_eq!(caller, device(11, 1, [0xaa; 6], "wlan0!"));
}

#[test]
fn bad_masks_and_bad_input_leave_the_object_unchanged() {
    let d = device(1, 2, [3; 6], "x");
    let bad = FieldMask::field(5);
    assert_eq!(
        encode_fields(&d, bad),
        Err(Error::BadFieldMask {
            type_name: "device",
            mask: 32,
            fields: 5
        })
    );
    let mut target = device(9, 9, [9; 6], "nine");
    let before = target.clone();
    assert!(decode_fields_into(&mut target, &[], bad).is_err());
    assert_eq!(target, before);
    // irq and mac present, name cut short: nothing changes.
    let bytes = encode_fields(&d, FieldMask::from_bits(0b1101)).unwrap();
    let cut = &bytes[..bytes.len() - 2];
    assert!(matches!(
        decode_fields_into(&mut target, cut, FieldMask::from_bits(0b1101)),
        Err(Error::Truncated { .. })
    ));
    assert_eq!(target, before);
}

#[test]
fn masks_combine() {
    let a = FieldMask::field(0) | FieldMask::field(3);
    assert!(a.contains(0) && a.contains(3) && !a.contains(1) && !a.contains(64));
    assert_eq!((a & FieldMask::field(3)).bits(), 8);
    assert_eq!((!a & FieldMask::first(4)).bits(), 0b0110);
    assert_eq!(FieldMask::first(64).bits(), u64::MAX);
    assert_eq!(FieldMask::field(64), FieldMask::EMPTY);
}

proptest! {
    #[test]
    fn decoding_a_subset_takes_exactly_the_masked_fields(
        bits in 0u64..32,
        a in (any::<u32>(), any::<u32>(), any::<[u8; 6]>(), "[a-z]{0,16}"),
        b in (any::<u32>(), any::<u32>(), any::<[u8; 6]>(), "[a-z]{0,16}"),
    ) {
        let mask = FieldMask::from_bits(bits);
        let src = device(a.0, a.1, a.2, &a.3);
        let mut dst = device(b.0, b.1, b.2, &b.3);
        let old = dst.clone();
        let bytes = encode_fields(&src, mask).unwrap();
        decode_fields_into(&mut dst, &bytes, mask).unwrap();
        prop_assert_eq!(dst.irq, if mask.contains(0) { src.irq } else { old.irq });
        prop_assert_eq!(dst.status, if mask.contains(1) { src.status } else { old.status });
        prop_assert_eq!(dst.mac, if mask.contains(2) { src.mac } else { old.mac });
        prop_assert_eq!(&dst.name, if mask.contains(3) { &src.name } else { &old.name });
    }
}
