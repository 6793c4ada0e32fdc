//! XDR names to Rust names: `UpperCamelCase` types and variants,
//! `snake_case` fields, `SCREAMING_SNAKE_CASE` constants; Rust keywords
//! get a `_` suffix; [`Names`] keeps a scope free of collisions.

use std::collections::HashSet;

/// Rust's keywords (strict, reserved and 2024 edition), which cannot name
/// items or fields.
const RUST_KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

/// The words of an identifier: split at `_` and where case changes
/// (`nfsFH3_info` -> `nfs`, `FH3`, `info`; `XDRType` -> `XDR`, `Type`).
fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    for part in name.split('_').filter(|p| !p.is_empty()) {
        let chars: Vec<char> = part.chars().collect();
        let mut word = String::new();
        for (i, &c) in chars.iter().enumerate() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1).copied();
            let boundary = c.is_ascii_uppercase()
                && prev.is_some_and(|p| {
                    p.is_ascii_lowercase()
                        || p.is_ascii_digit()
                        || (p.is_ascii_uppercase() && next.is_some_and(|n| n.is_ascii_lowercase()))
                });
            if boundary && !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            word.push(c);
        }
        if !word.is_empty() {
            words.push(word);
        }
    }
    words
}

fn not_keyword(mut name: String, fallback: &str) -> String {
    if name.is_empty() {
        name = fallback.to_string();
    }
    if RUST_KEYWORDS.contains(&name.as_str()) {
        name.push('_');
    }
    name
}

/// `UpperCamelCase`.
pub fn camel(name: &str) -> String {
    let s: String = words(name)
        .iter()
        .map(|w| {
            let lower = w.to_ascii_lowercase();
            let mut chars = lower.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    not_keyword(s, "Unnamed")
}

/// `snake_case`.
pub fn snake(name: &str) -> String {
    let s = words(name)
        .iter()
        .map(|w| w.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join("_");
    not_keyword(s, "unnamed")
}

/// `SCREAMING_SNAKE_CASE`.
pub fn screaming(name: &str) -> String {
    let s = words(name)
        .iter()
        .map(|w| w.to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join("_");
    not_keyword(s, "UNNAMED")
}

/// A scope of names: each new name that is taken gets a number.
#[derive(Debug, Default)]
pub struct Names {
    taken: HashSet<String>,
}

impl Names {
    /// A scope where `reserved` are taken.
    pub fn with(reserved: &[&str]) -> Self {
        Self {
            taken: reserved.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// `name`, or `name2`, `name3`, ... (`name_2` after a digit or for
    /// snake case), whichever is free; it is then taken.
    pub fn claim(&mut self, name: String) -> String {
        if self.taken.insert(name.clone()) {
            return name;
        }
        let base = name.trim_end_matches('_');
        let sep = if base.ends_with(|c: char| c.is_ascii_digit())
            || base.starts_with(|c: char| c.is_ascii_lowercase())
        {
            "_"
        } else {
            ""
        };
        (2..)
            .map(|n| format!("{base}{sep}{n}"))
            .find(|candidate| self.taken.insert(candidate.clone()))
            .unwrap_or(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_case() {
        assert_eq!(camel("nfs_fh3"), "NfsFh3");
        assert_eq!(camel("XDRType"), "XdrType");
        assert_eq!(camel("nfsFH3_info"), "NfsFh3Info");
        assert_eq!(camel("RED"), "Red");
        assert_eq!(camel("self"), "Self_");
        assert_eq!(camel("___"), "Unnamed");
        assert_eq!(snake("fooBar"), "foo_bar");
        assert_eq!(snake("type"), "type_");
        assert_eq!(snake("FOO"), "foo");
        assert_eq!(snake("__x__"), "x");
        assert_eq!(screaming("maxLen"), "MAX_LEN");
        assert_eq!(screaming("NFS_V3"), "NFS_V3");
    }

    #[test]
    fn claims_fresh_names() {
        let mut names = Names::with(&["Default"]);
        assert_eq!(names.claim("Foo".into()), "Foo");
        assert_eq!(names.claim("Foo".into()), "Foo2");
        assert_eq!(names.claim("Foo2".into()), "Foo2_2");
        assert_eq!(names.claim("Default".into()), "Default2");
        assert_eq!(names.claim("foo_bar".into()), "foo_bar");
        assert_eq!(names.claim("foo_bar".into()), "foo_bar_2");
        assert_eq!(names.claim("type_".into()), "type_");
        assert_eq!(names.claim("type_".into()), "type_2");
        assert_eq!(names.claim("Self_".into()), "Self_");
        assert_eq!(names.claim("Self_".into()), "Self2");
    }
}
