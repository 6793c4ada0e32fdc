//! The lexer: source text to tokens. It never fails: a character it does not
//! know becomes an [`TokenKind::Unknown`] token for the parser to report.

use crate::span::{FileId, Span};

/// The kinds of token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// A name or keyword (keywords are told apart by the parser).
    Ident,
    /// A decimal or `0x` hexadecimal integer.
    Int,
    /// An integer with a time unit: `5s`, `200ms`, `50us`.
    Duration,
    /// A double-quoted string (imports only).
    Str,
    /// A `///` comment: documentation for the next declaration.
    Doc,
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `;`
    Semi,
    /// `,`
    Comma,
    /// `.`
    Dot,
    /// `:`
    Colon,
    /// `?`
    Question,
    /// `!`
    Bang,
    /// `/`
    Slash,
    /// `->`
    Arrow,
    /// `=`
    Eq,
    /// `+=`
    PlusEq,
    /// `-=`
    MinusEq,
    /// `==`
    EqEq,
    /// `!=`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `&&`
    AndAnd,
    /// `||`
    OrOr,
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `*`
    Star,
    /// `%`
    Percent,
    /// A string with no closing quote, or a `/*` comment with no `*/`.
    Unterminated,
    /// A character that starts no token.
    Unknown,
    /// End of input.
    Eof,
}

impl TokenKind {
    /// How the token is named in "expected ..." messages.
    pub fn describe(self) -> &'static str {
        use TokenKind::*;
        match self {
            Ident => "a name",
            Int => "an integer",
            Duration => "a duration",
            Str => "a string",
            Doc => "a doc comment",
            LBrace => "`{`",
            RBrace => "`}`",
            LParen => "`(`",
            RParen => "`)`",
            LBracket => "`[`",
            RBracket => "`]`",
            Semi => "`;`",
            Comma => "`,`",
            Dot => "`.`",
            Colon => "`:`",
            Question => "`?`",
            Bang => "`!`",
            Slash => "`/`",
            Arrow => "`->`",
            Eq => "`=`",
            PlusEq => "`+=`",
            MinusEq => "`-=`",
            EqEq => "`==`",
            NotEq => "`!=`",
            Lt => "`<`",
            Le => "`<=`",
            Gt => "`>`",
            Ge => "`>=`",
            AndAnd => "`&&`",
            OrOr => "`||`",
            Plus => "`+`",
            Minus => "`-`",
            Star => "`*`",
            Percent => "`%`",
            Unterminated => "an unterminated string or comment",
            Unknown => "an unknown character",
            Eof => "end of file",
        }
    }
}

/// A token: its kind and where it is. The text is the source under the span.
#[derive(Clone, Copy, Debug)]
pub struct Token {
    /// What it is.
    pub kind: TokenKind,
    /// Where it is.
    pub span: Span,
}

