//! Feeds arbitrary bytes to the XDR decoder (as several built-in shapes,
//! object references included) and, as text, to the `.x` compiler: neither
//! may panic, hang or allocate out of proportion. Decoded object graphs
//! may be cyclic (`Rc` cycles): the target breaks every link afterwards,
//! as a receiver of untrusted objects must, so the leak checker stays
//! quiet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::HashSet;
use xdr::{Decoder, ObjRef, Xdr};

#[derive(Default)]
struct Node {
    value: i32,
    next: ObjRef<Node>,
    kids: Vec<Option<Box<Node>>>,
}

impl Xdr for Node {
    const MIN_SIZE: usize = 12;
    fn encode(&self, e: &mut xdr::Encoder) -> Result<(), xdr::Error> {
        self.value.encode(e)?;
        self.next.encode(e)?;
        e.write_array(&self.kids, 4)
    }
    fn decode(d: &mut Decoder<'_>) -> Result<Self, xdr::Error> {
        Ok(Node {
            value: Xdr::decode(d)?,
            next: Xdr::decode(d)?,
            kids: d.read_array(4)?,
        })
    }
}

/// Sets every object reference reachable from `top` to null, without
/// recursion.
fn unlink(mut top: Node) {
    let mut seen = HashSet::new();
    let mut refs = Vec::new();
    let mut nodes: Vec<&mut Node> = vec![&mut top];
    while let Some(n) = nodes.pop() {
        refs.push(std::mem::take(&mut n.next));
        nodes.extend(n.kids.iter_mut().flatten().map(|b| &mut **b));
    }
    while let Some(r) = refs.pop() {
        let Some(rc) = r.get() else { continue };
        if !seen.insert(std::rc::Rc::as_ptr(rc)) {
            continue;
        }
        let mut guard = rc.borrow_mut();
        let mut nodes: Vec<&mut Node> = vec![&mut guard];
        while let Some(n) = nodes.pop() {
            refs.push(std::mem::take(&mut n.next));
            nodes.extend(n.kids.iter_mut().flatten().map(|b| &mut **b));
        }
    }
}

fn all<T: Xdr>(data: &[u8]) {
    if let Ok(v) = T::from_bytes(data) {
        // Whatever decodes encodes again to the same bytes.
        assert_eq!(v.to_bytes().as_deref(), Ok(data));
    }
}

fuzz_target!(|data: &[u8]| {
    match data.first() {
        Some(0) => {
            let _ = xdr::idl::generate(&String::from_utf8_lossy(&data[1..]));
        }
        _ => {
            all::<Vec<Option<String>>>(data);
            all::<Vec<[u8; 3]>>(data);
            all::<Option<Box<[f64; 2]>>>(data);
            all::<[bool; 3]>(data);
            all::<Vec<Vec<u64>>>(data);
            if let Ok(n) = Node::from_bytes(data) {
                unlink(n);
            }
            let mut d = Decoder::new(data).with_max_depth(64);
            match ObjRef::<Node>::decode(&mut d) {
                Ok(r) => unlink(Node {
                    next: r,
                    ..Node::default()
                }),
                Err(_) => d.discard_objects(),
            }
        }
    }
});
