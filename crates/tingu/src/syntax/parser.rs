//! A hand-written recursive-descent parser with error recovery.
//!
//! Every syntax error is reported and the parser resynchronises at the next
//! `;`, `}` or declaration keyword, so one run reports every error in a file.
//! Parsing never fails: it always returns a (possibly partial) tree.

use super::ast::*;
use super::lexer::{Token, TokenKind, lex};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::span::{FileId, Span};

/// Words that cannot be used as names.
pub const KEYWORDS: &[&str] = &[
    "import",
    "enum",
    "type",
    "opaque",
    "const",
    "protocol",
    "component",
    "in",
    "out",
    "concurrent",
    "initial",
    "final",
    "state",
    "mirror",
    "after",
    "true",
    "false",
];

const ITEM_KEYWORDS: &[&str] = &[
    "import",
    "enum",
    "type",
    "opaque",
    "const",
    "protocol",
    "component",
];
const SECTIONS: &[&str] = &["dependencies", "messages", "variables", "states"];

/// How deeply states, parentheses and prefix operators may nest (together).
/// The parser recurses on each level, so without a limit deeply nested input
/// would overflow the stack.
const MAX_NESTING: usize = 128;

/// Parses one file. Syntax errors go to the returned diagnostics; the tree
/// holds everything that could be understood.
pub fn parse(file: FileId, text: &str) -> (File, Diagnostics) {
    let mut parser = Parser {
        text,
        tokens: lex(file, text),
        pos: 0,
        diags: Diagnostics::new(),
        depth: 0,
    };
    let file = parser.file();
    (file, parser.diags)
}

/// Marker for "an error was reported; resynchronise".
struct Recover;

type PResult<T> = Result<T, Recover>;

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    diags: Diagnostics,
    /// Current nesting of states, parentheses and prefix operators.
    depth: usize,
}

impl<'a> Parser<'a> {
    // ---- token access -------------------------------------------------

    /// Index of the current token, skipping doc comments.
    fn index(&self) -> usize {
        let mut i = self.pos;
        while self.tokens[i].kind == TokenKind::Doc {
            i += 1;
        }
        i
    }

    fn peek(&self) -> Token {
        self.tokens[self.index()]
    }

    fn peek_nth(&self, n: usize) -> Token {
        let mut i = self.index();
        for _ in 0..n {
            if self.tokens[i].kind == TokenKind::Eof {
                break;
            }
            i += 1;
            while self.tokens[i].kind == TokenKind::Doc {
                i += 1;
            }
        }
        self.tokens[i]
    }

