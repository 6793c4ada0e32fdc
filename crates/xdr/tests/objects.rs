//! Object identities: shared and cyclic structures cross once per
//! message, keep their shape, and hostile input fails cleanly. The types
//! come from `tests/extensions.x` (`[shared] ring_node *next;`).

use proptest::prelude::*;
use std::rc::Rc;
use xdr::{Decoder, Encoder, Error, ObjRef, Xdr};

include!(concat!(env!("OUT_DIR"), "/corpus.rs"));
use extensions::types::{Ring, RingNode};

fn node(value: i32) -> ObjRef<RingNode> {
    ObjRef::new(RingNode {
        value,
        ..Default::default()
    })
}

fn link(a: &ObjRef<RingNode>, b: &ObjRef<RingNode>) {
    a.get().unwrap().borrow_mut().next = b.clone();
    b.get().unwrap().borrow_mut().prev = a.clone();
}

fn words(ws: &[u32]) -> Vec<u8> {
    ws.iter().flat_map(|w| w.to_be_bytes()).collect()
}

/// Breaks the `Rc` cycles of a ring so the test does not leak.
fn unlink(start: &ObjRef<RingNode>, n: usize) {
    let mut at = start.clone();
    for _ in 0..n {
        let next = at.get().unwrap().borrow().next.clone();
        let mut node = at.get().unwrap().borrow_mut();
        node.next = ObjRef::null();
        node.prev = ObjRef::null();
        drop(node);
        at = next;
        if at.is_null() {
            break;
        }
    }
}

#[test]
fn a_cycle_crosses_once_with_the_documented_wire_format() {
    let (a, b) = (node(10), node(20));
    link(&a, &b);
    link(&b, &a);
    let ring = Ring {
        head: a.clone(),
        len: 2,
    };
    let bytes = ring.to_bytes().unwrap();
    #[rustfmt::skip]
    let expected = words(&[
        1, 0,           // head: new object 0 (a)
        10,             //   a.value
        1, 1,           //   a.next: new object 1 (b)
        20,             //     b.value
        2, 0,           //     b.next: back to 0
        2, 0,           //     b.prev: back to 0
        2, 1,           //   a.prev: back to 1
        2,              // len
    ]);
    assert_eq!(bytes, expected);

    let back = Ring::from_bytes(&bytes).unwrap();
    let a2 = back.head.clone();
    let b2 = a2.get().unwrap().borrow().next.clone();
    assert_eq!(a2.get().unwrap().borrow().value, 10);
    assert_eq!(b2.get().unwrap().borrow().value, 20);
    assert!(b2.get().unwrap().borrow().next.ptr_eq(&a2));
    assert!(b2.get().unwrap().borrow().prev.ptr_eq(&a2));
    assert!(a2.get().unwrap().borrow().prev.ptr_eq(&b2));
    assert!(!a2.ptr_eq(&a), "decoding makes new objects");
    assert_eq!(back.to_bytes().unwrap(), bytes);
    unlink(&a, 2);
    unlink(&a2, 2);
    drop(ring);
    assert_eq!(Rc::strong_count(a.get().unwrap()), 1);
}

#[test]
fn ids_are_per_message_and_null_is_zero() {
    let a = node(1);
    let ring = Ring {
        head: a.clone(),
        len: 1,
    };
    let first = ring.to_bytes().unwrap();
    let second = ring.to_bytes().unwrap();
    assert_eq!(first, second, "a new encoder numbers from 0 again");
    // Within one encoder the second mention is a back-reference.
    let mut e = Encoder::new();
    ring.encode(&mut e).unwrap();
    ring.encode(&mut e).unwrap();
    let both = e.finish();
    assert_eq!(&both[first.len()..], words(&[2, 0, 1]));
    // And one decoder resolves it to the same object.
    let mut d = Decoder::new(&both);
    let r1 = Ring::decode(&mut d).unwrap();
    let r2 = Ring::decode(&mut d).unwrap();
    d.finish().unwrap();
    assert!(r1.head.ptr_eq(&r2.head));
    assert_eq!(ObjRef::<RingNode>::null().to_bytes().unwrap(), words(&[0]));
}

#[test]
fn hostile_references_fail_cleanly() {
    let decode = |ws: &[u32]| ObjRef::<RingNode>::from_bytes(&words(ws)).map(|_| ());
    assert_eq!(
        decode(&[2, 0]),
        Err(Error::UnknownObject { offset: 4, id: 0 })
    );
    assert_eq!(
        decode(&[1, 5, 0, 0, 0]),
        Err(Error::BadObjectId {
            offset: 4,
            id: 5,
            expected: 0
        })
    );
    assert_eq!(decode(&[3]), Err(Error::BadObjectTag { offset: 0, tag: 3 }));
    assert!(matches!(decode(&[1, 0, 7]), Err(Error::Truncated { .. })));
    // A back-reference to an object of another type.
    let bytes = words(&[1, 0, 5, 2, 0]);
    let mut d = Decoder::new(&bytes);
    let _ = ObjRef::<i32>::decode(&mut d).unwrap();
    assert_eq!(
        ObjRef::<u32>::decode(&mut d),
        Err(Error::ObjectTypeMismatch { offset: 16, id: 0 })
    );
    // A chain of a million new objects nested in each other.
    let mut bomb = Vec::new();
    for id in 0..1_000_000u32 {
        bomb.extend_from_slice(&words(&[1, id, 0]));
    }
    assert!(matches!(
        ObjRef::<RingNode>::from_bytes(&bomb),
        Err(Error::TooDeep { .. })
    ));
}

