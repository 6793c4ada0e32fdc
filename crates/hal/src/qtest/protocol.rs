//! The qtest wire format: one command per line from us, one reply line per
//! command from QEMU, with asynchronous `IRQ raise N` / `IRQ lower N` lines
//! in between (QEMU's `softmmu/qtest.c`, "QTest Protocol").
//!
//! Every line QEMU sends is untrusted input: anything that is not exactly one
//! of the forms below is a [`QemuError::Protocol`], never a panic.
//!
//! | line                      | meaning                                     |
//! |---------------------------|---------------------------------------------|
//! | `OK`                      | success, no value                           |
//! | `OK VALUE`                | success with one token (`0x..` for numbers) |
//! | `FAIL ...` / `ERR ...`    | QEMU refused the command                    |
//! | `IRQ raise N`/`lower N`   | an intercepted input line changed level     |

use super::QemuError;

/// Longest line we accept from QEMU (a `read` reply of one chunk is
/// `OK 0x` plus two digits per byte; see [`super::memory::CHUNK`]).
pub(crate) const MAX_LINE: usize = 4 * super::memory::CHUNK + 64;

/// One line from QEMU, classified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Line<'a> {
    /// `OK` or `OK VALUE`.
    Ok(Option<&'a str>),
    /// `FAIL ...` or `ERR ...`: the command was refused (text after the word).
    Fail(&'a str),
    /// `IRQ raise N` (`raise == true`) or `IRQ lower N`.
    Irq {
        /// Interrupt input number (QEMU has at most 256).
        line: u8,
        /// New level.
        raise: bool,
    },
}

/// Quotes (a prefix of) an untrusted line for an error message.
pub(crate) fn quote(line: &str) -> String {
    const MAX: usize = 120;
    if line.len() <= MAX {
        format!("{line:?}")
    } else {
        let mut end = MAX;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        format!("{:?}... ({} bytes)", &line[..end], line.len())
    }
}

fn protocol(what: &str, line: &str) -> QemuError {
    QemuError::Protocol(format!("{what}: {}", quote(line)))
}

/// Classifies one line (without its `\n`; a trailing `\r` is tolerated).
pub(crate) fn parse_line(line: &str) -> Result<Line<'_>, QemuError> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.bytes().any(|b| !(0x20..0x7F).contains(&b)) {
        return Err(protocol("reply with control or non-ASCII bytes", line));
    }
    let (word, rest) = match line.split_once(' ') {
        Some((w, r)) => (w, Some(r)),
        None => (line, None),
    };
    match (word, rest) {
        ("OK", None) => Ok(Line::Ok(None)),
        ("OK", Some(v)) if !v.is_empty() && !v.contains(' ') => Ok(Line::Ok(Some(v))),
        ("FAIL" | "ERR", rest) => Ok(Line::Fail(rest.unwrap_or(""))),
        ("IRQ", Some(rest)) => {
            let (dir, num) = rest
                .split_once(' ')
                .ok_or_else(|| protocol("malformed IRQ line", line))?;
            let raise = match dir {
                "raise" => true,
                "lower" => false,
                _ => return Err(protocol("malformed IRQ line", line)),
            };
            let ok_digits =
                !num.is_empty() && num.len() <= 3 && num.bytes().all(|b| b.is_ascii_digit());
            let n = ok_digits
                .then(|| num.parse::<u8>().ok())
                .flatten()
                .ok_or_else(|| protocol("IRQ number out of range", line))?;
            Ok(Line::Irq { line: n, raise })
        }
        _ => Err(protocol("unexpected reply", line)),
    }
}

/// Parses a numeric reply value `0xHEX` (1 to 16 hex digits) no larger than
/// `max`.
pub(crate) fn parse_number(value: &str, max: u64) -> Result<u64, QemuError> {
    let digits = value
        .strip_prefix("0x")
        .filter(|d| !d.is_empty() && d.len() <= 16 && d.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| protocol("malformed number", value))?;
    let n = u64::from_str_radix(digits, 16).map_err(|_| protocol("malformed number", value))?;
    if n > max {
        return Err(protocol("value wider than the access", value));
    }
    Ok(n)
}

/// Decodes a `read` reply value `0xHEX` holding exactly `out.len()` bytes.
pub(crate) fn parse_bytes(value: &str, out: &mut [u8]) -> Result<(), QemuError> {
    let digits = value
        .strip_prefix("0x")
        .ok_or_else(|| protocol("read data without 0x", value))?
        .as_bytes();
    if digits.len() != out.len() * 2 {
        return Err(QemuError::Protocol(format!(
            "read returned {} hex digits for {} bytes: {}",
            digits.len(),
            out.len(),
            quote(value)
        )));
    }
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        match (nibble(pair[0]), nibble(pair[1])) {
            (Some(h), Some(l)) => *byte = h << 4 | l,
            _ => return Err(protocol("read data not hexadecimal", value)),
        }
    }
    Ok(())
}

fn nibble(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Appends `data` as lowercase hex digits.
pub(crate) fn push_hex(out: &mut String, data: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(data.len() * 2);
    for &b in data {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xF)]));
    }
}