    fn text_of(&self, token: Token) -> &'a str {
        &self.text[token.span.range()]
    }

    fn at(&self, kind: TokenKind) -> bool {
        self.peek().kind == kind
    }

    fn at_word(&self, word: &str) -> bool {
        let t = self.peek();
        t.kind == TokenKind::Ident && self.text_of(t) == word
    }

    fn at_section(&self) -> bool {
        let t = self.peek();
        t.kind == TokenKind::Ident
            && SECTIONS.contains(&self.text_of(t))
            && self.peek_nth(1).kind == TokenKind::Colon
    }

    fn bump(&mut self) -> Token {
        let i = self.index();
        let t = self.tokens[i];
        if t.kind != TokenKind::Eof {
            self.pos = i + 1;
        }
        t
    }

    fn eat(&mut self, kind: TokenKind) -> bool {
        if self.at(kind) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if self.at_word(word) {
            self.bump();
            true
        } else {
            false
        }
    }

    /// Collects the `///` lines before the current token.
    fn docs(&mut self) -> Docs {
        let mut docs = Vec::new();
        while self.tokens[self.pos].kind == TokenKind::Doc {
            let text = &self.text[self.tokens[self.pos].span.range()];
            let line = text.trim_start_matches('/');
            docs.push(
                line.strip_prefix(' ')
                    .unwrap_or(line)
                    .trim_end()
                    .to_string(),
            );
            self.pos += 1;
        }
        docs
    }

    // ---- errors ---------------------------------------------------------

    fn found(&self, token: Token) -> String {
        match token.kind {
            TokenKind::Ident if KEYWORDS.contains(&self.text_of(token)) => {
                format!("keyword `{}`", self.text_of(token))
            }
            TokenKind::Ident | TokenKind::Int | TokenKind::Duration => {
                format!("`{}`", self.text_of(token))
            }
            kind => kind.describe().to_string(),
        }
    }

    /// Reports "expected X, found Y" at the current token.
    fn expected<T>(&mut self, what: &str) -> PResult<T> {
        let t = self.peek();
        let d = match t.kind {
            TokenKind::Unknown => {
                Diagnostic::error(t.span, format!("unknown character `{}`", self.text_of(t)))
                    .label(format!("expected {what}"))
            }
            TokenKind::Unterminated => {
                let what_ = if self.text_of(t).starts_with('"') {
                    "string"
                } else {
                    "block comment"
                };
                Diagnostic::error(t.span, format!("unterminated {what_}"))
                    .label(format!("this {what_} is never closed"))
            }
            _ => Diagnostic::error(t.span, format!("expected {what}, found {}", self.found(t)))
                .label(format!("expected {what}")),
        };
        self.diags.push(d);
        Err(Recover)
    }

    fn expect(&mut self, kind: TokenKind) -> PResult<Token> {
        if self.at(kind) {
            Ok(self.bump())
        } else {
            let what = kind.describe();
            let t = self.peek();
            // A bad token is reported as such (`unknown character`), not as
            // a missing `;` before it.
            let bad = matches!(t.kind, TokenKind::Unknown | TokenKind::Unterminated);
            if kind == TokenKind::Semi && !bad {
                // Point just after the previous token, where the `;` belongs.
                let prev = self.tokens[..self.index()]
                    .iter()
                    .rev()
                    .find(|t| t.kind != TokenKind::Doc)
                    .map(|t| t.span);
                if let Some(prev) = prev {
                    let at = Span {
                        file: prev.file,
                        start: prev.end,
                        end: prev.end,
                    };
                    self.diags.push(
                        Diagnostic::error(at, format!("expected `;`, found {}", self.found(t)))
                            .label("add `;` here"),
                    );
                    // When what follows clearly starts something new (a new
                    // line, a `}`, a keyword), only the `;` is missing: go on
                    // as if it were there rather than skip the next member.
                    let gap = &self.text[prev.end as usize..t.span.start as usize];
                    let starts_new = gap.contains('\n')
                        || matches!(t.kind, TokenKind::RBrace | TokenKind::Eof)
                        || (t.kind == TokenKind::Ident && KEYWORDS.contains(&self.text_of(t)));
                    if starts_new {
                        return Ok(Token {
                            kind: TokenKind::Semi,
                            span: at,
                        });
                    }
                    return Err(Recover);
                }
            }
            self.expected(what)
        }
    }

    fn ident(&mut self, what: &str) -> PResult<Ident> {
        let t = self.peek();
        if t.kind == TokenKind::Ident {
            let name = self.text_of(t);
            if KEYWORDS.contains(&name) {
                self.diags.push(
                    Diagnostic::error(t.span, format!("expected {what}, found keyword `{name}`"))
                        .label("keywords cannot be used as names"),
                );
                // Used as a name (`state final;`): skip it, so that recovery
                // does not take it for the start of the next member.
                if self.peek_nth(1).kind != TokenKind::Ident {
                    self.bump();
                }
                return Err(Recover);
            }
            self.bump();
            Ok(Ident {
                name: name.to_string(),
                span: t.span,
            })
        } else {
            self.expected(what)
        }
    }

    /// Reports nesting deeper than [`MAX_NESTING`] at the current token.
    fn too_deep<T>(&mut self) -> PResult<T> {
        let t = self.peek();
        self.diags.push(
            Diagnostic::error(t.span, "nesting too deep")
                .label("nesting limit reached here")
                .note(format!(
                    "states, parentheses and prefix operators nest at most {MAX_NESTING} levels deep"
                )),
        );
        Err(Recover)
    }

    /// Runs `f` one nesting level deeper, or reports [`Parser::too_deep`].
    fn nested<T>(&mut self, f: impl FnOnce(&mut Parser<'a>) -> PResult<T>) -> PResult<T> {
        if self.depth >= MAX_NESTING {
            return self.too_deep();
        }
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        result
    }

    // ---- recovery ---------------------------------------------------------

    /// Skips to just after the next `;` at this nesting depth, or to (not
    /// past) a `}` that closes the enclosing block, or to a section header.
    fn recover_member(&mut self) {
        let mut depth = 0usize;
        loop {
            let t = self.peek();
            match t.kind {
                TokenKind::Eof => return,
                TokenKind::Semi if depth == 0 => {
                    self.bump();
                    return;
                }
                TokenKind::LBrace | TokenKind::LParen | TokenKind::LBracket => depth += 1,
                TokenKind::RBrace if depth == 0 => return,
                TokenKind::RBrace | TokenKind::RParen | TokenKind::RBracket => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 && t.kind == TokenKind::RBrace {
                        // A whole `{ ... }` block was skipped: treat it as one member.
                        self.bump();
                        return;
                    }
                }
                _ if depth == 0 && (self.at_section() || self.at_state_start()) => return,
                _ => {}
            }
            self.bump();
        }
    }

    fn at_state_start(&self) -> bool {
        self.at_word("state") || self.at_word("initial") || self.at_word("final")
    }

    /// Skips to the next top-level declaration keyword at brace depth 0.
    fn recover_item(&mut self) {
        let mut depth = 0usize;
        loop {
            let t = self.peek();
            match t.kind {
                TokenKind::Eof => return,
                TokenKind::LBrace => depth += 1,
                TokenKind::RBrace => {
                    depth = depth.saturating_sub(1);
                    self.bump();
                    if depth == 0 {
                        self.eat(TokenKind::Semi);
                        return;
                    }
                    continue;
                }
                TokenKind::Ident if depth == 0 && ITEM_KEYWORDS.contains(&self.text_of(t)) => {
                    return;
                }
                _ => {}
            }
            self.bump();
        }
    }

    // ---- items ------------------------------------------------------------

    fn file(&mut self) -> File {
        let mut items = Vec::new();
        loop {
            let docs = self.docs();
            if self.at(TokenKind::Eof) {
                break;
            }
            let start = self.pos;
            match self.item(docs) {
                Ok(item) => items.push(item),
                Err(Recover) => {
                    if self.pos == start {
                        self.bump();
                    }
                    self.recover_item();
                }
            }
        }
        File { items }
    }

    fn item(&mut self, docs: Docs) -> PResult<Item> {
        let t = self.peek();
        let word = if t.kind == TokenKind::Ident {
            self.text_of(t)
        } else {
            ""
        };
        match word {
            "import" => {
                self.bump();
                let path = self.peek();
                if path.kind != TokenKind::Str {
                    return self.expected("a quoted path");
                }
                self.bump();
                self.expect(TokenKind::Semi)?;
                let raw = self.text_of(path);
                Ok(Item::Import(Import {
                    path: raw[1..raw.len() - 1].to_string(),
                    path_span: path.span,
                }))
            }
            "enum" => self.enum_decl(docs).map(Item::Enum),
            "type" => {
                self.bump();
                let name = self.ident("a type name")?;
                self.expect(TokenKind::Eq)?;
                let ty = self.ident("a type")?;
                self.expect(TokenKind::Semi)?;
                Ok(Item::TypeAlias(TypeAlias { docs, name, ty }))
            }
            "opaque" => {
                self.bump();
                let name = self.ident("a type name")?;
                self.expect(TokenKind::Semi)?;
                Ok(Item::Opaque(Opaque { docs, name }))
            }
            "const" => {
                self.bump();
                let ty = self.ident("a type")?;
                let name = self.ident("a constant name")?;
                self.expect(TokenKind::Eq)?;
                let value = self.expr()?;
                self.expect(TokenKind::Semi)?;
                Ok(Item::Const(Const { docs, ty, name, value }))
            }
            "protocol" => self.protocol(docs).map(Item::Protocol),
            "component" => self.component(docs).map(Item::Component),
            _ => self.expected("a declaration (`protocol`, `component`, `enum`, `type`, `opaque`, `const` or `import`)"),
        }
    }

    fn enum_decl(&mut self, docs: Docs) -> PResult<EnumDecl> {
        self.bump();
        let name = self.ident("an enum name")?;
        self.expect(TokenKind::LBrace)?;
        let mut variants = Vec::new();
        while !self.at(TokenKind::RBrace) {
            let variant = self.ident("a variant name")?;
            let value = if self.eat(TokenKind::Eq) {
                Some(self.expr()?)
            } else {
                None
            };
            variants.push(Variant {
                name: variant,
                value,
            });
            if !self.eat(TokenKind::Comma) {
                break;
            }
        }
        self.expect(TokenKind::RBrace)?;
        self.eat(TokenKind::Semi);
        Ok(EnumDecl {
            docs,
            name,
            variants,
        })
    }

    fn protocol(&mut self, docs: Docs) -> PResult<Protocol> {
        let start = self.bump().span;
        let name = self.ident("a protocol name")?;
        self.expect(TokenKind::LBrace)?;
        let mut protocol = Protocol {
            docs,
            name,
            dependencies: Vec::new(),
            messages: Vec::new(),
            variables: Vec::new(),
            states: None,
            span: start,
        };
        let mut seen: Vec<(&str, Span)> = Vec::new();
        while !self.at(TokenKind::RBrace) && !self.at(TokenKind::Eof) {
            if !self.at_section() {
                let _: PResult<()> = self.expected(
                    "a section (`dependencies:`, `messages:`, `variables:` or `states:`)",
                );
                let before = self.pos;
                self.recover_member();
                if self.pos == before {
                    // Stopped at a state keyword: skip that state whole.
                    self.bump();
                    self.recover_member();
                }
                continue;
            }
            let header = self.bump();
            self.bump(); // the colon
            let section = SECTIONS
                .iter()
                .find(|s| **s == self.text_of(header))
                .copied()
                .unwrap_or("");
            if let Some(&(_, first)) = seen.iter().find(|(s, _)| *s == section) {
                self.diags.push(
                    Diagnostic::error(header.span, format!("duplicate `{section}:` section"))
                        .label("second section")
                        .with(first, "first section")
                        .help("merge it into the first one"),
                );
            }
            seen.push((section, header.span));
            match section {
                "dependencies" => self.members(
                    |p| {
                        let protocol = p.ident("a protocol name")?;
                        let name = p.ident("a name for the dependency")?;
                        p.expect(TokenKind::Semi)?;
                        Ok(Dependency { protocol, name })
                    },
                    &mut protocol.dependencies,
                ),
                "messages" => self.members(Parser::message, &mut protocol.messages),
                "variables" => self.members(
                    |p| {
                        let ty = p.ident("a type")?;
                        let name = p.ident("a variable name")?;
                        let init = if p.eat(TokenKind::Eq) {
                            Some(p.expr()?)
                        } else {
                            None
                        };
                        p.expect(TokenKind::Semi)?;
                        Ok(Variable { ty, name, init })
                    },
                    &mut protocol.variables,
                ),
                _ => {
                    let mut states = protocol.states.take().unwrap_or_default();
                    while !self.at(TokenKind::RBrace)
                        && !self.at(TokenKind::Eof)
                        && !self.at_section()
                    {
                        let docs = self.docs();
                        let before = self.pos;
                        let state = if self.at_state_start() {
                            self.state(docs)
                        } else {
                            self.expected("a state (`state`, `initial state` or `final state`)")
                        };
                        match state {
                            Ok(s) => states.push(s),
                            Err(Recover) => {
                                self.recover_member();
                                if self.pos == before {
                                    self.bump();
                                }
                            }
                        }
                    }
                    protocol.states = Some(states);
                }
            }
        }
        let end = self.expect(TokenKind::RBrace)?;
        self.eat(TokenKind::Semi);
        protocol.span = start.to(end.span);
        Ok(protocol)
    }

    /// Parses members of a section until a section header or `}`.
    fn members<T>(&mut self, mut one: impl FnMut(&mut Parser<'a>) -> PResult<T>, out: &mut Vec<T>) {
        while !self.at(TokenKind::RBrace) && !self.at(TokenKind::Eof) && !self.at_section() {
            if self.at_state_start() {
                return;
            }
            let start = self.pos;
            match one(self) {
                Ok(m) => out.push(m),
                Err(Recover) => {
                    if self.pos == start && !self.at(TokenKind::RBrace) {
                        self.bump();
                    }
                    self.recover_member();
                }
            }
        }
    }

    fn message(&mut self) -> PResult<Message> {
        let docs = self.docs();
        let start = self.peek().span;
        let concurrent = self.eat_word("concurrent");
        let direction = if self.eat_word("in") {
            Direction::In
        } else if self.eat_word("out") {
            Direction::Out
        } else {
            return self.expected("`in` or `out`");
        };
        let name = self.ident("a message name")?;
        self.expect(TokenKind::LParen)?;
        let mut params = Vec::new();
        while !self.at(TokenKind::RParen) {
            let ty = self.ident("a parameter type")?;
            let name = self.ident("a parameter name")?;
            params.push(Param { ty, name });
            if !self.eat(TokenKind::Comma) {
                break;
            }
        }
        self.expect(TokenKind::RParen)?;
        let end = self.expect(TokenKind::Semi)?;
        Ok(Message {
            docs,
            concurrent,
            direction,
            name,
            params,
            span: start.to(end.span),
        })
    }

    fn state(&mut self, docs: Docs) -> PResult<State> {
        let start = self.peek().span;
        let mut initial = false;
        let mut is_final = false;
        loop {
            let t = self.peek();
            let flag = if self.eat_word("initial") {
                &mut initial
            } else if self.eat_word("final") {
                &mut is_final
            } else {
                break;
            };
            if *flag {
                let word = self.text_of(t);
                self.diags.push(
                    Diagnostic::error(t.span, format!("`{word}` is written twice"))
                        .label("repeated")
                        .help(format!("remove one `{word}`")),
                );
            }
            *flag = true;
        }
        if !self.eat_word("state") {
            return self.expected("`state`");
        }
        if self.depth >= MAX_NESTING {
            // `state` is consumed, so the caller's recovery skips the rest
            // of this state, body and all.
            return self.too_deep();
        }
        let name = self.ident("a state name")?;
        let timeout = if self.eat(TokenKind::LBracket) {
            // A bad duration is reported; the state itself is still parsed,
            // so that transitions to it do not become unknown-state errors.
            match self.duration() {
                Ok(d) => {
                    self.expect(TokenKind::RBracket)?;
                    Some(d)
                }
                Err(Recover) => {
                    while !matches!(
                        self.peek().kind,
                        TokenKind::RBracket
                            | TokenKind::LBrace
                            | TokenKind::RBrace
                            | TokenKind::Semi
                            | TokenKind::Eof
                    ) {
                        self.bump();
                    }
                    // Already reported: a missing `]` before the body is not
                    // worth a second error, but the end of the file is.
                    if !self.eat(TokenKind::RBracket)
                        && !matches!(self.peek().kind, TokenKind::LBrace | TokenKind::Semi)
                    {
                        return Err(Recover);
                    }
                    None
                }
            }
        } else {
            None
        };
        if let Ok(end) = self.expect_either_semi() {
            return Ok(State {
                docs,
                initial,
                is_final,
                name,
                timeout,
                body: None,
                span: start.to(end),
            });
        }
        self.expect(TokenKind::LBrace)?;
        let mut body = Vec::new();
        self.depth += 1;
        while !self.at(TokenKind::RBrace) && !self.at(TokenKind::Eof) {
            if self.at_section() {
                break;
            }
            let docs = self.docs();
            let before = self.pos;
            let member = if self.at_state_start() {
                self.state(docs).map(Member::State)
            } else {
                self.transition().map(Member::Transition)
            };
            match member {
                Ok(m) => body.push(m),
                Err(Recover) => {
                    if self.pos == before && !self.at(TokenKind::RBrace) {
                        self.bump();
                    }
                    self.recover_member();
                }
            }
        }
        self.depth -= 1;
        let end = self.expect(TokenKind::RBrace)?;
        Ok(State {
            docs,
            initial,
            is_final,
            name,
            timeout,
            body: Some(body),
            span: start.to(end.span),
        })
    }

    /// `;` ends a state with no body.
    fn expect_either_semi(&mut self) -> Result<Span, ()> {
        if self.at(TokenKind::Semi) {
            Ok(self.bump().span)
        } else {
            Err(())
        }
    }

    fn duration(&mut self) -> PResult<DurationLit> {
        let t = self.peek();
        match t.kind {
            TokenKind::Duration => {
                self.bump();
                let text = self.text_of(t);
                let split = text
                    .find(|c: char| c.is_ascii_alphabetic() && c != '_')
                    .unwrap_or(text.len());
                if text.starts_with("0x") || text.starts_with("0X") {
                    self.diags.push(
                        Diagnostic::error(t.span, "durations are written in decimal")
                            .label("hexadecimal duration")
                            .help("write the number in decimal, e.g. `16s`"),
                    );
                    return Err(Recover);
                }
                let (digits, unit) = text.split_at(split);
                let unit = match unit {
                    "us" => TimeUnit::Micros,
                    "ms" => TimeUnit::Millis,
                    "s" => TimeUnit::Seconds,
                    _ => {
                        self.diags.push(
                            Diagnostic::error(t.span, format!("unknown time unit `{unit}`"))
                                .label("not a time unit")
                                .help("use `us`, `ms` or `s`, e.g. `200ms`"),
                        );
                        return Err(Recover);
                    }
                };
                let value = self.int_value(digits, t.span)?;
                Ok(DurationLit {
                    value,
                    unit,
                    span: t.span,
                })
            }
            TokenKind::Int => {
                self.bump();
                self.diags.push(
                    Diagnostic::error(t.span, "a duration needs a unit")
                        .label("no unit")
                        .help(format!("write `{0}ms`, `{0}s` or `{0}us`", self.text_of(t))),
                );
                Err(Recover)
            }
            _ => self.expected("a duration such as `5s`"),
        }
    }

    /// The value of a decimal or `0x` literal (`_` separators allowed), at
    /// most `i64::MAX`.
    fn int_value(&mut self, text: &str, span: Span) -> PResult<u64> {
        let clean: String = text.chars().filter(|&c| c != '_').collect();
        let (digits, radix) = match clean
            .strip_prefix("0x")
            .or_else(|| clean.strip_prefix("0X"))
        {
            Some(hex) => (hex, 16),
            None => (clean.as_str(), 10),
        };
        let diagnostic = if digits.is_empty() {
            Diagnostic::error(span, "malformed integer literal").label("no digits")
        } else if !digits.chars().all(|c| c.is_digit(radix)) {
            Diagnostic::error(span, "malformed integer literal").label("not a number")
        } else {
            // Nothing but digits: the only way left to fail is overflow.
            match u64::from_str_radix(digits, radix) {
                Ok(v) if v <= i64::MAX as u64 => return Ok(v),
                _ => Diagnostic::error(span, "integer literal too large")
                    .label("does not fit in 63 bits")
                    .note("integers in Tingu are 64-bit signed, so literals go up to 9223372036854775807"),
            }
        };
        self.diags.push(diagnostic);
        Err(Recover)
    }

    fn transition(&mut self) -> PResult<Transition> {
        let start = self.peek().span;
        let trigger = self.trigger()?;
        let guard = if self.eat(TokenKind::LBracket) {
            let e = self.expr()?;
            self.expect(TokenKind::RBracket)?;
            Some(e)
        } else {
            None
        };
        let mut actions = Vec::new();
        if self.eat(TokenKind::Slash) {
            loop {
                let variable = self.ident("a variable to assign")?;
                let op = match self.peek().kind {
                    TokenKind::Eq => AssignOp::Set,
                    TokenKind::PlusEq => AssignOp::Add,
                    TokenKind::MinusEq => AssignOp::Sub,
                    _ => return self.expected("`=`, `+=` or `-=`"),
                };
                self.bump();
                let value = self.expr()?;
                actions.push(Action {
                    variable,
                    op,
                    value,
                });
                if !self.eat(TokenKind::Comma) {
                    break;
                }
            }
        }
        let target = if self.eat(TokenKind::Arrow) {
            Some(self.ident("a target state")?)
        } else {
            None
        };
        let end = self.expect(TokenKind::Semi)?;
        Ok(Transition {
            trigger,
            guard,
            actions,
            target,
            span: start.to(end.span),
        })
    }

    fn trigger(&mut self) -> PResult<Trigger> {
        let t = self.peek();
        match t.kind {
            TokenKind::Question | TokenKind::Bang => {
                self.bump();
                let direction = if t.kind == TokenKind::Question {
                    Direction::In
                } else {
                    Direction::Out
                };
                let message = self.ident("a message name")?;
                let args = self.binders()?;
                Ok(Trigger::Message {
                    direction,
                    message,
                    args,
                })
            }
            TokenKind::Ident if self.text_of(t) == "after" => {
                self.bump();
                self.expect(TokenKind::LParen)?;
                let d = self.duration()?;
                self.expect(TokenKind::RParen)?;
                Ok(Trigger::After(d))
            }
            TokenKind::Ident if self.peek_nth(1).kind == TokenKind::Dot => {
                let dependency = self.ident("a dependency name")?;
                self.bump();
                let message = self.ident("a message name")?;
                let args = self.binders()?;
                Ok(Trigger::Dependency {
                    dependency,
                    message,
                    args,
                })
            }
            TokenKind::Ident if !KEYWORDS.contains(&self.text_of(t)) => {
                self.diags.push(
                    Diagnostic::error(
                        t.span,
                        format!("expected a trigger, found `{}`", self.text_of(t)),
                    )
                    .label("a trigger starts with `?`, `!`, `after` or a dependency name")
                    .help(format!(
                        "write `?{0}` for an incoming message or `!{0}` for an outgoing one",
                        self.text_of(t)
                    )),
                );
                Err(Recover)
            }
            _ => {
                self.expected("a transition (`?msg`, `!msg`, `dep.msg` or `after(..)`) or a state")
            }
        }
    }

    fn binders(&mut self) -> PResult<Option<Vec<Ident>>> {
        if !self.eat(TokenKind::LParen) {
            return Ok(None);
        }
        let mut args = Vec::new();
        while !self.at(TokenKind::RParen) {
            args.push(self.ident("an argument name")?);
            if !self.eat(TokenKind::Comma) {
                break;
            }
        }
        self.expect(TokenKind::RParen)?;
        Ok(Some(args))
    }

    // ---- expressions --------------------------------------------------------

    fn expr(&mut self) -> PResult<Expr> {
        self.binary(1)
    }

    fn binary_op(&self) -> Option<BinaryOp> {
        Some(match self.peek().kind {
            TokenKind::OrOr => BinaryOp::Or,
            TokenKind::AndAnd => BinaryOp::And,
            TokenKind::EqEq => BinaryOp::Eq,
            TokenKind::NotEq => BinaryOp::Ne,
            TokenKind::Lt => BinaryOp::Lt,
            TokenKind::Le => BinaryOp::Le,
            TokenKind::Gt => BinaryOp::Gt,
            TokenKind::Ge => BinaryOp::Ge,
            TokenKind::Plus => BinaryOp::Add,
            TokenKind::Minus => BinaryOp::Sub,
            TokenKind::Star => BinaryOp::Mul,
            TokenKind::Slash => BinaryOp::Div,
            TokenKind::Percent => BinaryOp::Rem,
            _ => return None,
        })
    }

    /// Precedence climbing; all binary operators associate to the left.
    /// Comparisons do not chain: `a < b < c` is an error.
    fn binary(&mut self, min: u8) -> PResult<Expr> {
        let mut lhs = self.unary()?;
        let mut last_cmp: Option<Span> = None;
        while let Some(op) = self.binary_op() {
            let prec = op.precedence();
            if prec < min {
                break;
            }
            let op_span = self.bump().span;
            if prec == 3 {
                if let Some(first) = last_cmp {
                    self.diags.push(
                        Diagnostic::error(op_span, "comparison operators cannot be chained")
                            .label("second comparison")
                            .with(first, "first comparison")
                            .help("split it with `&&`: `a < b && b < c`"),
                    );
                    return Err(Recover);
                }
                last_cmp = Some(op_span);
            }
            let rhs = self.binary(prec + 1)?;
            let span = lhs.span.to(rhs.span);
            lhs = Expr {
                kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
                span,
            };
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> PResult<Expr> {
        let t = self.peek();
        let op = match t.kind {
            TokenKind::Minus => UnaryOp::Neg,
            TokenKind::Bang => UnaryOp::Not,
            _ => return self.primary(),
        };
        self.bump();
        let operand = self.nested(Parser::unary)?;
        let span = t.span.to(operand.span);
        Ok(Expr {
            kind: ExprKind::Unary(op, Box::new(operand)),
            span,
        })
    }

    fn primary(&mut self) -> PResult<Expr> {
        let t = self.peek();
        match t.kind {
            TokenKind::Int => {
                self.bump();
                let v = self.int_value(self.text_of(t), t.span)?;
                Ok(Expr {
                    kind: ExprKind::Int(v),
                    span: t.span,
                })
            }
            TokenKind::LParen => {
                self.bump();
                let inner = self.nested(Parser::expr)?;
                let end = self.expect(TokenKind::RParen)?;
                Ok(Expr {
                    kind: inner.kind,
                    span: t.span.to(end.span),
                })
            }
            TokenKind::Ident if self.text_of(t) == "true" || self.text_of(t) == "false" => {
                self.bump();
                Ok(Expr {
                    kind: ExprKind::Bool(self.text_of(t) == "true"),
                    span: t.span,
                })
            }
            TokenKind::Ident => {
                let name = self.ident("an expression")?;
                if self.eat_word("in") {
                    let mut path = vec![self.ident("a state name")?];
                    while self.eat(TokenKind::Dot) {
                        path.push(self.ident("a state name")?);
                    }
                    let span = name.span.to(path.last().map_or(name.span, |p| p.span));
                    return Ok(Expr {
                        kind: ExprKind::InState {
                            dependency: name,
                            path,
                        },
                        span,
                    });
                }
                let span = name.span;
                Ok(Expr {
                    kind: ExprKind::Name(name),
                    span,
                })
            }
            TokenKind::Duration => {
                self.bump();
                let text = self.text_of(t);
                // The lexer glues any letters to a number: `5s` is a
                // duration, `4k` a number with a bad suffix.
                let digits = match text.get(..2) {
                    Some("0x" | "0X") => {
                        2 + text[2..]
                            .find(|c: char| !c.is_ascii_hexdigit() && c != '_')
                            .unwrap_or(text.len() - 2)
                    }
                    _ => text
                        .find(|c: char| c.is_ascii_alphabetic())
                        .unwrap_or(text.len()),
                };
                let suffix = &text[digits..];
                let d = if matches!(suffix, "us" | "ms" | "s") {
                    Diagnostic::error(t.span, format!("`{text}` is not a number"))
                        .label("durations are only allowed in `[timeouts]` and `after(..)`")
                } else {
                    Diagnostic::error(
                        t.span,
                        format!("invalid suffix `{suffix}` on number `{text}`"),
                    )
                    .label("numbers have no suffixes (only durations do: `us`, `ms`, `s`)")
                };
                self.diags.push(d);
                Err(Recover)
            }
            _ => self.expected("an expression"),
        }
    }

    // ---- components ---------------------------------------------------------

    fn component(&mut self, docs: Docs) -> PResult<Component> {
        let start = self.bump().span;
        let name = self.ident("a component name")?;
        self.expect(TokenKind::LBrace)?;
        let mut ports = Vec::new();
        if !self.at(TokenKind::RBrace) {
            if !(self.at_word("ports") && self.peek_nth(1).kind == TokenKind::Colon) {
                return self.expected("`ports:`");
            }
            self.bump();
            self.bump();
            self.members(Parser::port, &mut ports);
        }
        let end = self.expect(TokenKind::RBrace)?;
        self.eat(TokenKind::Semi);
        Ok(Component {
            docs,
            name,
            ports,
            span: start.to(end.span),
        })
    }

    fn port(&mut self) -> PResult<Port> {
        let start = self.peek().span;
        let mirror = self.eat_word("mirror");
        let protocol = self.ident("a protocol name")?;
        let name = self.ident("a port name")?;
        let bindings = if self.eat(TokenKind::LParen) {
            let mut b = Vec::new();
            while !self.at(TokenKind::RParen) {
                b.push(self.ident("a port name")?);
                if !self.eat(TokenKind::Comma) {
                    break;
                }
            }
            self.expect(TokenKind::RParen)?;
            Some(b)
        } else {
            None
        };
        let end = self.expect(TokenKind::Semi)?;
        Ok(Port {
            mirror,
            protocol,
            name,
            bindings,
            span: start.to(end.span),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> File {
        let (file, diags) = parse(FileId(0), text);
        assert!(diags.is_empty(), "unexpected diagnostics: {diags:?}");
        file
    }

    fn errors(text: &str) -> Vec<String> {
        let (_, diags) = parse(FileId(0), text);
        diags.iter().map(|d| d.message.clone()).collect()
    }

    #[test]
    fn parses_the_brief_power_management() {
        let file = ok(r#"
            enum power_level_t { D0, D1, D2, D3 }
            protocol PowerManagement {
            dependencies:
              Lifecycle lc;
            messages:
              in  sleep(power_level_t level);
              out sleepComplete();
            variables:
              power_level_t power_level = D0;
            states:
              initial state init { lc.startComplete -> full_power; }
              state powered {
                lc.unplugged -> gone;
                initial state full_power {
                  ?sleep(level) [level > D0] / power_level = level -> sleep_prepare;
                }
                state sleep_prepare [2s] { !sleepComplete -> full_power; }
              }
              final state gone;
            }
        "#);
        let Item::Protocol(p) = &file.items[1] else {
            panic!()
        };
        let states = p.states.as_ref().unwrap();
        assert_eq!(states.len(), 3);
        let powered = &states[1];
        assert_eq!(powered.children().count(), 2);
        let sp = powered.children().nth(1).unwrap();
        assert_eq!(sp.timeout.unwrap().micros(), 2_000_000);
    }

    #[test]
    fn reports_every_error_in_a_file() {
        let errs = errors(
            "protocol P { messages: in a(; out b(); states: initial state s { ?a -> ; !b } }\n\
             protocol Q { messages: in c() }",
        );
        assert!(errs.len() >= 3, "{errs:?}");
    }

    #[test]
    fn chained_comparisons_rejected() {
        let errs = errors("const u32 X = 1 < 2 < 3;");
        assert_eq!(errs, vec!["comparison operators cannot be chained"]);
    }

    #[test]
    fn precedence() {
        let file = ok("const bool X = 1 + 2 * 3 == 7 && !false || true;");
        let Item::Const(c) = &file.items[0] else {
            panic!()
        };
        let ExprKind::Binary(BinaryOp::Or, lhs, _) = &c.value.kind else {
            panic!("{:?}", c.value)
        };
        assert!(matches!(lhs.kind, ExprKind::Binary(BinaryOp::And, _, _)));
    }
}

#[cfg(test)]
mod recovery_tests {
    use super::*;

    #[test]
    fn a_stray_member_in_states_does_not_swallow_the_next_state() {
        let (file, diags) = parse(
            FileId(0),
            "protocol P { messages: in a(); states: initial state s { ?a -> t; } ?x; state t { ?a -> s; } }",
        );
        let msgs: Vec<&str> = diags.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            msgs,
            vec!["expected a state (`state`, `initial state` or `final state`), found `?`"]
        );
        let Item::Protocol(p) = &file.items[0] else {
            panic!()
        };
        let names: Vec<&str> = p
            .states
            .as_ref()
            .unwrap()
            .iter()
            .map(|s| s.name.name.as_str())
            .collect();
        assert_eq!(names, vec!["s", "t"]);
    }
}
