//! The Tingu protocol language.

pub mod diagnostic;
pub mod span;
pub mod syntax;

pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use span::{FileId, SourceMap, Span};
