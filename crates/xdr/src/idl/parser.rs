//! Tokens to the tree: recursive descent over RFC 4506 section 6 and the
//! program definitions of RFC 5531 section 12. Stops at the first error.

use crate::idl::Error;
use crate::idl::ast::*;
use crate::idl::lexer::{Tok, Token, lex};

/// The reserved words, which are not names.
pub const KEYWORDS: &[&str] = &[
    "bool",
    "case",
    "const",
    "default",
    "double",
    "quadruple",
    "enum",
    "float",
    "hyper",
    "int",
    "opaque",
    "string",
    "struct",
    "switch",
    "typedef",
    "union",
    "unsigned",
    "void",
    "program",
    "version",
];

/// How deep types written in place may nest.
const MAX_NESTING: usize = 64;

/// Parses a whole `.x` file.
pub fn parse(text: &str) -> Result<Spec, Error> {
    let tokens = lex(text)?;
    let mut p = Parser {
        tokens,
        at: 0,
        depth: 0,
    };
    let mut definitions = Vec::new();
    while p.peek() != &Tok::Eof {
        definitions.push(p.definition()?);
    }
    Ok(Spec { definitions })
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Ident(name) if KEYWORDS.contains(&name.as_str()) => format!("keyword `{name}`"),
        Tok::Ident(name) => format!("`{name}`"),
        Tok::Number(n) => format!("number `{n}`"),
        Tok::Punct(c) => format!("`{c}`"),
        Tok::Eof => "end of file".to_string(),
    }
}

impl Parser {
    fn token(&self) -> &Token {
        // The last token is Eof, and the parser never moves past it.
        &self.tokens[self.at.min(self.tokens.len() - 1)]
    }

    fn peek(&self) -> &Tok {
        &self.token().tok
    }

    fn pos(&self) -> Pos {
        self.token().pos
    }

    fn bump(&mut self) {
        if self.at + 1 < self.tokens.len() {
            self.at += 1;
        }
    }

    fn unexpected(&self, wanted: &str) -> Error {
        Error::new(
            self.pos(),
            format!("expected {wanted}, found {}", describe(self.peek())),
        )
    }

    fn is_punct(&self, c: char) -> bool {
        self.peek() == &Tok::Punct(c)
    }

    fn eat_punct(&mut self, c: char) -> bool {
        let yes = self.is_punct(c);
        if yes {
            self.bump();
        }
        yes
    }

