//! [`Decoder`]: bytes to values, with bounded allocation and nesting.

use crate::encoder::padding;
use crate::objects::DecodeTable;
use crate::{Error, Xdr};

/// How deep values may nest by default (see [`Decoder::with_max_depth`]):
/// a linked list of 256 elements. Each level of a small generated type
/// takes about 1 KiB of stack in a debug build (a tenth of that optimized);
/// types that hold large fixed arrays by value take more.
pub const DEFAULT_MAX_DEPTH: usize = 256;

/// Reads XDR from a byte slice. One decoder is one message: object ids
/// (see [`crate::objects`]) are resolved per decoder.
///
/// # Bounds
///
/// Decoding never panics, and a decode of `n` input bytes allocates
/// O(n) bytes: before it reserves room for `len` elements it checks that
/// `len` is within the declared maximum and that the rest of the input can
/// hold `len` encoded elements (each takes at least [`Xdr::MIN_SIZE`]
/// bytes, at least one). So a vector of `T` costs at most
/// `size_of::<T>() / max(T::MIN_SIZE, 1)` bytes per input byte, a constant
/// of the schema. Nesting (optional data, arrays, objects) is limited to
/// [`DEFAULT_MAX_DEPTH`] levels unless set otherwise, so recursion stays
/// on the stack's safe side.
pub struct Decoder<'a> {
    input: &'a [u8],
    pos: usize,
    depth: usize,
    max_depth: usize,
    pub(crate) objects: DecodeTable,
}

impl std::fmt::Debug for Decoder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("len", &self.input.len())
            .field("position", &self.pos)
            .field("depth", &self.depth)
            .field("max_depth", &self.max_depth)
            .field("objects", &self.objects.len())
            .finish()
    }
}

impl<'a> Decoder<'a> {
    /// A decoder at the start of `input`.
    pub fn new(input: &'a [u8]) -> Self {
        Self {
            input,
            pos: 0,
            depth: 0,
            max_depth: DEFAULT_MAX_DEPTH,
            objects: DecodeTable::default(),
        }
    }

