//! Object identities (a Decaf extension): shared and cyclic structures
//! cross once per message.
//!
//! An [`ObjRef<T>`] is a nullable, shared reference (`Rc<RefCell<T>>`).
//! The first time an encoder meets an object it sends the object in full
//! with a fresh id; every later reference to the same object (the same
//! `Rc`) in that message sends only the id. Ids are `unsigned int`s
//! numbered 0, 1, 2, ... in the order objects first appear in the
//! message, so the decoder can check them.
//!
//! ```text
//! null            +---------+
//!                 |    0    |
//!                 +---------+
//! new object      +---------+---------+======================+
//!                 |    1    |   id    | the object (T's XDR) |
//!                 +---------+---------+======================+
//! back-reference  +---------+---------+
//!                 |    2    |   id    |
//!                 +---------+---------+
//!                  4 bytes   4 bytes
//! ```
//!
//! The decoder creates a new object as `T::default()`, registers it under
//! its id and only then decodes the body into it, so the body may refer
//! back to the object itself: cycles are representable. A back-reference
//! returns the same `Rc`. Hostile input cannot recurse without bound
//! (each new object is one nesting level, see [`Decoder::nested`]) and
//! cannot allocate more than it pays for (a new object takes at least 8
//! bytes plus `T::MIN_SIZE`).
//!
//! A decoded cycle is an `Rc` cycle: it stays alive until a link is
//! broken (e.g. set to [`ObjRef::null`]); a receiver of untrusted objects
//! must break the links of what it drops. When decoding fails, the
//! objects decoded so far are set to their default values, which breaks
//! their links ([`Xdr::from_bytes`] does it; by hand, call
//! [`Decoder::discard_objects`]).

use crate::{Decoder, Encoder, Error, Xdr};
use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

/// The tag of a null reference.
pub const TAG_NULL: u32 = 0;
/// The tag of an object sent in full (its id and body follow).
pub const TAG_NEW: u32 = 1;
/// The tag of a reference to an object sent earlier in the message.
pub const TAG_BACK: u32 = 2;

/// A nullable reference to a shared object that keeps its identity across
/// the wire. Equality is identity (the same `Rc`), so comparing cyclic
/// structures terminates.
pub struct ObjRef<T>(Option<Rc<RefCell<T>>>);

impl<T> ObjRef<T> {
    /// A reference to a new object.
    pub fn new(value: T) -> Self {
        Self(Some(Rc::new(RefCell::new(value))))
    }

    /// The null reference.
    pub const fn null() -> Self {
        Self(None)
    }

    /// Whether this is the null reference.
    pub fn is_null(&self) -> bool {
        self.0.is_none()
    }

    /// The object, unless null.
    pub fn get(&self) -> Option<&Rc<RefCell<T>>> {
        self.0.as_ref()
    }

    /// Whether both refer to the same object (two nulls are the same).
    pub fn ptr_eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => Rc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }
}

impl<T> From<Rc<RefCell<T>>> for ObjRef<T> {
    fn from(rc: Rc<RefCell<T>>) -> Self {
        Self(Some(rc))
    }
}

impl<T> Clone for ObjRef<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T> Default for ObjRef<T> {
    fn default() -> Self {
        Self::null()
    }
}

impl<T> PartialEq for ObjRef<T> {
    fn eq(&self, other: &Self) -> bool {
        self.ptr_eq(other)
    }
}

impl<T> Eq for ObjRef<T> {}

/// Shows the address, not the object (which may be part of a cycle).
impl<T> fmt::Debug for ObjRef<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            None => f.write_str("ObjRef(null)"),
            Some(rc) => write!(f, "ObjRef({:p})", Rc::as_ptr(rc)),
        }
    }
}

/// The encoder's objects: id by address. It keeps every object alive for
/// the message, so no address is reused while the ids stand.
#[derive(Default)]
pub(crate) struct EncodeTable {
    ids: HashMap<usize, u32>,
    keep: Vec<Rc<dyn Any>>,
}

impl EncodeTable {
    pub(crate) fn len(&self) -> usize {
        self.keep.len()
    }
}

/// A decoded object (an `Rc<RefCell<T>>`) and how to empty it.
type Decoded = (Rc<dyn Any>, fn(&dyn Any));

/// The decoder's objects, by id.
#[derive(Default)]
pub(crate) struct DecodeTable {
    objects: Vec<Decoded>,
}

impl DecodeTable {
    pub(crate) fn len(&self) -> usize {
        self.objects.len()
    }

    /// Sets every object to its default value, which drops its links, and
    /// forgets them all.
    pub(crate) fn discard(&mut self) {
        for (object, reset) in self.objects.drain(..) {
            reset(&*object);
        }
    }
}

/// Sets an object (a `RefCell<T>`) to `T::default()`.
fn reset<T: Default + 'static>(object: &dyn Any) {
    if let Some(cell) = object.downcast_ref::<RefCell<T>>() {
        let old = cell.try_borrow_mut().map(|mut b| std::mem::take(&mut *b));
        // The old body (and the links in it) drops with no borrow held.
        drop(old);
    }
}

impl<T: Xdr + Default + 'static> Xdr for ObjRef<T> {
    const MIN_SIZE: usize = 4;

    fn encode(&self, e: &mut Encoder) -> Result<(), Error> {
        let Some(rc) = &self.0 else {
            e.write_u32(TAG_NULL);
            return Ok(());
        };
        let key = Rc::as_ptr(rc).cast::<()>() as usize;
        if let Some(&id) = e.objects.ids.get(&key) {
            e.write_u32(TAG_BACK);
            e.write_u32(id);
            return Ok(());
        }
        let offset = e.position();
        let id =
            u32::try_from(e.objects.keep.len()).map_err(|_| Error::TooManyObjects { offset })?;
        let body = rc
            .try_borrow()
            .map_err(|_| Error::ObjectBorrowed { offset })?;
        e.objects.ids.insert(key, id);
        e.objects.keep.push(rc.clone());
        e.write_u32(TAG_NEW);
        e.write_u32(id);
        body.encode(e)
    }

    fn decode(d: &mut Decoder<'_>) -> Result<Self, Error> {
        let offset = d.position();
        match d.read_u32()? {
            TAG_NULL => Ok(Self::null()),
            TAG_NEW => {
                let at = d.position();
                let id = d.read_u32()?;
                let expected =
                    u32::try_from(d.objects.len()).map_err(|_| Error::TooManyObjects { offset })?;
                if id != expected {
                    return Err(Error::BadObjectId {
                        offset: at,
                        id,
                        expected,
                    });
                }
                let rc = Rc::new(RefCell::new(T::default()));
                d.objects.objects.push((rc.clone(), reset::<T>));
                let body = d.nested(T::decode)?;
                *rc.try_borrow_mut()
                    .map_err(|_| Error::ObjectBorrowed { offset })? = body;
                Ok(Self(Some(rc)))
            }
            TAG_BACK => {
                let at = d.position();
                let id = d.read_u32()?;
                let any = d
                    .objects
                    .objects
                    .get(id as usize)
                    .ok_or(Error::UnknownObject { offset: at, id })?;
                let rc = any
                    .0
                    .clone()
                    .downcast::<RefCell<T>>()
                    .map_err(|_| Error::ObjectTypeMismatch { offset: at, id })?;
                Ok(Self(Some(rc)))
            }
            tag => Err(Error::BadObjectTag { offset, tag }),
        }
    }
}
