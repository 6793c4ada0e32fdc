//! What can go wrong while encoding or decoding.

use std::fmt;

/// An encoding or decoding failure. Offsets are byte positions in the
/// message: for decoding, where the offending item starts in the input;
/// for encoding, where it would have been written.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The input ends before the item does.
    Truncated {
        /// Where the item starts.
        offset: usize,
        /// How many bytes the item needs from `offset`.
        needed: u64,
        /// How many bytes are left from `offset`.
        available: usize,
    },
    /// A length is over the declared maximum. (A length that the rest of
    /// the input cannot hold is [`Error::Truncated`].)
    TooLong {
        /// Where the length is.
        offset: usize,
        /// The length found.
        length: u64,
        /// The most that is allowed here.
        max: u64,
    },
    /// A `bool` is neither 0 nor 1.
    BadBool {
        /// Where the value is.
        offset: usize,
        /// The value found.
        value: u32,
    },
    /// An `enum` value names no member.
    BadEnum {
        /// Where the value is.
        offset: usize,
        /// The XDR name of the enum.
        type_name: &'static str,
        /// The value found.
        value: i32,
    },
    /// A union discriminant selects no arm (the union has no `default`), or,
    /// when encoding, a `default` arm carries a discriminant that an
    /// explicit `case` owns.
    BadDiscriminant {
        /// Where the discriminant is.
        offset: usize,
        /// The XDR name of the union.
        type_name: &'static str,
        /// The discriminant (an `unsigned int` shows as itself, a `bool` as 0 or 1).
        value: i64,
    },
    /// A padding byte is not zero.
    NonZeroPadding {
        /// Where the byte is.
        offset: usize,
    },
    /// A `string` is not UTF-8.
    InvalidUtf8 {
        /// Where the string's bytes start.
        offset: usize,
    },
    /// Bytes are left after a whole message was decoded.
    TrailingBytes {
        /// Where the message ended.
        offset: usize,
        /// How many bytes follow.
        remaining: usize,
    },
    /// Values nest deeper than the decoder allows (optional data, arrays and
    /// objects count one level each).
    TooDeep {
        /// Where the level that is one too many starts.
        offset: usize,
        /// The decoder's limit.
        max_depth: usize,
    },
    /// An object reference has a tag other than 0 (null), 1 (new) or 2
    /// (back-reference).
    BadObjectTag {
        /// Where the tag is.
        offset: usize,
        /// The tag found.
        tag: u32,
    },
    /// A new object does not carry the next id of the message.
    BadObjectId {
        /// Where the id is.
        offset: usize,
        /// The id found.
        id: u32,
        /// The id the next new object must have.
        expected: u32,
    },
    /// A back-reference names an object that has not been sent.
    UnknownObject {
        /// Where the id is.
        offset: usize,
        /// The id found.
        id: u32,
    },
    /// A back-reference names an object of another type.
    ObjectTypeMismatch {
        /// Where the id is.
        offset: usize,
        /// The id found.
        id: u32,
    },
    /// An object could not be read while encoding: it is mutably borrowed.
    ObjectBorrowed {
        /// Where the object would have been written.
        offset: usize,
    },
    /// A message holds more objects than ids can number (2^32).
    TooManyObjects {
        /// Where the object would have been written.
        offset: usize,
    },
    /// A field mask names fields that the struct does not have.
    BadFieldMask {
        /// The XDR name of the struct.
        type_name: &'static str,
        /// The mask.
        mask: u64,
        /// How many fields the struct has.
        fields: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated {
                offset,
                needed,
                available,
            } => write!(
                f,
                "truncated input at byte {offset}: need {needed} bytes, {available} left"
            ),
            Error::TooLong {
                offset,
                length,
                max,
            } => write!(
                f,
                "length {length} at byte {offset} is over the maximum of {max}"
            ),
            Error::BadBool { offset, value } => {
                write!(f, "bad bool {value} at byte {offset} (must be 0 or 1)")
            }
            Error::BadEnum {
                offset,
                type_name,
                value,
            } => write!(
                f,
                "value {value} at byte {offset} is no member of enum `{type_name}`"
            ),
            Error::BadDiscriminant {
                offset,
                type_name,
                value,
            } => write!(
                f,
                "discriminant {value} at byte {offset} selects no arm of union `{type_name}`"
            ),
            Error::NonZeroPadding { offset } => write!(f, "nonzero padding byte at {offset}"),
            Error::InvalidUtf8 { offset } => {
                write!(f, "string at byte {offset} is not valid UTF-8")
            }
            Error::TrailingBytes { offset, remaining } => write!(
                f,
                "{remaining} trailing bytes after the message, which ends at byte {offset}"
            ),
            Error::TooDeep { offset, max_depth } => write!(
                f,
                "values nest deeper than {max_depth} levels at byte {offset}"
            ),
            Error::BadObjectTag { offset, tag } => write!(
                f,
                "bad object tag {tag} at byte {offset} (0 = null, 1 = new, 2 = back-reference)"
            ),
            Error::BadObjectId {
                offset,
                id,
                expected,
            } => write!(
                f,
                "new object at byte {offset} has id {id}, the next id is {expected}"
            ),
            Error::UnknownObject { offset, id } => write!(
                f,
                "back-reference at byte {offset} to object {id}, which has not been sent"
            ),
            Error::ObjectTypeMismatch { offset, id } => write!(
                f,
                "back-reference at byte {offset} to object {id}, which has another type"
            ),
            Error::ObjectBorrowed { offset } => write!(
                f,
                "object at byte {offset} is mutably borrowed and cannot be encoded"
            ),
            Error::TooManyObjects { offset } => {
                write!(f, "too many objects in one message at byte {offset}")
            }
            Error::BadFieldMask {
                type_name,
                mask,
                fields,
            } => write!(
                f,
                "field mask {mask:#x} names fields that struct `{type_name}` (with {fields} fields) lacks"
            ),
        }
    }
}

impl std::error::Error for Error {}
