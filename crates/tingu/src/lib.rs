//! The Tingu protocol language: syntax, checks, the intermediate form and diagrams.
//!
//! ```text
//!  .tingu files ──Library::load──▶ syntax trees ──check──▶ ir::Model ──▶ observers,
//!                  (lexer, parser,                (names, types,        code generation,
//!                   imports)                       statechart rules)    diagrams
//! ```
//!
//! Architecture invariant: nothing here panics on bad input. Every problem
//! in a spec becomes a [`Diagnostic`] with a span, and checking goes on to
//! find the next one.

pub mod check;
pub mod diagnostic;
pub mod graph;
pub mod ir;
pub mod library;
pub mod span;
pub mod syntax;
pub mod synth;

pub use check::{Checked, check};
pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use library::{Library, LoadError};
pub use span::{FileId, SourceMap, Span};
