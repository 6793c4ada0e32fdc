//! The [`Xdr`] trait and its implementations for the built-in XDR types.
//!
//! | XDR                  | Rust                  | wire                                  |
//! |----------------------|-----------------------|---------------------------------------|
//! | `int`                | `i32`                 | 4 bytes, big-endian, two's complement |
//! | `unsigned int`       | `u32`                 | 4 bytes, big-endian                   |
//! | `hyper`              | `i64`                 | 8 bytes                               |
//! | `unsigned hyper`     | `u64`                 | 8 bytes                               |
//! | `float` / `double`   | `f32` / `f64`         | IEEE 754, 4 / 8 bytes                 |
//! | `bool`               | `bool`                | `int` 0 or 1 (anything else: error)   |
//! | `opaque x[N]`        | `[u8; N]`             | N bytes, zero padding to 4            |
//! | `opaque x<max>`      | `Vec<u8>`             | length, bytes, zero padding           |
//! | `string x<max>`      | `String`              | as `opaque x<max>`; UTF-8 checked     |
//! | `T x[N]`             | `[T; N]`              | N elements                            |
//! | `T x<max>`           | `Vec<T>`              | count, elements                       |
//! | `T *x`               | `Option<T>`           | `bool` present, then the value        |
//! | `void`               | `()`                  | nothing                               |
//!
//! The implementations for `Vec<u8>`, `String` and `Vec<T>` have no
//! maximum (2^32 - 1); declared maximums go through
//! [`Encoder::write_opaque`], [`Decoder::read_opaque`] and their siblings,
//! which is what generated code calls.
//!
//! `string` is specified as ASCII; here it is `String`, sent as its UTF-8
//! bytes, and a string that is not UTF-8 fails to decode with
//! [`Error::InvalidUtf8`] (ASCII is UTF-8, so every ASCII peer agrees).

use crate::encoder::padding;
use crate::{Decoder, Encoder, Error};

/// A type with an XDR encoding.
pub trait Xdr: Sized {
    /// The fewest bytes any value of the type takes on the wire. Decoders
    /// use it to refuse counts that the rest of the input cannot hold
    /// before they allocate.
    const MIN_SIZE: usize;

    /// Appends the encoding of `self`. Fails only when a value breaks a
    /// declared bound (a length over its maximum, a union `default` arm
    /// with a discriminant that a `case` owns, an object in use).
    fn encode(&self, e: &mut Encoder) -> Result<(), Error>;

    /// Reads a value. Never panics; see [`Decoder`] for the allocation bound.
    fn decode(d: &mut Decoder<'_>) -> Result<Self, Error>;

    /// The encoding of `self` as a message of its own.
    fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        let mut e = Encoder::new();
        self.encode(&mut e)?;
        Ok(e.finish())
    }

    /// Decodes a whole message: bytes left over are [`Error::TrailingBytes`].
    /// On an error, objects decoded so far are discarded
    /// ([`Decoder::discard_objects`]), so failed input leaks no cycles.
    fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut d = Decoder::new(bytes);
        let result = Self::decode(&mut d).and_then(|v| d.finish().map(|()| v));
        if result.is_err() {
            d.discard_objects();
        }
        result
    }
}

macro_rules! scalar {
    ($t:ty, $size:expr, $write:ident, $read:ident) => {
        impl Xdr for $t {
            const MIN_SIZE: usize = $size;
            fn encode(&self, e: &mut Encoder) -> Result<(), Error> {
                e.$write(*self);
                Ok(())
            }
            fn decode(d: &mut Decoder<'_>) -> Result<Self, Error> {
                d.$read()
            }
        }
    };
}

scalar!(i32, 4, write_i32, read_i32);
scalar!(u32, 4, write_u32, read_u32);
scalar!(i64, 8, write_i64, read_i64);
scalar!(u64, 8, write_u64, read_u64);
scalar!(f32, 4, write_f32, read_f32);
scalar!(f64, 8, write_f64, read_f64);
scalar!(bool, 4, write_bool, read_bool);

