//! Syntax: tokens, the tree, the parser and the printer.

pub mod ast;
pub mod lexer;
pub mod parser;
pub mod printer;

pub use parser::parse;
pub use printer::print;