    fn expect_punct(&mut self, c: char) -> Result<(), Error> {
        if self.eat_punct(c) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("`{c}`")))
        }
    }

    fn is_keyword(&self, k: &str) -> bool {
        matches!(self.peek(), Tok::Ident(name) if name == k)
    }

    fn eat_keyword(&mut self, k: &str) -> bool {
        let yes = self.is_keyword(k);
        if yes {
            self.bump();
        }
        yes
    }

    fn expect_keyword(&mut self, k: &str) -> Result<(), Error> {
        if self.eat_keyword(k) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("`{k}`")))
        }
    }

    /// A name that is not a keyword.
    fn ident(&mut self) -> Result<Ident, Error> {
        match self.peek() {
            Tok::Ident(name) if !KEYWORDS.contains(&name.as_str()) => {
                let id = Ident {
                    name: name.clone(),
                    pos: self.pos(),
                };
                self.bump();
                Ok(id)
            }
            _ => Err(self.unexpected("a name")),
        }
    }

    /// Runs `f` one level of in-place types deeper.
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, Error>) -> Result<T, Error> {
        if self.depth >= MAX_NESTING {
            return Err(Error::new(
                self.pos(),
                format!("types nest more than {MAX_NESTING} levels deep"),
            ));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn definition(&mut self) -> Result<Definition, Error> {
        let def = if self.eat_keyword("const") {
            let name = self.ident()?;
            self.expect_punct('=')?;
            let value = self.value()?;
            Definition::Const(name, value)
        } else if self.eat_keyword("typedef") {
            Definition::Typedef(self.declaration()?)
        } else if self.eat_keyword("enum") {
            let name = self.ident()?;
            Definition::Enum(name, self.enum_body()?)
        } else if self.eat_keyword("struct") {
            let name = self.ident()?;
            Definition::Struct(name, self.struct_body()?)
        } else if self.eat_keyword("union") {
            let name = self.ident()?;
            Definition::Union(name, Box::new(self.union_body()?))
        } else if self.eat_keyword("program") {
            Definition::Program(self.program()?)
        } else {
            return Err(self.unexpected(
                "a definition (`const`, `typedef`, `enum`, `struct`, `union` or `program`)",
            ));
        };
        self.expect_punct(';')?;
        Ok(def)
    }

    /// A constant: a literal (optionally negative) or a name.
    fn value(&mut self) -> Result<Value, Error> {
        let pos = self.pos();
        let negative = self.eat_punct('-');
        match self.peek() {
            Tok::Number(n) => {
                let n = if negative { -*n } else { *n };
                self.bump();
                Ok(Value::Number(n, pos))
            }
            Tok::Ident(_) if !negative => Ok(Value::Name(self.ident()?)),
            _ => Err(self.unexpected("a number or a constant's name")),
        }
    }

    fn enum_body(&mut self) -> Result<EnumBody, Error> {
        self.expect_punct('{')?;
        let mut members = Vec::new();
        loop {
            let name = self.ident()?;
            let value = if self.eat_punct('=') {
                Some(self.value()?)
            } else {
                None
            };
            members.push((name, value));
            if !self.eat_punct(',') {
                break;
            }
            // rpcgen allows a comma after the last member.
            if self.is_punct('}') {
                break;
            }
        }
        self.expect_punct('}')?;
        Ok(EnumBody { members })
    }

    fn struct_body(&mut self) -> Result<StructBody, Error> {
        self.expect_punct('{')?;
        let mut fields = Vec::new();
        loop {
            let attributes = self.attributes()?;
            let decl = self.declaration()?;
            if decl.kind == DeclKind::Void {
                return Err(Error::new(decl.pos, "a struct field cannot be `void`"));
            }
            fields.push(Field { attributes, decl });
            self.expect_punct(';')?;
            if self.eat_punct('}') {
                return Ok(StructBody { fields });
            }
        }
    }

    /// `[in]`, `[out, shared]`, ... before a struct field (an extension).
    fn attributes(&mut self) -> Result<Vec<(Attribute, Pos)>, Error> {
        let mut attributes = Vec::new();
        while self.eat_punct('[') {
            loop {
                let pos = self.pos();
                let attribute = match self.peek() {
                    Tok::Ident(a) if a == "in" => Attribute::In,
                    Tok::Ident(a) if a == "out" => Attribute::Out,
                    Tok::Ident(a) if a == "inout" => Attribute::InOut,
                    Tok::Ident(a) if a == "shared" => Attribute::Shared,
                    _ => return Err(self.unexpected("`in`, `out`, `inout` or `shared`")),
                };
                self.bump();
                attributes.push((attribute, pos));
                if !self.eat_punct(',') {
                    break;
                }
            }
            self.expect_punct(']')?;
        }
        Ok(attributes)
    }

    fn union_body(&mut self) -> Result<UnionBody, Error> {
        self.expect_keyword("switch")?;
        self.expect_punct('(')?;
        let discriminant = self.declaration()?;
        self.expect_punct(')')?;
        self.expect_punct('{')?;
        let mut arms = Vec::new();
        let mut default = None;
        loop {
            if self.eat_keyword("case") {
                let mut cases = vec![self.value()?];
                self.expect_punct(':')?;
                while self.eat_keyword("case") {
                    cases.push(self.value()?);
                    self.expect_punct(':')?;
                }
                let decl = self.declaration()?;
                self.expect_punct(';')?;
                arms.push(Arm { cases, decl });
            } else if self.is_keyword("default") {
                let pos = self.pos();
                self.bump();
                if default.is_some() {
                    return Err(Error::new(pos, "a union has at most one `default` arm"));
                }
                self.expect_punct(':')?;
                default = Some(self.declaration()?);
                self.expect_punct(';')?;
            } else if self.is_punct('}') && (!arms.is_empty() || default.is_some()) {
                self.bump();
                return Ok(UnionBody {
                    discriminant,
                    arms,
                    default,
                });
            } else {
                return Err(self.unexpected("`case` or `default`"));
            }
        }
    }

    /// A type specifier (not `void`, `opaque` or `string`, which only
    /// declarations have).
    fn type_spec(&mut self) -> Result<TypeSpec, Error> {
        let pos = self.pos();
        let Tok::Ident(word) = self.peek().clone() else {
            return Err(self.unexpected("a type"));
        };
        let spec = match word.as_str() {
            "int" => TypeSpec::Int,
            "hyper" => TypeSpec::Hyper,
            "unsigned" => {
                self.bump();
                if self.eat_keyword("int") {
                    return Ok(TypeSpec::UnsignedInt);
                }
                if self.eat_keyword("hyper") {
                    return Ok(TypeSpec::UnsignedHyper);
                }
                // `unsigned` alone is `unsigned int`, as in rpcgen.
                return Ok(TypeSpec::UnsignedInt);
            }
            "float" => TypeSpec::Float,
            "double" => TypeSpec::Double,
            "bool" => TypeSpec::Bool,
            "quadruple" => {
                return Err(Error::new(
                    pos,
                    "`quadruple` (128-bit floating point) is not supported",
                ));
            }
            "enum" | "struct" | "union" => {
                self.bump();
                if matches!(self.peek(), Tok::Ident(n) if !KEYWORDS.contains(&n.as_str())) {
                    // `struct name`: a reference, as rpcgen writes it.
                    return Ok(TypeSpec::Named(self.ident()?));
                }
                return self.nested(|p| match word.as_str() {
                    "enum" => p.enum_body().map(TypeSpec::Enum),
                    "struct" => p.struct_body().map(TypeSpec::Struct),
                    _ => p.union_body().map(|u| TypeSpec::Union(Box::new(u))),
                });
            }
            _ if KEYWORDS.contains(&word.as_str()) => return Err(self.unexpected("a type")),
            _ => return Ok(TypeSpec::Named(self.ident()?)),
        };
        self.bump();
        Ok(spec)
    }

    /// An optional `<max>`, after the `<`.
    fn max(&mut self) -> Result<Option<Value>, Error> {
        if self.eat_punct('>') {
            return Ok(None);
        }
        let v = self.value()?;
        self.expect_punct('>')?;
        Ok(Some(v))
    }

    fn declaration(&mut self) -> Result<Declaration, Error> {
        let pos = self.pos();
        if self.eat_keyword("void") {
            return Ok(Declaration {
                name: None,
                kind: DeclKind::Void,
                pos,
            });
        }
        if self.eat_keyword("opaque") {
            let name = self.ident()?;
            let kind = if self.eat_punct('[') {
                let n = self.value()?;
                self.expect_punct(']')?;
                DeclKind::FixedOpaque(n)
            } else if self.eat_punct('<') {
                DeclKind::VarOpaque(self.max()?)
            } else {
                return Err(self.unexpected("`[` or `<` after an `opaque` name"));
            };
            return Ok(Declaration {
                name: Some(name),
                kind,
                pos,
            });
        }
        if self.eat_keyword("string") {
            let name = self.ident()?;
            if !self.eat_punct('<') {
                return Err(self.unexpected("`<` after a `string` name"));
            }
            let kind = DeclKind::String(self.max()?);
            return Ok(Declaration {
                name: Some(name),
                kind,
                pos,
            });
        }
        let spec = self.type_spec()?;
        if self.eat_punct('*') {
            let name = self.ident()?;
            return Ok(Declaration {
                name: Some(name),
                kind: DeclKind::Optional(spec),
                pos,
            });
        }
        let name = self.ident()?;
        let kind = if self.eat_punct('[') {
            let n = self.value()?;
            self.expect_punct(']')?;
            DeclKind::FixedArray(spec, n)
        } else if self.eat_punct('<') {
            DeclKind::VarArray(spec, self.max()?)
        } else {
            DeclKind::Plain(spec)
        };
        Ok(Declaration {
            name: Some(name),
            kind,
            pos,
        })
    }

    fn program(&mut self) -> Result<Program, Error> {
        let name = self.ident()?;
        self.expect_punct('{')?;
        let mut versions = Vec::new();
        loop {
            self.expect_keyword("version")?;
            let vname = self.ident()?;
            self.expect_punct('{')?;
            let mut procedures = Vec::new();
            loop {
                procedures.push(self.procedure()?);
                if self.eat_punct('}') {
                    break;
                }
            }
            self.expect_punct('=')?;
            let number = self.value()?;
            self.expect_punct(';')?;
            versions.push(Version {
                name: vname,
                procedures,
                number,
            });
            if self.eat_punct('}') {
                break;
            }
        }
        self.expect_punct('=')?;
        let number = self.value()?;
        Ok(Program {
            name,
            versions,
            number,
        })
    }

    /// `void` or a type, for procedure results and arguments.
    fn proc_type(&mut self) -> Result<Option<TypeSpec>, Error> {
        if self.eat_keyword("void") {
            Ok(None)
        } else {
            self.type_spec().map(Some)
        }
    }

    fn procedure(&mut self) -> Result<Procedure, Error> {
        let result = self.proc_type()?;
        let name = self.ident()?;
        self.expect_punct('(')?;
        let mut args = Vec::new();
        let first_pos = self.pos();
        if let Some(first) = self.proc_type()? {
            args.push(first);
            while self.eat_punct(',') {
                let pos = self.pos();
                match self.proc_type()? {
                    Some(t) => args.push(t),
                    None => return Err(Error::new(pos, "only a lone argument can be `void`")),
                }
            }
        } else if self.is_punct(',') {
            return Err(Error::new(first_pos, "only a lone argument can be `void`"));
        }
        self.expect_punct(')')?;
        self.expect_punct('=')?;
        let number = self.value()?;
        self.expect_punct(';')?;
        Ok(Procedure {
            name,
            result,
            args,
            number,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn errors_have_line_and_column() {
        assert_eq!(
            err("const A = 1;\nstruct s { int };"),
            "2:16: expected a name, found `}`"
        );
        assert_eq!(
            err("typedef quadruple q;"),
            "1:9: `quadruple` (128-bit floating point) is not supported"
        );
        assert_eq!(err("/* open"), "1:1: unterminated comment");
        assert_eq!(
            err("const X = 99999999999999999999999;"),
            "1:11: number `99999999999999999999999` is too large"
        );
        assert_eq!(
            err("struct s { int x; } @"),
            "1:21: unexpected character `@`"
        );
        assert_eq!(
            err("const int = 1;"),
            "1:7: expected a name, found keyword `int`"
        );
    }

    #[test]
    fn skips_comments_and_passthrough_lines() {
        let spec =
            parse("%#include <x.h>\n  # define X\n// c\n/* a\n b */ const A = 0x10;").unwrap();
        assert_eq!(spec.definitions.len(), 1);
        assert!(
            matches!(&spec.definitions[0], Definition::Const(id, Value::Number(16, _)) if id.name == "A")
        );
    }

    #[test]
    fn parses_literals() {
        let spec = parse("const A = -017; const B = 0XfF; const C = 0;").unwrap();
        let values: Vec<i128> = spec
            .definitions
            .iter()
            .map(|d| match d {
                Definition::Const(_, Value::Number(n, _)) => *n,
                _ => panic!(),
            })
            .collect();
        assert_eq!(values, [-15, 255, 0]);
    }

    #[test]
    fn nesting_is_bounded() {
        let text = format!("typedef {} x;", "struct { ".repeat(100));
        assert!(err(&text).contains("nest more than 64"));
    }
}