/// Checks a QOM path before it goes on the wire: QEMU splits commands at
/// spaces and lines at `\n`, so only plain path characters are allowed.
pub(crate) fn check_qom_path(path: &str) -> Result<(), QemuError> {
    let ok = !path.is_empty()
        && path.len() <= 256
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_-.[]".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(QemuError::Config(format!(
            "invalid QOM path {}",
            quote(path)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_lines() {
        assert_eq!(parse_line("OK"), Ok(Line::Ok(None)));
        assert_eq!(parse_line("OK\r"), Ok(Line::Ok(None)));
        assert_eq!(parse_line("OK 0x00ff"), Ok(Line::Ok(Some("0x00ff"))));
        assert_eq!(
            parse_line("FAIL Unknown device"),
            Ok(Line::Fail("Unknown device"))
        );
        assert_eq!(parse_line("FAIL"), Ok(Line::Fail("")));
        assert_eq!(
            parse_line("ERR invalid argument size"),
            Ok(Line::Fail("invalid argument size"))
        );
        assert_eq!(
            parse_line("IRQ raise 11"),
            Ok(Line::Irq {
                line: 11,
                raise: true
            })
        );
        assert_eq!(
            parse_line("IRQ lower 0"),
            Ok(Line::Irq {
                line: 0,
                raise: false
            })
        );
        assert_eq!(
            parse_line("IRQ lower 255"),
            Ok(Line::Irq {
                line: 255,
                raise: false
            })
        );
    }

    #[test]
    fn hostile_lines_are_protocol_errors() {
        for bad in [
            "",
            " ",
            "ok",
            "OK ",
            "OK 0x1 0x2",
            "OK\0",
            "OK \u{e9}",
            "OKAY",
            "IRQ",
            "IRQ raise",
            "IRQ raise ",
            "IRQ raise 256",
            "IRQ raise 1000",
            "IRQ raise -1",
            "IRQ raise +1",
            "IRQ raise 0x1",
            "IRQ rise 1",
            "IRQ raise 1 2",
            "IRQ  raise 1",
            "\u{1b}[31mOK",
            "Bail out! ERROR:../../softmmu/qtest.c:589",
        ] {
            assert!(
                matches!(parse_line(bad), Err(QemuError::Protocol(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("0x00ff", 0xFF), Ok(0xFF));
        assert_eq!(parse_number("0xFFFFFFFFFFFFFFFF", u64::MAX), Ok(u64::MAX));
        assert_eq!(parse_number("0x0000000000000001", 0xFF), Ok(1));
        for bad in [
            "",
            "0x",
            "ff",
            "0xg",
            "0x-1",
            "0x+1",
            "0x 1",
            "0x00000000000000001",
            "1x1",
        ] {
            assert!(parse_number(bad, u64::MAX).is_err(), "{bad:?}");
        }
        assert!(parse_number("0x0100", 0xFF).is_err());
    }

    #[test]
    fn bytes() {
        let mut out = [0u8; 3];
        parse_bytes("0x01aBff", &mut out).unwrap();
        assert_eq!(out, [1, 0xAB, 0xFF]);
        for bad in [
            "0x01ab",
            "0x01abff00",
            "01abff",
            "0x01abfg",
            "0x+1abff",
            "0x\u{e9}abff",
        ] {
            assert!(parse_bytes(bad, &mut out).is_err(), "{bad:?}");
        }
        let mut s = String::new();
        push_hex(&mut s, &[0, 0x5A, 0xFF]);
        assert_eq!(s, "005aff");
    }

    #[test]
    fn long_lines_are_quoted_short() {
        let long = "é".repeat(1000);
        let q = quote(&long);
        assert!(q.len() < 400, "{q}");
        assert!(q.contains("2000 bytes"));
    }

    #[test]
    fn qom_paths() {
        assert!(check_qom_path("ioapic").is_ok());
        assert!(check_qom_path("/machine/unattached/device[3]").is_ok());
        for bad in ["", "a b", "a\nb", "ioapic\n", "x,y"] {
            assert!(check_qom_path(bad).is_err(), "{bad:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn random_lines_never_panic(line in proptest::string::string_regex("(OK|FAIL|ERR|IRQ|IRQ raise|IRQ lower)?[ -~\\r\\t\u{0}\u{e9}]{0,40}").unwrap()) {
            let _ = parse_line(&line);
            let _ = parse_number(&line, 0xFF);
            let mut out = [0u8; 4];
            let _ = parse_bytes(&line, &mut out);
            let _ = quote(&line);
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let line = String::from_utf8_lossy(&bytes);
            let _ = parse_line(&line);
            let mut out = vec![0u8; bytes.len() / 2];
            let _ = parse_bytes(&line, &mut out);
        }

        #[test]
        fn hex_round_trips(data in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let mut s = String::from("0x");
            push_hex(&mut s, &data);
            let mut out = vec![0u8; data.len()];
            parse_bytes(&s, &mut out).unwrap();
            proptest::prop_assert_eq!(out, data);
        }
    }
}
