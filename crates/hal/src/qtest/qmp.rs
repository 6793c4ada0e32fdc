//! A minimal QMP client: connect, read the greeting, negotiate
//! capabilities, run commands one at a time, skip events. Replies are
//! one JSON object per line; only their first key is looked at (`return`,
//! `error`, or an event's `timestamp`/`event`), so no JSON library is
//! needed.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use super::QemuError;
use super::protocol::quote;

/// Longest QMP line accepted.
const MAX_LINE: u64 = 1 << 20;

/// What a QMP line is, by its first key.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Greeting,
    Return,
    Error,
    Event,
}

/// The first key of a JSON object on one line, if the line starts like one.
fn first_key(line: &str) -> Option<&str> {
    let rest = line
        .trim_start()
        .strip_prefix('{')?
        .trim_start()
        .strip_prefix('"')?;
    let mut escaped = false;
    for (i, c) in rest.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some(&rest[..i]),
            _ => escaped = false,
        }
    }
    None
}

fn classify(line: &str) -> Result<Kind, QemuError> {
    match first_key(line) {
        Some("QMP") => Ok(Kind::Greeting),
        Some("return") => Ok(Kind::Return),
        Some("error") => Ok(Kind::Error),
        Some("timestamp" | "event") => Ok(Kind::Event),
        _ => Err(QemuError::Protocol(format!(
            "unexpected QMP line {}",
            quote(line)
        ))),
    }
}

/// A QMP session on QEMU's monitor socket.
pub(crate) struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    broken: Option<QemuError>,
}

impl Qmp {
    /// Connects to `path` (retrying until `deadline`: QEMU creates the
    /// socket during start-up), reads the greeting and leaves negotiation
    /// mode.
    pub(crate) fn connect(
        path: &Path,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<Qmp, QemuError> {
        let stream = loop {
            match UnixStream::connect(path) {
                Ok(s) => break s,
                Err(e) if Instant::now() >= deadline => {
                    return Err(QemuError::Timeout(format!(
                        "QMP socket {}: {e}",
                        path.display()
                    )));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        };
        let io = |e: std::io::Error| QemuError::Io(format!("QMP socket: {e}"));
        stream.set_read_timeout(Some(timeout)).map_err(io)?;
        stream.set_write_timeout(Some(timeout)).map_err(io)?;
        let writer = stream.try_clone().map_err(io)?;
        let mut qmp = Qmp {
            reader: BufReader::new(stream),
            writer,
            broken: None,
        };
        let greeting = qmp.line()?;
        if classify(&greeting)? != Kind::Greeting {
            return Err(QemuError::Protocol(format!(
                "QMP greeting expected, got {}",
                quote(&greeting)
            )));
        }
        qmp.execute("qmp_capabilities", None)?;
        Ok(qmp)
    }

    fn line(&mut self) -> Result<String, QemuError> {
        let mut buf = Vec::new();
        let n = (&mut self.reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut buf)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                    QemuError::Timeout("no reply on the QMP socket".into())
                }
                _ => QemuError::Died(format!("reading the QMP socket: {e}")),
            })?;
        if n == 0 {
            return Err(QemuError::Died("QEMU closed the QMP socket".into()));
        }
        if buf.last() != Some(&b'\n') {
            return Err(QemuError::Protocol("QMP line too long or cut off".into()));
        }
        String::from_utf8(buf)
            .map(|s| s.trim_end().to_owned())
            .map_err(|_| QemuError::Protocol("QMP line is not UTF-8".into()))
    }

    /// Runs `command` with `arguments` (a JSON object, or `None`) and
    /// returns the reply line. Events before the reply are skipped. A QMP
    /// error is [`QemuError::Qmp`]; a broken stream breaks the session.
    pub(crate) fn execute(
        &mut self,
        command: &str,
        arguments: Option<&str>,
    ) -> Result<String, QemuError> {
        if let Some(e) = &self.broken {
            return Err(e.clone());
        }
        let msg = match arguments {
            Some(a) => format!("{{\"execute\":\"{command}\",\"arguments\":{a}}}\n"),
            None => format!("{{\"execute\":\"{command}\"}}\n"),
        };
        let result = self.round_trip(&msg);
        if let Err(e) = &result
            && !matches!(e, QemuError::Qmp(_))
        {
            self.broken = Some(e.clone());
        }
        result
    }

    fn round_trip(&mut self, msg: &str) -> Result<String, QemuError> {
        self.writer
            .write_all(msg.as_bytes())
            .map_err(|e| QemuError::Died(format!("writing the QMP socket: {e}")))?;
        loop {
            let line = self.line()?;
            match classify(&line)? {
                Kind::Event => continue,
                Kind::Return => return Ok(line),
                Kind::Error => return Err(QemuError::Qmp(quote(&line))),
                Kind::Greeting => {
                    return Err(QemuError::Protocol(format!(
                        "second QMP greeting {}",
                        quote(&line)
                    )));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_keys() {
        assert_eq!(first_key(r#"{"return": {}}"#), Some("return"));
        assert_eq!(
            first_key(r#" { "error": {"class": "GenericError"}}"#),
            Some("error")
        );
        assert_eq!(first_key(r#"{"a\"b": 1}"#), Some(r#"a\"b"#));
        assert_eq!(first_key(r#"{"unterminated"#), None);
        assert_eq!(first_key("[]"), None);
        assert_eq!(first_key(""), None);
        assert_eq!(
            classify(r#"{"timestamp": {"seconds": 1}, "event": "NIC_RX_FILTER_CHANGED"}"#),
            Ok(Kind::Event)
        );
        assert!(classify("garbage").is_err());
    }

    proptest::proptest! {
        #[test]
        fn random_lines_never_panic(line in "\\PC{0,40}") {
            let _ = classify(&line);
        }
    }

    #[test]
    fn session_with_a_fake_monitor() {
        let dir = std::env::temp_dir().join(format!("hal-qmp-test-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("qmp.sock");
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            let mut w = s.try_clone().unwrap();
            let mut r = BufReader::new(s);
            w.write_all(b"{\"QMP\": {\"version\": {}}}\r\n").unwrap();
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            assert!(line.contains("qmp_capabilities"));
            w.write_all(b"{\"return\": {}}\r\n").unwrap();
            line.clear();
            r.read_line(&mut line).unwrap();
            assert!(line.contains("set_link"));
            w.write_all(
                b"{\"timestamp\": {}, \"event\": \"X\"}\r\n{\"error\": {\"desc\": \"no\"}}\r\n",
            )
            .unwrap();
            line.clear();
            r.read_line(&mut line).unwrap();
            w.write_all(b"nonsense\r\n").unwrap();
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut q = Qmp::connect(&path, deadline, Duration::from_secs(5)).unwrap();
        assert!(matches!(
            q.execute("set_link", Some("{}")),
            Err(QemuError::Qmp(_))
        ));
        assert!(matches!(q.execute("x", None), Err(QemuError::Protocol(_))));
        assert!(
            matches!(q.execute("x", None), Err(QemuError::Protocol(_))),
            "stays broken"
        );
        server.join().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