impl Xdr for () {
    const MIN_SIZE: usize = 0;
    fn encode(&self, _: &mut Encoder) -> Result<(), Error> {
        Ok(())
    }
    fn decode(_: &mut Decoder<'_>) -> Result<Self, Error> {
        Ok(())
    }
}

/// Fixed-length opaque data.
impl<const N: usize> Xdr for [u8; N] {
    const MIN_SIZE: usize = N.saturating_add(padding(N));
    fn encode(&self, e: &mut Encoder) -> Result<(), Error> {
        e.write_fixed_opaque(self);
        Ok(())
    }
    fn decode(d: &mut Decoder<'_>) -> Result<Self, Error> {
        let mut out = [0; N];
        d.read_fixed_opaque_into(&mut out)?;
        Ok(out)
    }
}

/// Fixed-length array.
impl<T: Xdr, const N: usize> Xdr for [T; N] {
    const MIN_SIZE: usize = N.saturating_mul(T::MIN_SIZE);
    fn encode(&self, e: &mut Encoder) -> Result<(), Error> {
        self.iter().try_for_each(|item| item.encode(e))
    }
    fn decode(d: &mut Decoder<'_>) -> Result<Self, Error> {
        d.check_room(N, T::MIN_SIZE)?;
        let items = d.read_elements::<T>(N)?;
        // `read_elements` returns exactly N items or fails.
        items.try_into().map_err(|_| Error::Truncated {
            offset: d.position(),
            needed: 0,
            available: d.remaining(),
        })
    }
}

/// Variable-length opaque data with no maximum.
impl Xdr for Vec<u8> {
    const MIN_SIZE: usize = 4;
    fn encode(&self, e: &mut Encoder) -> Result<(), Error> {
        e.write_opaque(self, u32::MAX)
    }
    fn decode(d: &mut Decoder<'_>) -> Result<Self, Error> {
        d.read_opaque(u32::MAX)
    }
}

/// A string with no maximum.
impl Xdr for String {
    const MIN_SIZE: usize = 4;
    fn encode(&self, e: &mut Encoder) -> Result<(), Error> {
        e.write_string(self, u32::MAX)
    }
    fn decode(d: &mut Decoder<'_>) -> Result<Self, Error> {
        d.read_string(u32::MAX)
    }
}

/// Variable-length array with no maximum.
impl<T: Xdr> Xdr for Vec<T> {
    const MIN_SIZE: usize = 4;
    fn encode(&self, e: &mut Encoder) -> Result<(), Error> {
        e.write_array(self, u32::MAX)
    }
    fn decode(d: &mut Decoder<'_>) -> Result<Self, Error> {
        d.read_array(u32::MAX)
    }
}

/// Optional data (`T *x`): a `bool`, then the value if it is `TRUE`.
impl<T: Xdr> Xdr for Option<T> {
    const MIN_SIZE: usize = 4;
    fn encode(&self, e: &mut Encoder) -> Result<(), Error> {
        e.write_bool(self.is_some());
        match self {
            Some(v) => v.encode(e),
            None => Ok(()),
        }
    }
    fn decode(d: &mut Decoder<'_>) -> Result<Self, Error> {
        if d.read_bool()? {
            d.nested(|d| T::decode(d).map(Some))
        } else {
            Ok(None)
        }
    }
}

/// A box is its content.
impl<T: Xdr> Xdr for Box<T> {
    const MIN_SIZE: usize = T::MIN_SIZE;
    fn encode(&self, e: &mut Encoder) -> Result<(), Error> {
        (**self).encode(e)
    }
    fn decode(d: &mut Decoder<'_>) -> Result<Self, Error> {
        T::decode(d).map(Box::new)
    }
}

/// The sum of `sizes`, saturating: a struct's [`Xdr::MIN_SIZE`] from its
/// fields' (generated code calls it).
pub const fn min_size_sum(sizes: &[usize]) -> usize {
    let mut total = 0usize;
    let mut i = 0;
    while i < sizes.len() {
        total = total.saturating_add(sizes[i]);
        i += 1;
    }
    total
}
