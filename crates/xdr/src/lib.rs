//! XDR (RFC 4506) for the Decaf half: objects cross the boundary between a
//! driver's nucleus and its user-level part marshaled with XDR.
//!
//! - [`Xdr`], [`Encoder`], [`Decoder`]: the codec, for the built-in types
//!   (see [`codec`] for the table of types and encodings). Decoding never
//!   panics and allocates O(n) bytes for n bytes of input (see [`Decoder`]).
//! - [`objects`]: object identities, so shared and cyclic structures cross
//!   once per message ([`ObjRef`]).
//! - [`fields`]: field subsets, so a call sends only the fields the other
//!   side uses and updates an object in place ([`Fields`], [`FieldMask`]).
//! - [`idl`]: the `.x` language, parsed and compiled to Rust types that
//!   implement [`Xdr`] (the role of rpcgen); [`build::compile`] is its
//!   entry point for `build.rs`.
//!
//! Generated code names this crate `::xdr`.
//!
//! ```
//! use xdr::{Decoder, Encoder, Xdr};
//!
//! assert_eq!(7_i32.to_bytes().unwrap(), [0, 0, 0, 7]);
//! assert_eq!("hi".to_string().to_bytes().unwrap(), [0, 0, 0, 2, b'h', b'i', 0, 0]);
//!
//! // A message of several items, with a declared maximum (`opaque data<8>`).
//! let mut e = Encoder::new();
//! e.write_u32(1);
//! e.write_opaque(b"abc", 8).unwrap();
//! let bytes = e.finish();
//! let mut d = Decoder::new(&bytes);
//! assert_eq!(d.read_u32(), Ok(1));
//! assert_eq!(d.read_opaque(8).unwrap(), b"abc");
//! d.finish().unwrap();
//! assert!(Vec::<u8>::from_bytes(&[0, 0, 0, 9]).is_err()); // 9 bytes claimed, none there
//! ```
//!
//! From a `.x` file (in `build.rs`, see [`build::compile`]):
//!
//! ```
//! let rust = xdr::idl::generate("struct point { int x; int y; };").unwrap();
//! assert!(rust.contains("pub struct Point {"));
//! ```

extern crate self as xdr;

pub mod build;
pub mod codec;
mod decoder;
mod encoder;
mod error;
pub mod fields;
pub mod idl;
pub mod objects;

pub use codec::Xdr;
pub use decoder::{DEFAULT_MAX_DEPTH, Decoder};
pub use encoder::Encoder;
pub use error::Error;
pub use fields::{Direction, FieldMask, Fields, type_id_of_name};
pub use objects::ObjRef;