    /// Sets how deep values may nest. Each level costs stack (see
    /// [`DEFAULT_MAX_DEPTH`]): raise it only on a thread with stack to match.
    pub fn with_max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth;
        self
    }

    /// Where the next item starts.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// How many bytes are left.
    pub fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }

    /// Succeeds if the whole input has been read.
    pub fn finish(&self) -> Result<(), Error> {
        match self.remaining() {
            0 => Ok(()),
            remaining => Err(Error::TrailingBytes {
                offset: self.pos,
                remaining,
            }),
        }
    }

    /// Sets every object decoded so far to its default value, which breaks
    /// the links (and so the `Rc` cycles) between them, and forgets them.
    /// Call it when a decode that may have created objects fails (see
    /// [`crate::objects`]); [`Xdr::from_bytes`] does.
    pub fn discard_objects(&mut self) {
        self.objects.discard();
    }

    /// Runs `f` one nesting level deeper; fails with [`Error::TooDeep`] past
    /// the limit. Generated and hand-written `decode`s of recursive types
    /// go through here (optional data, arrays and objects already do).
    pub fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, Error>) -> Result<T, Error> {
        if self.depth >= self.max_depth {
            return Err(Error::TooDeep {
                offset: self.pos,
                max_depth: self.max_depth,
            });
        }
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        result
    }

    /// The next `n` bytes.
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if n > self.remaining() {
            return Err(Error::Truncated {
                offset: self.pos,
                needed: n as u64,
                available: self.remaining(),
            });
        }
        let bytes = &self.input[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// Reads an `int`.
    pub fn read_i32(&mut self) -> Result<i32, Error> {
        self.take_array().map(i32::from_be_bytes)
    }

    /// Reads an `unsigned int`.
    pub fn read_u32(&mut self) -> Result<u32, Error> {
        self.take_array().map(u32::from_be_bytes)
    }

    /// Reads a `hyper`.
    pub fn read_i64(&mut self) -> Result<i64, Error> {
        self.take_array().map(i64::from_be_bytes)
    }

    /// Reads an `unsigned hyper`.
    pub fn read_u64(&mut self) -> Result<u64, Error> {
        self.take_array().map(u64::from_be_bytes)
    }

    /// Reads a `float`.
    pub fn read_f32(&mut self) -> Result<f32, Error> {
        self.take_array()
            .map(|b| f32::from_bits(u32::from_be_bytes(b)))
    }

    /// Reads a `double`.
    pub fn read_f64(&mut self) -> Result<f64, Error> {
        self.take_array()
            .map(|b| f64::from_bits(u64::from_be_bytes(b)))
    }

    /// Reads a `bool`; any value but 0 and 1 is [`Error::BadBool`].
    pub fn read_bool(&mut self) -> Result<bool, Error> {
        let offset = self.pos;
        match self.read_u32()? {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(Error::BadBool { offset, value }),
        }
    }

    /// Reads `n` bytes of opaque data and their padding, which must be zero.
    fn take_opaque(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let padded = n as u64 + padding(n) as u64;
        if padded > self.remaining() as u64 {
            return Err(Error::Truncated {
                offset: self.pos,
                needed: padded,
                available: self.remaining(),
            });
        }
        let bytes = self.take(n)?;
        let pad_at = self.pos;
        let pad = self.take(padding(n))?;
        match pad.iter().position(|&b| b != 0) {
            None => Ok(bytes),
            Some(i) => Err(Error::NonZeroPadding { offset: pad_at + i }),
        }
    }

    /// Reads fixed-length opaque data (`opaque x[N]`) into `out`.
    pub fn read_fixed_opaque_into(&mut self, out: &mut [u8]) -> Result<(), Error> {
        out.copy_from_slice(self.take_opaque(out.len())?);
        Ok(())
    }

    /// Reads a length, at most `max`, for `len` items of at least
    /// `min_size` bytes each that the rest of the input must be able to
    /// hold. Returns the length and where it was.
    fn read_len(&mut self, max: u32, min_size: usize) -> Result<(usize, usize), Error> {
        let offset = self.pos;
        let len = self.read_u32()?;
        if len > max {
            return Err(Error::TooLong {
                offset,
                length: u64::from(len),
                max: u64::from(max),
            });
        }
        let need = u64::from(len).saturating_mul(min_size.max(1) as u64);
        if need > self.remaining() as u64 {
            return Err(Error::Truncated {
                offset: self.pos,
                needed: need,
                available: self.remaining(),
            });
        }
        Ok((len as usize, offset))
    }

    /// Reads variable-length opaque data (`opaque x<max>`).
    pub fn read_opaque(&mut self, max: u32) -> Result<Vec<u8>, Error> {
        let (len, _) = self.read_len(max, 1)?;
        self.take_opaque(len).map(<[u8]>::to_vec)
    }

    /// Reads a `string<max>`, which must be UTF-8.
    pub fn read_string(&mut self, max: u32) -> Result<String, Error> {
        let (len, _) = self.read_len(max, 1)?;
        let offset = self.pos;
        let bytes = self.take_opaque(len)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(Error::InvalidUtf8 { offset }),
        }
    }

    /// Reads a variable-length array (`T x<max>`).
    pub fn read_array<T: Xdr>(&mut self, max: u32) -> Result<Vec<T>, Error> {
        let (len, _) = self.read_len(max, T::MIN_SIZE)?;
        self.read_elements(len)
    }

    /// Reads `len` elements, one level deeper. The caller has checked that
    /// the input can hold them.
    pub(crate) fn read_elements<T: Xdr>(&mut self, len: usize) -> Result<Vec<T>, Error> {
        self.nested(|d| {
            let mut items = Vec::with_capacity(len);
            for _ in 0..len {
                items.push(T::decode(d)?);
            }
            Ok(items)
        })
    }

    /// Checks that the rest of the input can hold `count` items of at
    /// least `min_size` bytes each (for fixed-length arrays).
    pub(crate) fn check_room(&self, count: usize, min_size: usize) -> Result<(), Error> {
        let need = (count as u64).saturating_mul(min_size.max(1) as u64);
        if need > self.remaining() as u64 {
            return Err(Error::Truncated {
                offset: self.pos,
                needed: need,
                available: self.remaining(),
            });
        }
        Ok(())
    }
}
