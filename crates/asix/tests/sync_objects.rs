//! The paper's Table 4: synchronisation in the two AX88772 drivers.
//!
//! Reads `src/driver.rs` (the Dingo driver) and `src/native.rs` (its
//! conventional multithreaded twin) as text, with comments and string and
//! character literals blanked out, and counts
//!
//! - **synchronisation objects**: each `Mutex`, `RwLock`, `Condvar`,
//!   `Atomic*`, `Once`/`OnceLock`/`LazyLock` or `Barrier` named in the type
//!   of a struct field or a `static` (`Arc<Mutex<T>>` counts one `Mutex`);
//! - **critical sections**: lock acquisitions (`.lock()`, `.try_lock()`,
//!   `.read()`, `.write()`, `.try_read()`, `.try_write()` with no
//!   argument, and calls of a free function `lock(..)`, the body of such a
//!   helper excluded), atomic operations (`.load(`, `.store(`, `.fetch_*(`,
//!   `.compare_exchange*(`) and condition-variable waits and wake-ups
//!   (`.wait(`, `.wait_timeout(`, `.wait_while(`, `.wait_timeout_while(`,
//!   `.notify_one(`, `.notify_all(`).
//!
//! The Dingo driver must have none of either, nor name a synchronisation
//! type anywhere (so adding a lock to driver.rs fails this test); the
//! native one must have some.

use std::collections::BTreeMap;

const SYNC_TYPES: &[&str] = &[
    "Mutex", "RwLock", "Condvar", "Once", "OnceLock", "LazyLock", "Barrier",
];

fn is_sync_type(ident: &str) -> bool {
    SYNC_TYPES.contains(&ident) || (ident.starts_with("Atomic") && ident.len() > "Atomic".len())
}

/// The kind a synchronisation type is counted under.
fn kind_of_type(ident: &str) -> &'static str {
    match ident {
        "Mutex" => "Mutex",
        "RwLock" => "RwLock",
        "Condvar" => "Condvar",
        "Barrier" => "Barrier",
        "Once" | "OnceLock" | "LazyLock" => "Once*",
        _ => "Atomic*",
    }
}

