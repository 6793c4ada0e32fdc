//! Text to tokens. Skips whitespace, `/* */` and `//` comments, and lines
//! whose first non-blank character is `%` (rpcgen passthrough) or `#`
//! (preprocessor).

use crate::idl::Error;
use crate::idl::ast::Pos;

/// A token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    /// A name or keyword.
    Ident(String),
    /// An unsigned literal (the sign is a separate `-`).
    Number(i128),
    /// One of `{ } ( ) [ ] < > ; : , = * -`.
    Punct(char),
    /// The end of the input.
    Eof,
}

/// A token and where it starts.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) pos: Pos,
}

struct Cursor<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    pos: Pos,
    /// Whether only blanks precede the cursor on its line.
    line_start: bool,
}

impl Cursor<'_> {
    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.pos.line = self.pos.line.saturating_add(1);
            self.pos.column = 1;
            self.line_start = true;
        } else {
            self.pos.column = self.pos.column.saturating_add(1);
            if !c.is_whitespace() {
                self.line_start = false;
            }
        }
        Some(c)
    }

    fn skip_line(&mut self) {
        while self.peek().is_some_and(|c| c != '\n') {
            self.bump();
        }
    }
}

/// The largest literal: 2^64 - 1 (any larger value is an error).
const MAX_LITERAL: i128 = u64::MAX as i128;

/// Splits `text` into tokens, ending with [`Tok::Eof`].
pub(crate) fn lex(text: &str) -> Result<Vec<Token>, Error> {
    let mut c = Cursor {
        chars: text.chars().peekable(),
        pos: Pos { line: 1, column: 1 },
        line_start: true,
    };
    let mut tokens = Vec::new();
    loop {
        let pos = c.pos;
        let at_line_start = c.line_start;
        let Some(ch) = c.peek() else {
            tokens.push(Token { tok: Tok::Eof, pos });
            return Ok(tokens);
        };
        match ch {
            _ if ch.is_whitespace() => {
                c.bump();
            }
            '%' | '#' if at_line_start => c.skip_line(),
            '/' => {
                c.bump();
                match c.peek() {
                    Some('/') => c.skip_line(),
                    Some('*') => {
                        c.bump();
                        let mut star = false;
                        loop {
                            match c.bump() {
                                None => return Err(Error::new(pos, "unterminated comment")),
                                Some('/') if star => break,
                                Some(x) => star = x == '*',
                            }
                        }
                    }
                    _ => return Err(Error::new(pos, "unexpected `/`")),
                }
            }
            'a'..='z' | 'A'..='Z' | '_' => {
                let mut name = String::new();
                while let Some(x) = c.peek().filter(|x| x.is_ascii_alphanumeric() || *x == '_') {
                    name.push(x);
                    c.bump();
                }
                tokens.push(Token {
                    tok: Tok::Ident(name),
                    pos,
                });
            }
            '0'..='9' => {
                let mut digits = String::new();
                while let Some(x) = c.peek().filter(|x| x.is_ascii_alphanumeric() || *x == '_') {
                    digits.push(x);
                    c.bump();
                }
                tokens.push(Token {
                    tok: Tok::Number(number(&digits, pos)?),
                    pos,
                });
            }
            '{' | '}' | '(' | ')' | '[' | ']' | '<' | '>' | ';' | ':' | ',' | '=' | '*' | '-' => {
                c.bump();
                tokens.push(Token {
                    tok: Tok::Punct(ch),
                    pos,
                });
            }
            _ => return Err(Error::new(pos, format!("unexpected character `{ch}`"))),
        }
    }
}

/// A decimal, `0x` hexadecimal or `0` octal literal.
fn number(text: &str, pos: Pos) -> Result<i128, Error> {
    let (digits, radix) =
        if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            (hex, 16)
        } else if text.len() > 1 && text.starts_with('0') {
            (&text[1..], 8)
        } else {
            (text, 10)
        };
    let bad = || Error::new(pos, format!("bad number `{text}`"));
    if digits.is_empty() {
        return Err(bad());
    }
    let mut value: i128 = 0;
    for d in digits.chars() {
        let d = d.to_digit(radix).ok_or_else(bad)?;
        value = value * i128::from(radix) + i128::from(d);
        if value > MAX_LITERAL {
            return Err(Error::new(pos, format!("number `{text}` is too large")));
        }
    }
    Ok(value)
}
