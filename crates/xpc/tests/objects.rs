//! Objects across a call boundary: the decaf side keeps one object per
//! nucleus object (address and type), unmarshals later crossings into it in
//! place, and tells an embedded struct from its container by type. The
//! arguments are XDR (`crates/xdr`).

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;
use xdr::{Decoder, Encoder};
use xpc::tracker::LocalId;
use xpc::{Endpoint, Fault, ObjectTracker, Remote, in_process};

const UPDATE: u32 = 1;
const DEVICE: u32 = 10;
const STATS: u32 = 11;
const T: Duration = Duration::from_secs(5);

/// The decaf side's copy of a nucleus object.
#[derive(Debug, Default, PartialEq)]
struct Object {
    mtu: u32,
    name: String,
    crossings: u32,
}

/// Arguments: (address: unsigned hyper, type: unsigned int, mtu:
/// unsigned int, name: string<32>).
fn args(address: u64, type_id: u32, mtu: u32, name: &str) -> Vec<u8> {
    let mut e = Encoder::new();
    e.write_u64(address);
    e.write_u32(type_id);
    e.write_u32(mtu);
    e.write_string(name, 32).unwrap();
    e.finish()
}

type Shared = Arc<Mutex<(ObjectTracker<Object>, Vec<LocalId>)>>;

#[test]
fn an_object_sent_twice_is_one_object_updated_in_place() {
    let (a, b) = in_process();
    let decaf_state: Shared = Arc::new(Mutex::new((ObjectTracker::new(), Vec::new())));
    let state = decaf_state.clone();
    let server = thread::spawn(move || {
        let mut ep = Endpoint::new(b);
        ep.register(UPDATE, move |_, bytes| {
            let mut d = Decoder::new(bytes);
            let bad = |e: xdr::Error| Fault::Failed(e.to_string());
            let remote = Remote {
                address: d.read_u64().map_err(bad)?,
                type_id: d.read_u32().map_err(bad)?,
            };
            let mtu = d.read_u32().map_err(bad)?;
            let name = d.read_string(32).map_err(bad)?;
            d.finish().map_err(bad)?;
            let mut st = state.lock().unwrap();
            let (id, _) = st.0.get_or_insert_with(remote, Object::default);
            let obj = st.0.get_mut(id).expect("just tracked");
            obj.mtu = mtu;
            obj.name = name;
            obj.crossings += 1;
            st.1.push(id);
            Ok(Vec::new())
        });
        while ep.serve(None).is_ok() {}
    });
    let mut n = Endpoint::new(a);
    n.call(UPDATE, args(0x1000, DEVICE, 1500, "eth0"), T)
        .unwrap();
    n.call(UPDATE, args(0x1000, DEVICE, 9000, "eth0-jumbo"), T)
        .unwrap();
    // Same address, another type: the embedded statistics block.
    n.call(UPDATE, args(0x1000, STATS, 7, "stats"), T).unwrap();
    // Hostile bytes are refused with a fault, and nothing changes.
    let r = n.call(UPDATE, vec![0, 0, 0], T);
    assert!(
        matches!(r, Err(xpc::XpcError::Fault(Fault::Failed(_)))),
        "{r:?}"
    );
    drop(n);
    server.join().unwrap();
    let st = decaf_state.lock().unwrap();
    let (tracker, ids) = &*st;
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[0], ids[1], "the second crossing found the same object");
    assert_ne!(ids[0], ids[2], "an embedded struct is not its container");
    assert_eq!(
        tracker.get(ids[0]),
        Some(&Object {
            mtu: 9000,
            name: "eth0-jumbo".into(),
            crossings: 2
        })
    );
    assert_eq!(tracker.len(), 2);
}