#[test]
fn a_mutably_borrowed_object_is_an_error_not_a_panic() {
    let a = node(1);
    let _guard = a.get().unwrap().borrow_mut();
    assert_eq!(a.to_bytes(), Err(Error::ObjectBorrowed { offset: 0 }));
}

#[test]
fn objects_show_as_addresses() {
    let a = node(1);
    link(&a, &a);
    assert!(format!("{a:?}").starts_with("ObjRef(0x"));
    assert_eq!(format!("{:?}", ObjRef::<i32>::null()), "ObjRef(null)");
    assert_eq!(a, a.clone());
    assert_ne!(a, node(1));
    unlink(&a, 1);
}

proptest! {
    /// Random graphs of nodes (each `next`/`prev` is null or any node)
    /// keep their shape: decoded node i links to decoded node j exactly
    /// when node i linked to node j.
    #[test]
    fn graphs_keep_their_shape(n in 1usize..8, edges in proptest::collection::vec((proptest::option::of(0usize..8), proptest::option::of(0usize..8)), 8)) {
        let nodes: Vec<ObjRef<RingNode>> = (0..n).map(|i| node(i as i32)).collect();
        for (i, (next, prev)) in edges.iter().take(n).enumerate() {
            let mut x = nodes[i].get().unwrap().borrow_mut();
            x.next = next.map(|j| nodes[j % n].clone()).unwrap_or_default();
            x.prev = prev.map(|j| nodes[j % n].clone()).unwrap_or_default();
        }
        let all: Vec<Ring> = nodes.iter().map(|h| Ring { head: h.clone(), len: n as u32 }).collect();
        let mut e = Encoder::new();
        for r in &all {
            r.encode(&mut e).unwrap();
        }
        let bytes = e.finish();
        // Each node's body is sent once: at most 3 words per node plus a
        // tag and id per reference.
        prop_assert!(bytes.len() <= 4 * (n * (3 + 2 * 2) + n * 3));
        let mut d = Decoder::new(&bytes);
        let back: Vec<Ring> = (0..n).map(|_| Ring::decode(&mut d).unwrap()).collect();
        d.finish().unwrap();
        let index = |r: &ObjRef<RingNode>| back.iter().position(|b| b.head.ptr_eq(r));
        let original = |r: &ObjRef<RingNode>| nodes.iter().position(|b| b.ptr_eq(r));
        for i in 0..n {
            let (x, y) = (nodes[i].get().unwrap().borrow(), back[i].head.get().unwrap().borrow());
            prop_assert_eq!(x.value, y.value);
            prop_assert_eq!(original(&x.next), index(&y.next));
            prop_assert_eq!(original(&x.prev), index(&y.prev));
        }
        for r in nodes.iter().chain(back.iter().map(|b| &b.head)) {
            let mut x = r.get().unwrap().borrow_mut();
            x.next = ObjRef::null();
            x.prev = ObjRef::null();
        }
    }
}

#[test]
fn failed_decodes_leak_no_cycles() {
    // A node that is its own `next` and `prev`, then a trailing word.
    let cyclic = words(&[1, 0, 42, 2, 0, 2, 0, 3]);
    let mut with_trailing = cyclic.clone();
    with_trailing.extend_from_slice(&words(&[9]));
    // Control: decoded and dropped without breaking links, it leaks.
    let leaked = allocation_counter::measure(|| {
        let ring = Ring::from_bytes(&cyclic).unwrap();
        assert!(ring.head.get().unwrap().borrow().next.ptr_eq(&ring.head));
    });
    assert!(leaked.count_current > 0);
    // A failure (trailing bytes, or truncation) discards the objects.
    for bad in [&with_trailing[..], &cyclic[..cyclic.len() - 4]] {
        let info = allocation_counter::measure(|| assert!(Ring::from_bytes(bad).is_err()));
        assert_eq!(info.count_current, 0, "{info:?}");
    }
    // By hand, `discard_objects` does the same.
    let info = allocation_counter::measure(|| {
        let mut d = Decoder::new(&cyclic[..cyclic.len() - 4]);
        assert!(Ring::decode(&mut d).is_err());
        d.discard_objects();
    });
    assert_eq!(info.count_current, 0);
}
