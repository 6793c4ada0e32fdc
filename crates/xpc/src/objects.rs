//! Tracked objects on the wire: generated XDR structs crossing domains by
//! identity, with only the fields a call needs.
//!
//! ```text
//!   +--------------------+------------------+==============================+
//!   | address (hyper)    | type (unsigned)  | the fields in the call's mask |
//!   +--------------------+------------------+==============================+
//!
//!   nucleus                                        decaf driver
//!   Exports::encode(addr, &dev, in-fields) ──▶ ObjectTracker::decode_tracked:
//!     (remembers (addr, type) as exported)       find or create the object,
//!                                                update the fields in place
//!   Exports::decode_into(out-fields, find) ◀── ObjectTracker::encode_tracked(id):
//!     (refuses an address or type it never       the same address and type,
//!      exported: the decaf side is untrusted)    the fields going back
//! ```
//!
//! The type is [`xdr::Fields::type_id`], a hash of the struct's XDR name,
//! so an embedded struct at its container's address is another object.
//! Each side keeps one tracker per type.

use crate::tracker::{LocalId, ObjectTracker, Remote};
use std::collections::HashSet;
use std::fmt;
use xdr::{Decoder, Encoder, FieldMask, Fields};

/// Why a tracked object could not cross.
#[derive(Clone, Debug, PartialEq)]
pub enum ObjectError {
    /// The bytes are not valid XDR for the object.
    Xdr(xdr::Error),
    /// The object named on the wire has another type than expected.
    WrongType {
        /// Its address.
        address: u64,
        /// The type the receiver expects.
        expected: u32,
        /// The type on the wire.
        found: u32,
    },
    /// The peer named an object this side never sent it (or released).
    NotExported(Remote),
    /// No local object has this id (it was released).
    Released,
}

impl fmt::Display for ObjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObjectError::Xdr(e) => write!(f, "{e}"),
            ObjectError::WrongType {
                address,
                expected,
                found,
            } => write!(
                f,
                "object at {address:#x} has type {found:#010x}, expected {expected:#010x}"
            ),
            ObjectError::NotExported(r) => write!(
                f,
                "object at {:#x} of type {:#010x} was never sent to the peer",
                r.address, r.type_id
            ),
            ObjectError::Released => f.write_str("the object was released"),
        }
    }
}

impl std::error::Error for ObjectError {}

impl From<xdr::Error> for ObjectError {
    fn from(e: xdr::Error) -> Self {
        ObjectError::Xdr(e)
    }
}

/// Reads the (address, type) that precedes a tracked object and checks the
/// type.
fn read_identity<T: Fields>(d: &mut Decoder<'_>) -> Result<Remote, ObjectError> {
    let address = d.read_u64()?;
    let found = d.read_u32()?;
    let expected = T::type_id();
    if found != expected {
        return Err(ObjectError::WrongType {
            address,
            expected,
            found,
        });
    }
    Ok(Remote {
        address,
        type_id: found,
    })
}

fn write_object<T: Fields>(
    e: &mut Encoder,
    remote: Remote,
    object: &T,
    mask: FieldMask,
) -> Result<(), ObjectError> {
    e.write_u64(remote.address);
    e.write_u32(remote.type_id);
    object.encode_fields(e, mask)?;
    Ok(())
}

/// The nucleus side: the objects it has sent to the decaf driver. Objects
/// that come back are accepted only if they were sent and not released.
#[derive(Debug, Default)]
pub struct Exports {
    live: HashSet<Remote>,
}

impl Exports {
    /// No object sent yet.
    pub fn new() -> Exports {
        Exports::default()
    }

    /// Writes `object`, which lives at `address` here, with the fields in
    /// `mask`, and remembers it as sent.
    pub fn encode<T: Fields>(
        &mut self,
        e: &mut Encoder,
        address: u64,
        object: &T,
        mask: FieldMask,
    ) -> Result<(), ObjectError> {
        let remote = Remote {
            address,
            type_id: T::type_id(),
        };
        write_object(e, remote, object, mask)?;
        self.live.insert(remote);
        Ok(())
    }

    /// Reads an object coming back: checks that it was sent, finds it with
    /// `find(address)` and updates the fields in `mask` in place. Returns
    /// its address. On an error nothing changes.
    pub fn decode_into<'o, T: Fields + 'o>(
        &self,
        d: &mut Decoder<'_>,
        mask: FieldMask,
        find: impl FnOnce(u64) -> Option<&'o mut T>,
    ) -> Result<u64, ObjectError> {
        let remote = read_identity::<T>(d)?;
        if !self.live.contains(&remote) {
            return Err(ObjectError::NotExported(remote));
        }
        let object = find(remote.address).ok_or(ObjectError::NotExported(remote))?;
        object.decode_fields_into(d, mask)?;
        Ok(remote.address)
    }

    /// Whether the object at `address` of type `T` was sent and not released.
    pub fn is_exported<T: Fields>(&self, address: u64) -> bool {
        self.live.contains(&Remote {
            address,
            type_id: T::type_id(),
        })
    }

    /// Forgets one object (the driver freed it); returns whether it was sent.
    pub fn release<T: Fields>(&mut self, address: u64) -> bool {
        self.live.remove(&Remote {
            address,
            type_id: T::type_id(),
        })
    }

    /// Forgets everything (the decaf process crashed or restarted).
    pub fn release_all(&mut self) -> usize {
        let n = self.live.len();
        self.live.clear();
        n
    }

    /// How many objects are out.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// Whether no object is out.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }
}

impl<V: Fields + Default> ObjectTracker<V> {
    /// Reads a tracked object: finds the local object that stands for it
    /// (creating it as `V::default()` the first time) and updates the fields
    /// in `mask` in place. On an error nothing changes (an object created
    /// for the failed crossing is dropped again).
    pub fn decode_tracked(
        &mut self,
        d: &mut Decoder<'_>,
        mask: FieldMask,
    ) -> Result<LocalId, ObjectError> {
        let remote = read_identity::<V>(d)?;
        let (id, new) = self.get_or_insert_with(remote, V::default);
        let object = self.get_mut(id).ok_or(ObjectError::Released)?;
        if let Err(e) = object.decode_fields_into(d, mask) {
            if new {
                self.release(remote);
            }
            return Err(e.into());
        }
        Ok(id)
    }

    /// Writes the object `id` back to its home domain, with the fields in
    /// `mask`.
    pub fn encode_tracked(
        &self,
        e: &mut Encoder,
        id: LocalId,
        mask: FieldMask,
    ) -> Result<(), ObjectError> {
        let remote = self.remote_of(id).ok_or(ObjectError::Released)?;
        let object = self.get(id).ok_or(ObjectError::Released)?;
        write_object(e, remote, object, mask)
    }
}
