//! Field subsets (a Decaf extension): marshal only the fields of a struct
//! that the other side uses, and update an existing object in place.
//!
//! A [`FieldMask`] selects fields by their position in the declaration
//! (bit `i` is field `i`). The selected fields are sent in declaration
//! order, each in its usual encoding; the mask itself is not sent: both
//! sides know it from the call (a procedure's signature, or the masks the
//! `.x` file declares). Subsets are shallow: a selected field travels
//! whole.
//!
//! ```text
//! struct dev { int irq; opaque mac[6]; unsigned int flags; }   mask 0b101
//! +---------+---------+
//! |   irq   |  flags  |        (mac stays where it is)
//! +---------+---------+
//! ```
//!
//! In a `.x` file, struct fields may carry a direction, an extension of
//! the language (rpcgen does not know it):
//!
//! ```text
//! struct dev {
//!     [in]    int irq;         /* sent with the call, caller -> callee */
//!     [out]   unsigned flags;  /* sent with the reply, callee -> caller */
//!     [inout] opaque mac[6];   /* both ways */
//!     int other;               /* no direction: both ways */
//! };
//! ```
//!
//! and the generated code implements [`Fields`] with [`Fields::in_fields`]
//! and [`Fields::out_fields`] built from them.

use crate::{Decoder, Encoder, Error, Xdr};
use std::ops::{BitAnd, BitOr, Not};

/// Which way a field travels in a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Sent with the call, from caller to callee.
    In,
    /// Sent with the reply, from callee back to caller.
    Out,
    /// Sent both ways.
    InOut,
}

impl Direction {
    /// Whether the field travels with the call.
    pub const fn with_call(self) -> bool {
        matches!(self, Direction::In | Direction::InOut)
    }

    /// Whether the field travels with the reply.
    pub const fn with_reply(self) -> bool {
        matches!(self, Direction::Out | Direction::InOut)
    }
}

/// A set of fields of one struct: bit `i` is field `i`, in declaration
/// order (so structs of up to 64 fields).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FieldMask(u64);

impl FieldMask {
    /// No field.
    pub const EMPTY: FieldMask = FieldMask(0);

    /// The mask with these bits.
    pub const fn from_bits(bits: u64) -> Self {
        Self(bits)
    }

    /// The bits.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Field `i` alone (empty if `i` is 64 or more).
    pub const fn field(i: usize) -> Self {
        if i < 64 { Self(1 << i) } else { Self(0) }
    }

    /// The first `n` fields.
    pub const fn first(n: usize) -> Self {
        if n >= 64 {
            Self(u64::MAX)
        } else {
            Self((1 << n) - 1)
        }
    }

    /// Whether field `i` is in the set.
    pub const fn contains(self, i: usize) -> bool {
        i < 64 && self.0 & (1 << i) != 0
    }

    /// The fields of a list of directions that travel with the call
    /// (`reply == false`) or with the reply.
    pub const fn of_directions(directions: &[Direction], reply: bool) -> Self {
        let mut bits = 0;
        let mut i = 0;
        while i < directions.len() && i < 64 {
            let sent = if reply {
                directions[i].with_reply()
            } else {
                directions[i].with_call()
            };
            if sent {
                bits |= 1 << i;
            }
            i += 1;
        }
        Self(bits)
    }
}

impl BitOr for FieldMask {
    type Output = FieldMask;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl BitAnd for FieldMask {
    type Output = FieldMask;
    fn bitand(self, rhs: Self) -> Self {
        Self(self.0 & rhs.0)
    }
}

impl Not for FieldMask {
    type Output = FieldMask;
    fn not(self) -> Self {
        Self(!self.0)
    }
}

/// The type number of the XDR type called `name`: its 32-bit FNV-1a hash.
/// An object crossing domains is named by its address and this number, so
/// an embedded struct is told apart from its container at the same address.
pub const fn type_id_of_name(name: &str) -> u32 {
    let bytes = name.as_bytes();
    let mut hash: u32 = 0x811c_9dc5;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u32;
        hash = hash.wrapping_mul(0x0100_0193);
        i += 1;
    }
    hash
}

/// A struct whose fields can travel in subsets. Generated for every struct
/// of up to 64 fields.
pub trait Fields: Xdr {
    /// The struct's XDR name.
    const NAME: &'static str;
    /// Its fields' XDR names, in declaration order.
    const FIELD_NAMES: &'static [&'static str];
    /// Its fields' directions (unannotated fields are [`Direction::InOut`]).
    const DIRECTIONS: &'static [Direction];

    /// Appends the fields in `mask`, in declaration order.
    fn encode_fields(&self, e: &mut Encoder, mask: FieldMask) -> Result<(), Error>;

    /// Reads the fields in `mask` into `self`, leaving the others as they
    /// are. On an error `self` is unchanged.
    fn decode_fields_into(&mut self, d: &mut Decoder<'_>, mask: FieldMask) -> Result<(), Error>;

    /// The struct's type number across domains: [`type_id_of_name`] of
    /// [`Fields::NAME`], so both sides of a call agree on it from the `.x`
    /// file alone.
    fn type_id() -> u32 {
        type_id_of_name(Self::NAME)
    }

    /// Every field.
    fn all_fields() -> FieldMask {
        FieldMask::first(Self::FIELD_NAMES.len())
    }

    /// The fields that travel with the call (`in` and `inout`).
    fn in_fields() -> FieldMask {
        FieldMask::of_directions(Self::DIRECTIONS, false)
    }

    /// The fields that travel with the reply (`out` and `inout`).
    fn out_fields() -> FieldMask {
        FieldMask::of_directions(Self::DIRECTIONS, true)
    }

    /// The mask of the fields with these XDR names, or `None` if one is
    /// not a field.
    fn mask_of(names: &[&str]) -> Option<FieldMask> {
        names.iter().try_fold(FieldMask::EMPTY, |mask, name| {
            let i = Self::FIELD_NAMES.iter().position(|f| f == name)?;
            Some(mask | FieldMask::field(i))
        })
    }

    /// Fails if `mask` names fields the struct lacks.
    fn check_mask(mask: FieldMask) -> Result<(), Error> {
        if mask.bits() & !Self::all_fields().bits() == 0 {
            Ok(())
        } else {
            Err(Error::BadFieldMask {
                type_name: Self::NAME,
                mask: mask.bits(),
                fields: Self::FIELD_NAMES.len(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::type_id_of_name;

    #[test]
    fn type_ids_are_fnv1a() {
        // Reference values of 32-bit FNV-1a.
        assert_eq!(type_id_of_name(""), 0x811c_9dc5);
        assert_eq!(type_id_of_name("a"), 0xe40c_292c);
        assert_eq!(type_id_of_name("foobar"), 0xbf9c_f968);
        assert_ne!(type_id_of_name("dev"), type_id_of_name("stats"));
    }
}