/// Splits `text` into tokens, skipping whitespace and `//` and `/* */`
/// comments (but keeping `///` doc comments). The last token is `Eof`.
pub fn lex(file: FileId, text: &str) -> Vec<Token> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::with_capacity(text.len() / 4);
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let c = bytes[i];
        let kind = match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let doc = bytes.get(i + 2) == Some(&b'/') && bytes.get(i + 3) != Some(&b'/');
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                if !doc {
                    continue;
                }
                TokenKind::Doc
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                let mut depth = 1;
                while i < bytes.len() && depth > 0 {
                    if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                    } else if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
                if depth > 0 {
                    TokenKind::Unterminated
                } else {
                    continue;
                }
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += 1;
                }
                if i < bytes.len() && bytes[i] == b'"' {
                    i += 1;
                    TokenKind::Str
                } else {
                    TokenKind::Unterminated
                }
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                TokenKind::Ident
            }
            b'0'..=b'9' => {
                i += 1;
                if c == b'0' && matches!(bytes.get(i), Some(b'x' | b'X')) {
                    i += 1;
                    while i < bytes.len() && (bytes[i].is_ascii_hexdigit() || bytes[i] == b'_') {
                        i += 1;
                    }
                } else {
                    while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'_') {
                        i += 1;
                    }
                }
                // A unit glued to the number makes a duration; any other
                // letters glued to it are swallowed so that `12abc` is one
                // (bad) token rather than two surprising ones.
                let unit_start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                if i > unit_start {
                    TokenKind::Duration
                } else {
                    TokenKind::Int
                }
            }
            _ => {
                i += 1;
                let next = bytes.get(i).copied();
                let two = |k2| (k2, 1);
                let (kind, extra) = match (c, next) {
                    (b'-', Some(b'>')) => two(TokenKind::Arrow),
                    (b'+', Some(b'=')) => two(TokenKind::PlusEq),
                    (b'-', Some(b'=')) => two(TokenKind::MinusEq),
                    (b'=', Some(b'=')) => two(TokenKind::EqEq),
                    (b'!', Some(b'=')) => two(TokenKind::NotEq),
                    (b'<', Some(b'=')) => two(TokenKind::Le),
                    (b'>', Some(b'=')) => two(TokenKind::Ge),
                    (b'&', Some(b'&')) => two(TokenKind::AndAnd),
                    (b'|', Some(b'|')) => two(TokenKind::OrOr),
                    (b'{', _) => (TokenKind::LBrace, 0),
                    (b'}', _) => (TokenKind::RBrace, 0),
                    (b'(', _) => (TokenKind::LParen, 0),
                    (b')', _) => (TokenKind::RParen, 0),
                    (b'[', _) => (TokenKind::LBracket, 0),
                    (b']', _) => (TokenKind::RBracket, 0),
                    (b';', _) => (TokenKind::Semi, 0),
                    (b',', _) => (TokenKind::Comma, 0),
                    (b'.', _) => (TokenKind::Dot, 0),
                    (b':', _) => (TokenKind::Colon, 0),
                    (b'?', _) => (TokenKind::Question, 0),
                    (b'!', _) => (TokenKind::Bang, 0),
                    (b'/', _) => (TokenKind::Slash, 0),
                    (b'=', _) => (TokenKind::Eq, 0),
                    (b'<', _) => (TokenKind::Lt, 0),
                    (b'>', _) => (TokenKind::Gt, 0),
                    (b'+', _) => (TokenKind::Plus, 0),
                    (b'-', _) => (TokenKind::Minus, 0),
                    (b'*', _) => (TokenKind::Star, 0),
                    (b'%', _) => (TokenKind::Percent, 0),
                    _ => {
                        // Skip the rest of a multi-byte character so spans
                        // stay on character boundaries.
                        while i < bytes.len() && !text.is_char_boundary(i) {
                            i += 1;
                        }
                        (TokenKind::Unknown, 0)
                    }
                };
                i += extra;
                kind
            }
        };
        tokens.push(Token {
            kind,
            span: Span::new(file, start, i),
        });
    }
    tokens.push(Token {
        kind: TokenKind::Eof,
        span: Span::new(file, text.len(), text.len()),
    });
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<TokenKind> {
        lex(FileId(0), text).into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn lexes_a_transition() {
        use TokenKind::*;
        assert_eq!(
            kinds("?sleep(l) [l > D0] / p = l -> s; // c"),
            vec![
                Question, Ident, LParen, Ident, RParen, LBracket, Ident, Gt, Ident, RBracket,
                Slash, Ident, Eq, Ident, Arrow, Ident, Semi, Eof
            ]
        );
    }

    #[test]
    fn durations_and_numbers() {
        use TokenKind::*;
        assert_eq!(
            kinds("5s 200ms 0x1F 7"),
            vec![Duration, Duration, Int, Int, Eof]
        );
    }

    #[test]
    fn doc_comments_kept_plain_comments_dropped() {
        use TokenKind::*;
        assert_eq!(
            kinds("/// doc\n// no\n//// no\n/* a /* nested */ b */ x"),
            vec![Doc, Ident, Eof]
        );
    }

    #[test]
    fn bad_input_becomes_tokens() {
        use TokenKind::*;
        assert_eq!(
            kinds("\"abc\n€ /* x"),
            vec![Unterminated, Unknown, Unterminated, Eof]
        );
    }
}