/// The source with comments and string/char literals replaced by spaces
/// (newlines kept).
fn blank(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let blank_to = |out: &mut String, from: &[char]| {
        for ch in from {
            out.push(if *ch == '\n' { '\n' } else { ' ' });
        }
    };
    while i < c.len() {
        let rest = &c[i..];
        if rest.starts_with(&['/', '/']) {
            let end = rest.iter().position(|&x| x == '\n').unwrap_or(rest.len());
            blank_to(&mut out, &rest[..end]);
            i += end;
        } else if rest.starts_with(&['/', '*']) {
            let mut depth = 0;
            let mut j = 0;
            while j < rest.len() {
                if rest[j..].starts_with(&['/', '*']) {
                    depth += 1;
                    j += 2;
                } else if rest[j..].starts_with(&['*', '/']) {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            let j = j.min(rest.len());
            blank_to(&mut out, &rest[..j]);
            i += j;
        } else if rest[0] == 'r'
            && (rest.get(1) == Some(&'"') || rest.get(1) == Some(&'#'))
            && (i == 0 || !(c[i - 1].is_alphanumeric() || c[i - 1] == '_'))
        {
            // A raw string r"..." or r#"..."#.
            let hashes = rest[1..].iter().take_while(|&&x| x == '#').count();
            if rest.get(1 + hashes) != Some(&'"') {
                out.push(rest[0]);
                i += 1;
                continue;
            }
            let mut j = 2 + hashes;
            while j < rest.len() {
                if rest[j] == '"'
                    && rest[j + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|&&x| x == '#')
                        .count()
                        == hashes
                {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            let j = j.min(rest.len());
            blank_to(&mut out, &rest[..j]);
            i += j;
        } else if rest[0] == '"' {
            let mut j = 1;
            while j < rest.len() && rest[j] != '"' {
                j += if rest[j] == '\\' { 2 } else { 1 };
            }
            let j = (j + 1).min(rest.len());
            blank_to(&mut out, &rest[..j]);
            i += j;
        } else if rest[0] == '\'' {
            // A char literal ('x', '\n', '\u{..}'), or a lifetime ('a).
            let end = if rest.get(1) == Some(&'\\') {
                rest.iter().skip(2).position(|&x| x == '\'').map(|p| p + 3)
            } else if rest.get(2) == Some(&'\'') {
                Some(3)
            } else {
                None
            };
            match end {
                Some(n) => {
                    let n = n.min(rest.len());
                    blank_to(&mut out, &rest[..n]);
                    i += n;
                }
                None => {
                    out.push('\'');
                    i += 1;
                }
            }
        } else {
            out.push(rest[0]);
            i += 1;
        }
    }
    out
}

/// Identifiers, and every other non-blank character as a token of its own.
fn tokens(src: &str) -> Vec<String> {
    let mut t = Vec::new();
    let mut cur = String::new();
    for ch in src.chars() {
        if ch.is_alphanumeric() || ch == '_' {
            cur.push(ch);
            continue;
        }
        if !cur.is_empty() {
            t.push(std::mem::take(&mut cur));
        }
        if !ch.is_whitespace() {
            t.push(ch.to_string());
        }
    }
    if !cur.is_empty() {
        t.push(cur);
    }
    t
}

/// The index just past the group opened at `open` (`{`/`}` or `(`/`)`).
fn close_of(t: &[String], open: usize) -> usize {
    let (o, c) = match t[open].as_str() {
        "(" => ("(", ")"),
        _ => ("{", "}"),
    };
    let mut depth = 0;
    for (k, tok) in t.iter().enumerate().skip(open) {
        if tok == o {
            depth += 1;
        } else if tok == c {
            depth -= 1;
            if depth == 0 {
                return k + 1;
            }
        }
    }
    t.len()
}

#[derive(Default)]
struct Count {
    objects: BTreeMap<&'static str, usize>,
    sections: BTreeMap<&'static str, usize>,
    /// Synchronisation types named anywhere (imports and paths included).
    mentions: usize,
}

impl Count {
    fn objects(&self) -> usize {
        self.objects.values().sum()
    }

    fn sections(&self) -> usize {
        self.sections.values().sum()
    }
}

fn count(src: &str) -> Count {
    let t = tokens(&blank(src));
    let mut n = Count::default();
    let is = |k: usize, s: &str| t.get(k).is_some_and(|x| x == s);
    // Synchronisation objects: types of struct fields and statics.
    let mut k = 0;
    while k < t.len() {
        let region = match t[k].as_str() {
            "struct" => {
                let open = (k..t.len()).find(|&j| matches!(t[j].as_str(), "{" | "(" | ";"));
                match open {
                    Some(o) if t[o] != ";" => Some((o, close_of(&t, o))),
                    _ => None,
                }
            }
            "static" => {
                let end = (k..t.len()).find(|&j| t[j] == "=" || t[j] == ";");
                end.map(|e| (k, e))
            }
            _ => None,
        };
        if let Some((from, to)) = region {
            for tok in &t[from..to] {
                if is_sync_type(tok) {
                    *n.objects.entry(kind_of_type(tok)).or_default() += 1;
                }
            }
            k = to.max(k + 1);
            continue;
        }
        k += 1;
    }
    // Critical sections: method calls, and a free `lock(..)` helper.
    let mut skip_to = 0;
    for k in 0..t.len() {
        let tok = t[k].as_str();
        if is_sync_type(tok) {
            n.mentions += 1;
        }
        if k < skip_to {
            continue;
        }
        if tok == "fn" && is(k + 1, "lock") {
            // The helper's own body is not a critical section.
            if let Some(open) = (k..t.len()).find(|&j| t[j] == "{") {
                skip_to = close_of(&t, open);
            }
            continue;
        }
        if !is(k + 1, "(") {
            continue;
        }
        let method = k > 0 && t[k - 1] == ".";
        let no_args = is(k + 2, ")");
        let kind = match tok {
            "lock" if !method && k > 0 && t[k - 1] != "fn" => Some("lock acquisitions"),
            "lock" | "try_lock" if method => Some("lock acquisitions"),
            "read" | "write" | "try_read" | "try_write" if method && no_args => {
                Some("lock acquisitions")
            }
            "load" | "store" | "compare_exchange" | "compare_exchange_weak" if method => {
                Some("atomic operations")
            }
            f if method && f.starts_with("fetch_") => Some("atomic operations"),
            "wait" | "wait_timeout" | "wait_while" | "wait_timeout_while" | "notify_one"
            | "notify_all"
                if method =>
            {
                Some("condvar waits and wake-ups")
            }
            _ => None,
        };
        if let Some(kind) = kind {
            *n.sections.entry(kind).or_default() += 1;
        }
    }
    n
}

fn read(file: &str) -> String {
    let path = format!("{}/src/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

#[test]
fn table_4_the_dingo_driver_has_no_synchronisation_the_native_one_does() {
    let dingo = count(&read("driver.rs"));
    let native = count(&read("native.rs"));
    let row = |name: &str, d: usize, n: usize| println!("| {name:<34} | {d:>5} | {n:>6} |");
    println!("| {:<34} | {:>5} | {:>6} |", "", "Dingo", "native");
    println!("|{:-<36}|{:->7}|{:->8}|", "", "", "");
    row("Synchronisation objects", dingo.objects(), native.objects());
    for kind in ["Mutex", "RwLock", "Condvar", "Atomic*", "Once*", "Barrier"] {
        let (d, n) = (dingo.objects.get(kind), native.objects.get(kind));
        if d.is_some() || n.is_some() {
            row(
                &format!("  {kind}"),
                d.copied().unwrap_or(0),
                n.copied().unwrap_or(0),
            );
        }
    }
    row("Critical sections", dingo.sections(), native.sections());
    for kind in [
        "lock acquisitions",
        "atomic operations",
        "condvar waits and wake-ups",
    ] {
        row(
            &format!("  {kind}"),
            dingo.sections.get(kind).copied().unwrap_or(0),
            native.sections.get(kind).copied().unwrap_or(0),
        );
    }
    assert_eq!(
        dingo.objects(),
        0,
        "the Dingo driver declares a lock or atomic"
    );
    assert_eq!(
        dingo.sections(),
        0,
        "the Dingo driver has a critical section"
    );
    assert_eq!(
        dingo.mentions, 0,
        "the Dingo driver names a synchronisation type"
    );
    assert!(native.objects() > 0, "the native driver declares no lock?");
    assert!(
        native.sections() > 0,
        "the native driver has no critical section?"
    );
}

#[test]
fn the_counter_sees_locks_and_ignores_comments_and_strings() {
    let src = r#"
        use std::sync::{Mutex, atomic::AtomicBool};
        // a Mutex in a comment, .lock() too
        /* and /* nested */ Condvar.wait() */
        struct S { a: Arc<Mutex<u8>>, b: AtomicBool, c: RwLock<()>, d: Vec<u8> }
        static G: OnceLock<u8> = OnceLock::new();
        fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> { m.lock().unwrap() }
        fn f(s: &S, cv: &Condvar) {
            let _ = "Mutex .lock()";
            let _ = '"';
            let g = s.a.lock();
            let h = lock(&s.a);
            s.b.store(true, SeqCst);
            s.b.fetch_or(true, SeqCst);
            let r = s.c.read();
            pool.read(urb, 0, 8);
            pool.write(urb, 0, &x);
            cv.notify_all();
            let g = cv.wait(g);
        }
    "#;
    let n = count(src);
    assert_eq!(n.objects.get("Mutex"), Some(&1));
    assert_eq!(n.objects.get("Atomic*"), Some(&1));
    assert_eq!(n.objects.get("RwLock"), Some(&1));
    assert_eq!(n.objects.get("Once*"), Some(&1));
    assert_eq!(n.objects(), 4);
    assert_eq!(n.sections.get("lock acquisitions"), Some(&3));
    assert_eq!(n.sections.get("atomic operations"), Some(&2));
    assert_eq!(n.sections.get("condvar waits and wake-ups"), Some(&2));
    assert!(n.mentions > 0);
    assert_eq!(count("fn main() { let x = 'a'; }").mentions, 0);
}
