//! The `.x` language (RFC 4506 section 6, with RFC 5531's program
//! definitions): parsed, resolved and compiled to Rust (the role of rpcgen).
//!
//! ```text
//! text ─▶ lexer ─▶ parser ─▶ ast::Spec ─▶ model::resolve ─▶ model::Model ─▶ generate ─▶ Rust
//! ```
//!
//! What becomes what:
//!
//! | XDR                              | Rust                                              |
//! |----------------------------------|---------------------------------------------------|
//! | `const X = 5;`                   | `pub const X: u32 = 5;` (`i32`, `i64`, `u64` as the value needs) |
//! | `enum color { RED = 0, ... };`   | `#[repr(i32)] pub enum Color { Red = 0, ... }`    |
//! | `struct s { int a; ... };`       | `pub struct S { pub a: i32, ... }`                |
//! | `union u switch (int d) { ... }` | `pub enum U { Case1(i32), ..., Default(i32, T) }` |
//! | `typedef int t;`, `typedef int q[4];` | `pub type T = i32;` (an alias)               |
//! | `typedef opaque b<16>;`          | `pub struct B(pub Vec<u8>);` (keeps its maximum)  |
//! | `T *x;`                          | `Option<Box<T>>` for structs, unions and fixed arrays, else `Option<T>` |
//! | `[shared] T *x;` (extension)     | `xdr::ObjRef<T>` (see [`crate::objects`])         |
//! | `program P { version V { ... } = 1; } = 9;` | constants `P`, `V` and one per procedure |
//!
//! A union has a variant per `case` label, named after the label (an
//! enum member's or constant's name in `UpperCamelCase`, `True`/`False`,
//! `Case7`, `CaseMinus1`), holding the arm's value (none for `void`), and
//! a `Default` variant holding the discriminant and the `default` arm:
//!
//! ```text
//! union u switch (int d) { case 1: int a; case 2: void; default: hyper h; };
//!
//! U::Case1(7)        +-----------+-----------+
//!                    |     1     |     7     |   discriminant, then the arm
//!                    +-----------+-----------+
//! U::Case2           +-----------+
//!                    |     2     |               a void arm: nothing more
//!                    +-----------+
//! U::Default(9, 5)   +-----------+-----------------------+
//!                    |     9     |           5           |   (hyper: 8 bytes)
//!                    +-----------+-----------------------+
//! ```
//!
//! Encoding `Default` with a discriminant that a `case` owns is an error
//! (it would decode as that case). Names are converted to Rust
//! conventions; a name that would collide gets a number (`Foo2`, `foo_2`)
//! and Rust keywords get a `_` suffix.
//!
//! Extensions (rpcgen rejects them): struct fields may carry `[in]`,
//! `[out]` or `[inout]` (see [`crate::fields`]) and `[shared]` (see
//! [`crate::objects`]).

pub mod ast;
mod generate;
mod lexer;
pub mod model;
pub mod names;
mod parser;

pub use ast::Pos;
pub use generate::generate_model;
pub use model::resolve;
pub use parser::{KEYWORDS, parse};

use std::fmt;

/// A problem in a `.x` file, with where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// Where.
    pub pos: Pos,
    /// What.
    pub message: String,
}

impl Error {
    pub(crate) fn new(pos: Pos, message: impl Into<String>) -> Self {
        Self {
            pos,
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pos, self.message)
    }
}

impl std::error::Error for Error {}

/// Compiles a `.x` file to Rust source: types implementing `xdr::Xdr`
/// (and `xdr::Fields` for structs), constants, and program numbers. The
/// code refers to this crate as `::xdr` and carries a doc comment on every
/// public item.
pub fn generate(text: &str) -> Result<String, Error> {
    let spec = parse(text)?;
    let model = resolve(&spec)?;
    Ok(generate_model(&model))
}
