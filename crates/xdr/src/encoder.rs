//! [`Encoder`]: values to bytes.

use crate::objects::EncodeTable;
use crate::{Error, Xdr};

/// Writes XDR into a growing buffer. One encoder is one message: object
/// identities (see [`crate::objects`]) are numbered per encoder.
#[derive(Default)]
pub struct Encoder {
    buf: Vec<u8>,
    pub(crate) objects: EncodeTable,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("len", &self.buf.len())
            .field("objects", &self.objects.len())
            .finish()
    }
}

/// How many zero bytes follow `len` bytes of opaque data.
pub(crate) const fn padding(len: usize) -> usize {
    (4 - len % 4) % 4
}

impl Encoder {
    /// An empty message.
    pub fn new() -> Self {
        Self::default()
    }

    /// The bytes written so far.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// How many bytes have been written.
    pub fn position(&self) -> usize {
        self.buf.len()
    }

    /// The message.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }

    /// Writes an `int`.
    pub fn write_i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// Writes an `unsigned int`.
    pub fn write_u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// Writes a `hyper`.
    pub fn write_i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// Writes an `unsigned hyper`.
    pub fn write_u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// Writes a `float` (IEEE 754 single precision).
    pub fn write_f32(&mut self, v: f32) {
        self.buf.extend_from_slice(&v.to_bits().to_be_bytes());
    }

    /// Writes a `double` (IEEE 754 double precision).
    pub fn write_f64(&mut self, v: f64) {
        self.buf.extend_from_slice(&v.to_bits().to_be_bytes());
    }

    /// Writes a `bool` as the `int` 0 or 1.
    pub fn write_bool(&mut self, v: bool) {
        self.write_u32(u32::from(v));
    }

    /// Writes fixed-length opaque data (`opaque x[N]`): the bytes, then zero
    /// bytes up to a multiple of four.
    pub fn write_fixed_opaque(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        self.buf.extend_from_slice(&[0; 3][..padding(bytes.len())]);
    }

    /// Writes a length that must be at most `max`.
    fn write_len(&mut self, len: usize, max: u32) -> Result<(), Error> {
        match u32::try_from(len) {
            Ok(n) if n <= max => {
                self.write_u32(n);
                Ok(())
            }
            _ => Err(Error::TooLong {
                offset: self.position(),
                length: len as u64,
                max: u64::from(max),
            }),
        }
    }

    /// Writes variable-length opaque data (`opaque x<max>`): the length,
    /// the bytes, padding. Fails if there are more than `max` bytes.
    pub fn write_opaque(&mut self, bytes: &[u8], max: u32) -> Result<(), Error> {
        self.write_len(bytes.len(), max)?;
        self.write_fixed_opaque(bytes);
        Ok(())
    }

    /// Writes a `string<max>`: its UTF-8 bytes as variable-length opaque
    /// data. Fails if there are more than `max` bytes.
    pub fn write_string(&mut self, s: &str, max: u32) -> Result<(), Error> {
        self.write_opaque(s.as_bytes(), max)
    }

    /// Writes a variable-length array (`T x<max>`): the count, then each
    /// element. Fails if there are more than `max` elements.
    pub fn write_array<T: Xdr>(&mut self, items: &[T], max: u32) -> Result<(), Error> {
        self.write_len(items.len(), max)?;
        items.iter().try_for_each(|item| item.encode(self))
    }
}
