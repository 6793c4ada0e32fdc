//! The trace format: observed events as text, one event per line, for
//! recording what an observer saw and replaying it (`dingo spec replay`).
//!
//! ```text
//! # A comment: `#` to end of line, anywhere. Blank lines are ignored.
//! component asix                      # optional header, at most once, before the first event
//! 0ms      lc                  ?start
//! 1.5ms    lc                  !startComplete
//! 2ms      usb                 !pipeOpen(0x81, 7)          # spawns subport usb/pipeOpen:7
//! 2.1ms    usb/pipeOpen:7      !transfer(4096)
//! 3ms      pm                  ?sleep(D2)
//! 3s       tick                                            # only advances time (timeouts)
//! ```
//!
//! Each event line is `TIME ADDRESS SIGIL NAME [ARGS]` or `TIME tick`:
//!
//! - **Time**: a non-negative decimal number with an optional fraction,
//!   immediately followed by a unit `us`, `ms` or `s` (`0ms`, `1.5ms`,
//!   `250us`, `2s`, `1_000ms`; `_` may separate digits before the point).
//!   It is the absolute time since the start of the trace, converted exactly
//!   to whole microseconds: a fraction finer than a microsecond (`1.5us`) is
//!   an error, and so is a time beyond [`u64::MAX`] microseconds. Times never
//!   decrease; equal times are fine.
//! - **Address**: the port (`usb`), then one `/MESSAGE:KEY` per subport level
//!   (`usb/pipeOpen:7`): the message that spawned the subport and its key.
//!   Identifiers are `[A-Za-z_][A-Za-z0-9_]*`.
//! - **Integers** (keys and arguments): decimal or `0x` hexadecimal, with `_`
//!   separators and an optional leading `-` (`-1`, `0xFF_FF`, `1_000`), in the
//!   range of an `i64`. Letters glued to a number make it malformed (`12ab`).
//! - **Message**: `?name` or `!name`, exactly as the spec's triggers write it:
//!   `?` for a message the protocol declares `in`, `!` for an `out` message
//!   (on a mirrored port the component sends the `?` messages and receives
//!   the `!` ones). Then optionally `(` arguments `)`, separated by commas:
//!   integers, `true`, `false`, or a name (an enum variant, resolved against
//!   the spec later). `!name()` is `!name`.
//!   Spaces and tabs may surround the parentheses and commas.
//! - **`tick`** alone after the time only advances the clock, so that
//!   deadlines and `after` timers expire. (A port may still be called `tick`:
//!   `tick` followed by a message is a message on that port.)
//!
//! The header `component NAME` names the component whose spec the trace is
//! for; it may appear once, before the first event. `#` starts a comment
//! anywhere; blank lines are ignored; CRLF line endings and a leading UTF-8
//! byte order mark are accepted.
//!
//! [`parse`] never panics and runs in linear time: traces come from files
//! and from other processes. It stops at the first error, which carries the
//! line and column (both from 1, the column counted in characters) and says
//! what was expected. [`write`](fn@write) prints the canonical text, which [`parse`]
//! reads back to the same [`Trace`] (apart from [`TraceEvent::line`]).

use std::fmt;

/// A parsed trace: the component it is for and its events, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    /// The name from the `component` header, if the trace has one.
    pub component: Option<String>,
    /// The events, in the order of the text; their times never decrease.
    pub events: Vec<TraceEvent>,
}

/// One line of a trace: something observed at a point in time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEvent {
    /// The line of the event in the text it was parsed from (from 1); 0 for
    /// an event that was not parsed. [`write`](fn@write) ignores it.
    pub line: usize,
    /// Microseconds since the start of the trace.
    pub time_us: u64,
    /// What happened.
    pub kind: EventKind,
}

/// What a trace event is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A message passed on a port or subport.
    Message(MessageEvent),
    /// Nothing but the passing of time (`tick`): timers up to the event's
    /// time expire.
    Tick,
}

/// A message observed on a port or subport.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MessageEvent {
    /// The port or subport the message travelled on.
    pub address: Address,
    /// The message's direction as the spec declares it (`?` for `in`, `!`
    /// for `out`), whether or not the port is mirrored.
    pub direction: Sigil,
    /// The message's name.
    pub message: String,
    /// The arguments, in the order of the message's parameters.
    pub args: Vec<Value>,
}

/// The direction of a message, written as in the spec's triggers: it names
/// the declared direction, so on a mirrored port the component sends `?`
/// messages and receives `!` ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sigil {
    /// `?`: an `in` message (received by the component on a plain port).
    Question,
    /// `!`: an `out` message (sent by the component on a plain port).
    Bang,
}

/// A port or subport of a component: `usb`, `usb/pipeOpen:7`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Address {
    /// The port's name.
    pub port: String,
    /// One `(spawning message, key)` per subport level, outermost first;
    /// empty for the port itself.
    pub path: Vec<(String, i64)>,
}

/// A message argument as written in a trace.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Value {
    /// An integer (also opaque handles and subport keys).
    Int(i64),
    /// `true` or `false`.
    Bool(bool),
    /// Any other identifier: an enum variant, resolved against the spec by
    /// whoever replays the trace. Never `true` or `false`.
    Name(String),
}

/// Why a trace could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceError {
    /// The line, from 1.
    pub line: usize,
    /// The column, from 1, in characters (a byte order mark does not count).
    pub column: usize,
    /// What was wrong, and what was expected instead.
    pub message: String,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for TraceError {}

impl fmt::Display for Sigil {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Sigil::Question => "?",
            Sigil::Bang => "!",
        })
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.port)?;
        for (message, key) in &self.path {
            write!(f, "/{message}:{key}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(n) => write!(f, "{n}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Name(name) => f.write_str(name),
        }
    }
}

impl fmt::Display for MessageEvent {
    /// `usb/pipeOpen:7 !transfer(4096)`: the address, a space, the message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.address)?;
        self.fmt_message(f)
    }
}

impl MessageEvent {
    /// Writes `!transfer(4096)`: the message without its address.
    fn fmt_message(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.direction, self.message)?;
        if !self.args.is_empty() {
            f.write_str("(")?;
            for (i, arg) in self.args.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{arg}")?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl fmt::Display for EventKind {
    /// The event after its time: a message with its address, or `tick`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventKind::Message(m) => write!(f, "{m}"),
            EventKind::Tick => f.write_str("tick"),
        }
    }
}

impl fmt::Display for TraceEvent {
    /// One trace line, without alignment or comment: `2.1ms usb/pipeOpen:7 !transfer(4096)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", format_time(self.time_us), self.kind)
    }
}

/// Writes a time in microseconds the way traces do, exactly and in the
/// largest unit that keeps it readable: microseconds below 1 ms (`250us`),
/// milliseconds below 1 s (`1.5ms`), seconds from there on (`3s`,
/// `1.000001s`); zero is `0ms`. Trailing zeros of a fraction are dropped.
pub fn format_time(us: u64) -> String {
    fn decimal(us: u64, scale: u32, unit: &str) -> String {
        let factor = 10u64.pow(scale);
        let (whole, fraction) = (us / factor, us % factor);
        if fraction == 0 {
            return format!("{whole}{unit}");
        }
        let digits = format!("{fraction:0width$}", width = scale as usize);
        format!("{whole}.{}{unit}", digits.trim_end_matches('0'))
    }
    match us {
        0 => "0ms".to_string(),
        1..=999 => format!("{us}us"),
        1_000..=999_999 => decimal(us, 3, "ms"),
        _ => decimal(us, 6, "s"),
    }
}

/// Writes a trace in the canonical format: the `component` header if there
/// is one, then one line per event, with the time and address columns
/// aligned. [`parse`] reads the result back to the same trace (apart from
/// the events' `line`), provided the trace is one that [`parse`] could have
/// produced: identifiers are identifiers, a [`Value::Name`] is neither
/// `true` nor `false`, and times do not decrease.
pub fn write(trace: &Trace) -> String {
    // Addresses longer than this do not widen the column for every line.
    const MAX_ADDRESS_WIDTH: usize = 32;
    let rows: Vec<(String, Option<String>)> = trace
        .events
        .iter()
        .map(|e| {
            let address = match &e.kind {
                EventKind::Message(m) => Some(m.address.to_string()),
                EventKind::Tick => None,
            };
            (format_time(e.time_us), address)
        })
        .collect();
    let time_width = rows.iter().map(|(t, _)| t.len()).max().unwrap_or(0);
    let address_width = rows
        .iter()
        .filter_map(|(_, a)| a.as_ref().map(String::len))
        .filter(|&len| len <= MAX_ADDRESS_WIDTH)
        .max()
        .unwrap_or(0);

    let mut out = String::new();
    if let Some(component) = &trace.component {
        out.push_str("component ");
        out.push_str(component);
        out.push('\n');
    }
    for (event, (time, address)) in trace.events.iter().zip(&rows) {
        let line = match (&event.kind, address) {
            (EventKind::Message(m), Some(address)) => {
                format!("{time:time_width$} {address:address_width$} {}", Bare(m))
            }
            _ => format!("{time:time_width$} tick"),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Displays a message without its address.
struct Bare<'a>(&'a MessageEvent);

impl fmt::Display for Bare<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt_message(f)
    }
}

/// Parses a trace. Stops at the first error; see the [module
/// documentation](self) for the format.
pub fn parse(text: &str) -> Result<Trace, TraceError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut trace = Trace::default();
    let mut last_time: Option<u64> = None;
    for (index, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let end = line.find('#').unwrap_or(line.len());
        let mut parser = LineParser {
            text: line,
            bytes: &line.as_bytes()[..end],
            pos: 0,
            line: index + 1,
        };
        parser.line(&mut trace, &mut last_time)?;
    }
    Ok(trace)
}

/// The longest piece of input quoted in an error message, in characters.
const MAX_QUOTE: usize = 40;

/// Quotes a piece of input for an error message, shortened if long.
fn quote(s: &str) -> String {
    match s.char_indices().nth(MAX_QUOTE) {
        Some((cut, _)) => format!("`{}…`", &s[..cut]),
        None => format!("`{s}`"),
    }
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Parses one line. `bytes` is the line up to its comment; `text` is the
/// whole line, for columns and quotes.
struct LineParser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    line: usize,
}

impl<'a> LineParser<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn at_space(&self) -> bool {
        matches!(self.peek(), Some(b' ' | b'\t'))
    }

    fn skip_spaces(&mut self) {
        while self.at_space() {
            self.pos += 1;
        }
    }

    /// Consumes bytes while `f` holds; returns where the run started.
    fn eat_while(&mut self, f: impl Fn(u8) -> bool) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        start
    }

    /// The text from `start` to the current position (always ASCII).
    fn slice(&self, start: usize) -> &'a str {
        // Only ASCII bytes are ever consumed, so both ends are boundaries;
        // `get` keeps this panic-free regardless.
        self.text.get(start..self.pos).unwrap_or("")
    }

    fn ident(&mut self) -> Option<&'a str> {
        if !self.peek().is_some_and(is_ident_start) {
            return None;
        }
        let start = self.eat_while(is_ident_char);
        Some(self.slice(start))
    }

    fn error(&self, pos: usize, message: impl Into<String>) -> TraceError {
        let before = &self.text.as_bytes()[..pos.min(self.text.len())];
        // Count characters: every byte that does not continue a UTF-8 sequence.
        let column = before.iter().filter(|&&b| b & 0xC0 != 0x80).count() + 1;
        TraceError {
            line: self.line,
            column,
            message: message.into(),
        }
    }

    /// Describes what is at `pos`, for "expected X, found Y" messages.
    fn found(&self, pos: usize) -> String {
        match self.bytes.get(pos) {
            None => "the end of the line".to_string(),
            Some(&b) if is_ident_char(b) => {
                let len = self.bytes[pos..]
                    .iter()
                    .take_while(|&&b| is_ident_char(b))
                    .count();
                quote(self.text.get(pos..pos + len).unwrap_or(""))
            }
            Some(_) => match self.text.get(pos..).and_then(|s| s.chars().next()) {
                // Invisible characters are shown escaped: `\r`, `\u{feff}`.
                Some(c) if c.is_control() || c == '\u{feff}' => format!("`{}`", c.escape_debug()),
                Some(c) => format!("`{c}`"),
                None => "a non-ASCII character".to_string(),
            },
        }
    }

    fn expected(&self, what: &str) -> TraceError {
        self.error(
            self.pos,
            format!("expected {what}, found {}", self.found(self.pos)),
        )
    }

    fn line(&mut self, trace: &mut Trace, last_time: &mut Option<u64>) -> Result<(), TraceError> {
        self.skip_spaces();
        match self.peek() {
            None => Ok(()),
            Some(b) if b.is_ascii_digit() => {
                let event = self.event(last_time)?;
                trace.events.push(event);
                Ok(())
            }
            Some(b'-') => Err(self.error(self.pos, "a time cannot be negative")),
            Some(b) if is_ident_start(b) => {
                let start = self.pos;
                if self.ident() == Some("component") {
                    self.header(start, trace)
                } else {
                    self.pos = start;
                    Err(self.expected("a time (such as `0ms` or `1.5ms`) or a `component` header"))
                }
            }
            Some(_) => {
                Err(self.expected("a time (such as `0ms` or `1.5ms`) or a `component` header"))
            }
        }
    }

    fn header(&mut self, start: usize, trace: &mut Trace) -> Result<(), TraceError> {
        if trace.component.is_some() {
            return Err(self.error(start, "duplicate `component` header"));
        }
        if !trace.events.is_empty() {
            return Err(self.error(
                start,
                "the `component` header must come before the first event",
            ));
        }
        let name = if self.at_space() {
            self.skip_spaces();
            self.ident()
        } else {
            None
        };
        let Some(name) = name else {
            return Err(self.expected("a component name after `component`"));
        };
        self.skip_spaces();
        if self.peek().is_some() {
            return Err(self.expected("the end of the line after the component name"));
        }
        trace.component = Some(name.to_string());
        Ok(())
    }

    fn event(&mut self, last_time: &mut Option<u64>) -> Result<TraceEvent, TraceError> {
        let time_pos = self.pos;
        let time_us = self.time()?;
        if let Some(last) = *last_time
            && time_us < last
        {
            let message = format!(
                "time goes backwards: {} after {}",
                format_time(time_us),
                format_time(last)
            );
            return Err(self.error(time_pos, message));
        }
        *last_time = Some(time_us);
        let line = self.line;

        if self.peek().is_some() && !self.at_space() {
            return Err(self.error(self.pos, "expected a space after the time"));
        }
        self.skip_spaces();
        let start = self.pos;
        let Some(port) = self.ident() else {
            return Err(self.expected("a port name or `tick` after the time"));
        };
        let mut path = Vec::new();
        while self.peek() == Some(b'/') {
            self.pos += 1;
            let Some(message) = self.ident() else {
                return Err(self.expected("the name of the spawning message after `/`"));
            };
            if self.peek() != Some(b':') {
                return Err(self.expected(&format!("`:` and a key after `{message}`")));
            }
            self.pos += 1;
            let key = self.integer(true)?;
            path.push((message.to_string(), key));
        }
        let address = Address {
            port: port.to_string(),
            path,
        };

        let address_end = self.pos;
        if self.peek().is_some() && !self.at_space() {
            return Err(self.error(self.pos, "expected a space after the address"));
        }
        self.skip_spaces();
        let direction = match self.peek() {
            None if address.port == "tick" && address.path.is_empty() => {
                return Ok(TraceEvent {
                    line,
                    time_us,
                    kind: EventKind::Tick,
                });
            }
            None => {
                let message = format!(
                    "expected a message (`?name` or `!name`) after {}",
                    quote(self.text.get(start..address_end).unwrap_or(""))
                );
                return Err(self.error(address_end, message));
            }
            Some(b'?') => Sigil::Question,
            Some(b'!') => Sigil::Bang,
            Some(_) => {
                return Err(self.error(self.pos, "expected `?` or `!` before the message name"));
            }
        };
        self.pos += 1;
        let Some(message) = self.ident() else {
            return Err(self.expected(&format!("a message name after `{direction}`")));
        };
        self.skip_spaces();
        let args = if self.peek() == Some(b'(') {
            self.args()?
        } else {
            Vec::new()
        };
        self.skip_spaces();
        if self.peek().is_some() {
            return Err(self.expected("the end of the line after the message"));
        }
        let message = message.to_string();
        Ok(TraceEvent {
            line,
            time_us,
            kind: EventKind::Message(MessageEvent {
                address,
                direction,
                message,
                args,
            }),
        })
    }

    /// A time: digits, an optional fraction, a unit.
    fn time(&mut self) -> Result<u64, TraceError> {
        const TOO_LARGE: &str = "time is too large (at most 18446744073709551615us)";
        let start = self.eat_while(|b| b.is_ascii_digit() || b == b'_');
        let whole = self.slice(start);
        let mut fraction = "";
        if self.peek() == Some(b'.') {
            self.pos += 1;
            let from = self.eat_while(|b| b.is_ascii_digit());
            if from == self.pos {
                return Err(self.error(self.pos, "expected a digit after `.`"));
            }
            fraction = self.slice(from);
        }
        let unit_start = self.eat_while(is_ident_char);
        let scale = match self.slice(unit_start) {
            "" => return Err(self.error(unit_start, "a time needs a unit (`us`, `ms` or `s`)")),
            "us" => 0,
            "ms" => 3,
            "s" => 6,
            unit => {
                return Err(self.error(unit_start, format!("unknown time unit {}", quote(unit))));
            }
        };
        let fraction = fraction.trim_end_matches('0');
        if fraction.len() > scale {
            return Err(self.error(start, "time must be a whole number of microseconds"));
        }
        let digits = |s: &str| {
            s.bytes().filter(u8::is_ascii_digit).try_fold(0u64, |n, b| {
                n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
            })
        };
        // Both are at most 6 digits after the checks above, so `pow` and the
        // fraction's digits cannot overflow.
        let fraction = digits(fraction).unwrap_or(0) * 10u64.pow((scale - fraction.len()) as u32);
        digits(whole)
            .and_then(|w| w.checked_mul(10u64.pow(scale as u32)))
            .and_then(|w| w.checked_add(fraction))
            .ok_or_else(|| self.error(start, TOO_LARGE))
    }

    /// An integer: an optional `-`, then decimal or `0x` hexadecimal digits
    /// with `_` separators, fitting an `i64`. `key` selects the messages for
    /// a subport key.
    fn integer(&mut self, key: bool) -> Result<i64, TraceError> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
            return Err(if key {
                self.error(start, "a key must be an integer")
            } else {
                self.expected("a digit after `-`")
            });
        }
        let digits_start = self.eat_while(is_ident_char);
        let token = self.slice(digits_start);
        let (digits, radix) = match token.get(..2) {
            Some("0x" | "0X") => (&token[2..], 16),
            _ => (token, 10),
        };
        let well_formed = digits.bytes().next().is_some_and(|b| b.is_ascii_hexdigit())
            && digits
                .bytes()
                .all(|b| b == b'_' || char::from(b).is_digit(radix));
        if !well_formed {
            return Err(self.error(
                start,
                format!("malformed integer {}", quote(self.slice(start))),
            ));
        }
        let magnitude = digits
            .bytes()
            .filter(|&b| b != b'_')
            .try_fold(0u64, |n, b| {
                n.checked_mul(u64::from(radix))?
                    .checked_add(u64::from(char::from(b).to_digit(radix)?))
            });
        let value = magnitude.and_then(|m| {
            let m = i128::from(m);
            i64::try_from(if negative { -m } else { m }).ok()
        });
        value.ok_or_else(|| {
            let message = format!(
                "integer {} does not fit in 64 bits (a signed `i64`)",
                quote(self.slice(start))
            );
            self.error(start, message)
        })
    }

    /// `( value, ... )`, at the `(`.
    fn args(&mut self) -> Result<Vec<Value>, TraceError> {
        let open = self.pos;
        self.pos += 1;
        let mut args = Vec::new();
        self.skip_spaces();
        if self.peek() == Some(b')') {
            self.pos += 1;
            return Ok(args);
        }
        loop {
            self.skip_spaces();
            if self.peek().is_none() {
                return Err(self.error(open, "unclosed `(`"));
            }
            args.push(self.value()?);
            self.skip_spaces();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b')') => {
                    self.pos += 1;
                    return Ok(args);
                }
                None => return Err(self.error(open, "unclosed `(`")),
                Some(_) => return Err(self.expected("`,` or `)` after an argument")),
            }
        }
    }

    fn value(&mut self) -> Result<Value, TraceError> {
        match self.peek() {
            Some(b) if b.is_ascii_digit() || b == b'-' => Ok(Value::Int(self.integer(false)?)),
            Some(b) if is_ident_start(b) => Ok(match self.ident().unwrap_or_default() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                name => Value::Name(name.to_string()),
            }),
            _ => Err(self.expected("a value (an integer, `true`, `false` or a name)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const EXAMPLE: &str = "\
# A comment: `#` to end of line, anywhere. Blank lines are ignored.
component asix                      # optional header, at most once, before the first event
0ms      lc                  ?start
1.5ms    lc                  !startComplete

2ms      usb                 !pipeOpen(0x81, 7)          # spawns subport usb/pipeOpen:7
2.1ms    usb/pipeOpen:7      !transfer(4096)
3ms      pm                  ?sleep(D2)
3s       tick                                            # only advances time (timeouts)
";

    fn port(name: &str) -> Address {
        Address {
            port: name.to_string(),
            path: Vec::new(),
        }
    }

    fn msg(
        line: usize,
        time_us: u64,
        address: Address,
        direction: Sigil,
        name: &str,
        args: Vec<Value>,
    ) -> TraceEvent {
        let message = MessageEvent {
            address,
            direction,
            message: name.to_string(),
            args,
        };
        TraceEvent {
            line,
            time_us,
            kind: EventKind::Message(message),
        }
    }

    /// The error for `text`, as `line, column: message`.
    fn error(text: &str) -> String {
        match parse(text) {
            Ok(trace) => panic!("{text:?} parsed: {trace:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn event(text: &str) -> TraceEvent {
        match parse(text) {
            Ok(mut trace) if trace.events.len() == 1 => trace.events.remove(0),
            other => panic!("{text:?}: {other:?}"),
        }
    }

    fn strip_lines(mut trace: Trace) -> Trace {
        for e in &mut trace.events {
            e.line = 0;
        }
        trace
    }

    #[test]
    fn the_example_parses() {
        use Sigil::{Bang, Question};
        let pipe = Address {
            port: "usb".to_string(),
            path: vec![("pipeOpen".to_string(), 7)],
        };
        let expected = Trace {
            component: Some("asix".to_string()),
            events: vec![
                msg(3, 0, port("lc"), Question, "start", vec![]),
                msg(4, 1500, port("lc"), Bang, "startComplete", vec![]),
                msg(
                    6,
                    2000,
                    port("usb"),
                    Bang,
                    "pipeOpen",
                    vec![Value::Int(0x81), Value::Int(7)],
                ),
                msg(7, 2100, pipe, Bang, "transfer", vec![Value::Int(4096)]),
                msg(
                    8,
                    3000,
                    port("pm"),
                    Question,
                    "sleep",
                    vec![Value::Name("D2".to_string())],
                ),
                TraceEvent {
                    line: 9,
                    time_us: 3_000_000,
                    kind: EventKind::Tick,
                },
            ],
        };
        assert_eq!(parse(EXAMPLE), Ok(expected));
    }

    #[test]
    fn the_example_is_written_canonically() {
        let written = write(&parse(EXAMPLE).unwrap());
        let expected = "\
component asix
0ms   lc             ?start
1.5ms lc             !startComplete
2ms   usb            !pipeOpen(129, 7)
2.1ms usb/pipeOpen:7 !transfer(4096)
3ms   pm             ?sleep(D2)
3s    tick
";
        assert_eq!(written, expected);
        assert_eq!(
            strip_lines(parse(&written).unwrap()),
            strip_lines(parse(EXAMPLE).unwrap())
        );
    }

    /// The example in docs/traces.md parses and survives a round trip.
    #[test]
    fn the_user_documentation_example_parses() {
        let doc = include_str!("../../../docs/traces.md");
        let start = doc
            .find("```\n# asix")
            .expect("the example in docs/traces.md")
            + 4;
        let example = &doc[start..][..doc[start..].find("```").unwrap()];
        let trace = parse(example).unwrap_or_else(|e| panic!("{e}\n{example}"));
        assert_eq!(trace.component.as_deref(), Some("asix"));
        assert_eq!(trace.events.len(), 9);
        assert_eq!(trace.events[8].kind, EventKind::Tick);
        assert_eq!(
            strip_lines(parse(&write(&trace)).unwrap()),
            strip_lines(trace)
        );
    }

    #[test]
    fn events_display_as_trace_lines() {
        let trace = parse(EXAMPLE).unwrap();
        let lines: Vec<String> = trace.events.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "0ms lc ?start",
                "1.5ms lc !startComplete",
                "2ms usb !pipeOpen(129, 7)",
                "2.1ms usb/pipeOpen:7 !transfer(4096)",
                "3ms pm ?sleep(D2)",
                "3s tick",
            ]
        );
        let EventKind::Message(m) = &trace.events[3].kind else {
            panic!()
        };
        assert_eq!(m.to_string(), "usb/pipeOpen:7 !transfer(4096)");
        assert_eq!(m.address.to_string(), "usb/pipeOpen:7");
        assert_eq!(Value::Bool(false).to_string(), "false");
        assert_eq!(Value::Int(-3).to_string(), "-3");
        assert_eq!(EventKind::Tick.to_string(), "tick");
    }

    #[test]
    fn empty_and_comment_only_traces() {
        assert_eq!(parse(""), Ok(Trace::default()));
        assert_eq!(
            parse("\n\n  \t\n# nothing\n   # still nothing\r\n"),
            Ok(Trace::default())
        );
        assert_eq!(
            parse("component c"),
            Ok(Trace {
                component: Some("c".to_string()),
                events: vec![]
            })
        );
        assert_eq!(write(&Trace::default()), "");
    }

    #[test]
    fn crlf_and_byte_order_mark() {
        let crlf = EXAMPLE.replace('\n', "\r\n");
        assert_eq!(parse(&crlf), parse(EXAMPLE));
        let bom = format!("\u{feff}{crlf}");
        assert_eq!(parse(&bom), parse(EXAMPLE));
        // The mark does not count as a column; a mark elsewhere is an error.
        assert_eq!(
            error("\u{feff}0ms lc start"),
            "line 1, column 8: expected `?` or `!` before the message name"
        );
        assert_eq!(
            error("0ms lc ?a\n\u{feff}1ms lc ?b"),
            "line 2, column 1: expected a time (such as `0ms` or `1.5ms`) or a `component` header, found `\\u{feff}`"
        );
        // A carriage return inside a line is not whitespace.
        assert_eq!(
            error("0ms\rlc ?a"),
            "line 1, column 4: expected a space after the time"
        );
    }

    #[test]
    fn times() {
        let t = |s: &str| event(&format!("{s} tick")).time_us;
        assert_eq!(t("0ms"), 0);
        assert_eq!(t("0us"), 0);
        assert_eq!(t("0s"), 0);
        assert_eq!(t("250us"), 250);
        assert_eq!(t("1.5ms"), 1500);
        assert_eq!(t("2.1ms"), 2100);
        assert_eq!(t("2s"), 2_000_000);
        assert_eq!(t("0.000001s"), 1);
        assert_eq!(t("1.000000000s"), 1_000_000);
        assert_eq!(t("3.0us"), 3);
        assert_eq!(t("1_000ms"), 1_000_000);
        assert_eq!(t("007ms"), 7000);
        assert_eq!(t("18446744073709551615us"), u64::MAX);
        assert_eq!(t("18446744073709.551615s"), u64::MAX);
        assert_eq!(t("00000000000000000000000000000000000001us"), 1);
        // Equal times are fine.
        assert_eq!(
            parse("1ms tick\n1000us tick\n0.001s tick")
                .unwrap()
                .events
                .len(),
            3
        );
    }

    #[test]
    fn format_time_picks_a_unit() {
        assert_eq!(format_time(0), "0ms");
        assert_eq!(format_time(1), "1us");
        assert_eq!(format_time(999), "999us");
        assert_eq!(format_time(1000), "1ms");
        assert_eq!(format_time(1500), "1.5ms");
        assert_eq!(format_time(1001), "1.001ms");
        assert_eq!(format_time(999_999), "999.999ms");
        assert_eq!(format_time(1_000_000), "1s");
        assert_eq!(format_time(1_000_001), "1.000001s");
        assert_eq!(format_time(3_250_000), "3.25s");
        assert_eq!(format_time(u64::MAX), "18446744073709.551615s");
    }

    #[test]
    fn addresses_and_values() {
        let e = event(
            "5us  usb/pipeOpen:-0x10/sub:1_000/x_2:9223372036854775807  !m( -9223372036854775808 ,true,false , D0 ,0XfF_ff, _x )",
        );
        let EventKind::Message(m) = e.kind else {
            panic!()
        };
        assert_eq!(m.address.port, "usb");
        assert_eq!(
            m.address.path,
            [
                ("pipeOpen".to_string(), -16),
                ("sub".to_string(), 1000),
                ("x_2".to_string(), i64::MAX)
            ]
        );
        assert_eq!(
            m.args,
            [
                Value::Int(i64::MIN),
                Value::Bool(true),
                Value::Bool(false),
                Value::Name("D0".to_string()),
                Value::Int(0xFFFF),
                Value::Name("_x".to_string()),
            ]
        );
        // `()` and no parentheses are the same; spaces before `(` are fine.
        assert_eq!(event("0ms lc !a()"), event("0ms lc !a"));
        assert_eq!(event("0ms lc !a ( )"), event("0ms lc !a"));
        assert_eq!(event("0ms lc !a\t(1)"), event("0ms lc !a(1)"));
        // Tabs separate fields; trailing whitespace and comments are ignored.
        assert_eq!(event("\t0ms\tlc\t!a(1)\t# c"), event("0ms lc !a(1)"));
        assert_eq!(event("0ms lc !a(1)#c"), event("0ms lc !a(1)"));
    }

    #[test]
    fn tick_is_a_port_when_a_message_follows() {
        let e = event("1ms tick ?tock");
        assert_eq!(
            e.kind,
            msg(1, 1000, port("tick"), Sigil::Question, "tock", vec![]).kind
        );
        assert_eq!(event("1ms tick # a comment").kind, EventKind::Tick);
        let trace = parse("1ms tick ?tock\n2ms tick\n").unwrap();
        assert_eq!(
            strip_lines(parse(&write(&trace)).unwrap()),
            strip_lines(trace)
        );
    }

    #[test]
    fn events_remember_their_lines() {
        let trace = parse("# c\n\ncomponent x\n0ms a ?b\n\n1ms tick\n").unwrap();
        let lines: Vec<usize> = trace.events.iter().map(|e| e.line).collect();
        assert_eq!(lines, [4, 6]);
    }

    /// Every error the parser reports, with its position.
    #[test]
    fn errors() {
        let cases: &[(&str, &str)] = &[
            // Line starts.
            (
                "lc ?start",
                "line 1, column 1: expected a time (such as `0ms` or `1.5ms`) or a `component` header, found `lc`",
            ),
            (
                "  ?start",
                "line 1, column 3: expected a time (such as `0ms` or `1.5ms`) or a `component` header, found `?`",
            ),
            (
                "0ms a ?b\n.5ms tick",
                "line 2, column 1: expected a time (such as `0ms` or `1.5ms`) or a `component` header, found `.`",
            ),
            ("-1ms tick", "line 1, column 1: a time cannot be negative"),
            // The header.
            (
                "component a\ncomponent b",
                "line 2, column 1: duplicate `component` header",
            ),
            (
                "0ms tick\n  component a",
                "line 2, column 3: the `component` header must come before the first event",
            ),
            (
                "component",
                "line 1, column 10: expected a component name after `component`, found the end of the line",
            ),
            (
                "component 7",
                "line 1, column 11: expected a component name after `component`, found `7`",
            ),
            (
                "component:a",
                "line 1, column 10: expected a component name after `component`, found `:`",
            ),
            (
                "component a b",
                "line 1, column 13: expected the end of the line after the component name, found `b`",
            ),
            // Times.
            (
                "5 lc ?start",
                "line 1, column 2: a time needs a unit (`us`, `ms` or `s`)",
            ),
            ("5m lc ?start", "line 1, column 2: unknown time unit `m`"),
            ("5mslc ?start", "line 1, column 2: unknown time unit `mslc`"),
            ("1.ms tick", "line 1, column 3: expected a digit after `.`"),
            (
                "1.5us tick",
                "line 1, column 1: time must be a whole number of microseconds",
            ),
            (
                "0.0000001s tick",
                "line 1, column 1: time must be a whole number of microseconds",
            ),
            (
                "18446744073709551616us tick",
                "line 1, column 1: time is too large (at most 18446744073709551615us)",
            ),
            (
                "18446744073710s tick",
                "line 1, column 1: time is too large (at most 18446744073709551615us)",
            ),
            (
                "99999999999999999999999999ms tick",
                "line 1, column 1: time is too large (at most 18446744073709551615us)",
            ),
            (
                "3ms tick\n2ms tick",
                "line 2, column 1: time goes backwards: 2ms after 3ms",
            ),
            (
                "1s tick\n 999999us tick",
                "line 2, column 2: time goes backwards: 999.999ms after 1s",
            ),
            (
                "5ms?start",
                "line 1, column 4: expected a space after the time",
            ),
            (
                "5ms",
                "line 1, column 4: expected a port name or `tick` after the time, found the end of the line",
            ),
            (
                "5ms   # comment",
                "line 1, column 7: expected a port name or `tick` after the time, found the end of the line",
            ),
            (
                "5ms 7 ?a",
                "line 1, column 5: expected a port name or `tick` after the time, found `7`",
            ),
            // Addresses.
            (
                "0ms usb/ ?a",
                "line 1, column 9: expected the name of the spawning message after `/`, found ` `",
            ),
            (
                "0ms usb/pipeOpen ?a",
                "line 1, column 17: expected `:` and a key after `pipeOpen`, found ` `",
            ),
            (
                "0ms usb/pipeOpen:x ?a",
                "line 1, column 18: a key must be an integer",
            ),
            (
                "0ms usb/pipeOpen: ?a",
                "line 1, column 18: a key must be an integer",
            ),
            (
                "0ms usb/pipeOpen:-x ?a",
                "line 1, column 18: a key must be an integer",
            ),
            (
                "0ms usb/pipeOpen:12ab ?a",
                "line 1, column 18: malformed integer `12ab`",
            ),
            (
                "0ms usb/pipeOpen:9223372036854775808 ?a",
                "line 1, column 18: integer `9223372036854775808` does not fit in 64 bits (a signed `i64`)",
            ),
            (
                "0ms lc.stop",
                "line 1, column 7: expected a space after the address",
            ),
            (
                "0ms lc?start",
                "line 1, column 7: expected a space after the address",
            ),
            (
                "0ms lc",
                "line 1, column 7: expected a message (`?name` or `!name`) after `lc`",
            ),
            (
                "0ms usb/p:1   # c",
                "line 1, column 12: expected a message (`?name` or `!name`) after `usb/p:1`",
            ),
            (
                "0ms tick/p:1",
                "line 1, column 13: expected a message (`?name` or `!name`) after `tick/p:1`",
            ),
            // Messages.
            (
                "0ms lc start",
                "line 1, column 8: expected `?` or `!` before the message name",
            ),
            (
                "0ms tick tock",
                "line 1, column 10: expected `?` or `!` before the message name",
            ),
            (
                "0ms lc ?",
                "line 1, column 9: expected a message name after `?`, found the end of the line",
            ),
            (
                "0ms lc ! start",
                "line 1, column 9: expected a message name after `!`, found ` `",
            ),
            (
                "0ms lc ?start extra",
                "line 1, column 15: expected the end of the line after the message, found `extra`",
            ),
            (
                "0ms lc ?start(1) (2)",
                "line 1, column 18: expected the end of the line after the message, found `(`",
            ),
            (
                "0ms lc ?start)",
                "line 1, column 14: expected the end of the line after the message, found `)`",
            ),
            // Arguments.
            ("0ms lc ?start(", "line 1, column 14: unclosed `(`"),
            ("0ms lc ?start(1, 2", "line 1, column 14: unclosed `(`"),
            ("0ms lc ?start  (1, # )", "line 1, column 16: unclosed `(`"),
            (
                "0ms lc ?start(1 2)",
                "line 1, column 17: expected `,` or `)` after an argument, found `2`",
            ),
            (
                "0ms lc ?start(1;2)",
                "line 1, column 16: expected `,` or `)` after an argument, found `;`",
            ),
            (
                "0ms lc ?start(1,)",
                "line 1, column 17: expected a value (an integer, `true`, `false` or a name), found `)`",
            ),
            (
                "0ms lc ?start(,1)",
                "line 1, column 15: expected a value (an integer, `true`, `false` or a name), found `,`",
            ),
            (
                "0ms lc ?start(\"x\")",
                "line 1, column 15: expected a value (an integer, `true`, `false` or a name), found `\"`",
            ),
            (
                "0ms lc ?start(é)",
                "line 1, column 15: expected a value (an integer, `true`, `false` or a name), found `é`",
            ),
            (
                "0ms lc ?start(- 1)",
                "line 1, column 16: expected a digit after `-`, found ` `",
            ),
            (
                "0ms lc ?start(+1)",
                "line 1, column 15: expected a value (an integer, `true`, `false` or a name), found `+`",
            ),
            (
                "0ms lc ?start(0x)",
                "line 1, column 15: malformed integer `0x`",
            ),
            (
                "0ms lc ?start(-0x_1)",
                "line 1, column 15: malformed integer `-0x_1`",
            ),
            (
                "0ms lc ?start(1e3)",
                "line 1, column 15: malformed integer `1e3`",
            ),
            (
                "0ms lc ?start(0xfg)",
                "line 1, column 15: malformed integer `0xfg`",
            ),
            (
                "0ms lc ?start(1.5)",
                "line 1, column 16: expected `,` or `)` after an argument, found `.`",
            ),
            (
                "0ms lc ?start(-9223372036854775809)",
                "line 1, column 15: integer `-9223372036854775809` does not fit in 64 bits (a signed `i64`)",
            ),
            (
                "0ms lc ?start(0x8000000000000000)",
                "line 1, column 15: integer `0x8000000000000000` does not fit in 64 bits (a signed `i64`)",
            ),
            (
                "0ms lc ?start(0x1_0000_0000_0000_0000)",
                "line 1, column 15: integer `0x1_0000_0000_0000_0000` does not fit in 64 bits (a signed `i64`)",
            ),
        ];
        let mut failures = Vec::new();
        for (text, expected) in cases {
            let got = error(text);
            if got != *expected {
                failures.push(format!("{text:?}\n   got {got}\n  want {expected}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn errors_implement_error() {
        let e: Box<dyn std::error::Error> = Box::new(parse("x").unwrap_err());
        assert!(e.to_string().starts_with("line 1, column 1: "));
    }

    #[test]
    fn long_tokens_are_shortened_in_messages() {
        let long = "9".repeat(10_000);
        let message = error(&format!("0ms lc ?a({long})"));
        assert!(message.len() < 200, "{message}");
        assert!(
            message.ends_with("…` does not fit in 64 bits (a signed `i64`)"),
            "{message}"
        );
        let message = error(&format!("0ms {} {}", "p", "x".repeat(10_000)));
        assert!(message.len() < 200, "{message}");
        let message = error(&format!("1{}m tick", "0".repeat(10_000)));
        assert!(message.len() < 200, "{message}");
    }

    /// Large inputs parse in linear time (a quadratic parser would take
    /// minutes here in a debug build).
    #[test]
    fn large_inputs() {
        let mut text = String::new();
        for i in 0..100_000 {
            text.push_str(&format!("{i}us p/m:{i} !x({i}, true, V)\n"));
        }
        let trace = parse(&text).unwrap();
        assert_eq!(trace.events.len(), 100_000);
        assert_eq!(parse(&write(&trace)).unwrap().events.len(), 100_000);

        let args = vec!["-0x7f"; 200_000].join(",");
        let e = event(&format!("0ms p !x({args})"));
        let EventKind::Message(m) = e.kind else {
            panic!()
        };
        assert_eq!(m.args.len(), 200_000);

        let path = "/m:1".repeat(100_000);
        let e = event(&format!("0ms p{path} !x"));
        let EventKind::Message(m) = e.kind else {
            panic!()
        };
        assert_eq!(m.address.path.len(), 100_000);

        let unclosed = format!("0ms p !x({}", "1,".repeat(200_000));
        assert_eq!(error(&unclosed), "line 1, column 9: unclosed `(`");
        let spaces = format!("0ms{}tick", " ".repeat(1_000_000));
        assert_eq!(event(&spaces).kind, EventKind::Tick);
    }

    fn config(cases: u32) -> ProptestConfig {
        let cases = std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(cases);
        ProptestConfig {
            cases,
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    fn ident() -> impl Strategy<Value = String> {
        "[A-Za-z_][A-Za-z0-9_]{0,8}"
    }

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<i64>().prop_map(Value::Int),
            prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(0), Just(-1)].prop_map(Value::Int),
            any::<bool>().prop_map(Value::Bool),
            ident()
                .prop_filter("not a boolean", |s| s != "true" && s != "false")
                .prop_map(Value::Name),
        ]
    }

    fn address() -> impl Strategy<Value = Address> {
        (
            ident(),
            prop::collection::vec((ident(), any::<i64>()), 0..4),
        )
            .prop_map(|(port, path)| Address { port, path })
    }

    fn kind() -> impl Strategy<Value = EventKind> {
        prop_oneof![
            1 => Just(EventKind::Tick),
            6 => (address(), any::<bool>(), ident(), prop::collection::vec(value(), 0..5)).prop_map(
                |(address, bang, message, args)| {
                    let direction = if bang { Sigil::Bang } else { Sigil::Question };
                    EventKind::Message(MessageEvent { address, direction, message, args })
                }
            ),
        ]
    }

    /// Time steps: mostly small, some exact units, some huge.
    fn step() -> impl Strategy<Value = u64> {
        prop_oneof![
            Just(0u64),
            0u64..2_000,
            0u64..5_000_000,
            (0u64..100).prop_map(|n| n * 1000),
            (0u64..100).prop_map(|n| n * 1_000_000),
            0u64..(u64::MAX / 64),
        ]
    }

    fn trace() -> impl Strategy<Value = Trace> {
        (
            prop::option::of(ident()),
            prop::collection::vec((step(), kind()), 0..24),
        )
            .prop_map(|(component, steps)| {
                let mut now = 0u64;
                let events = steps
                    .into_iter()
                    .map(|(step, kind)| {
                        now = now.saturating_add(step);
                        TraceEvent {
                            line: 0,
                            time_us: now,
                            kind,
                        }
                    })
                    .collect();
                Trace { component, events }
            })
    }

    /// Characters that matter to the parser, and some that do not.
    const ALPHABET: &[char] = &[
        '0', '1', '9', '.', '_', '-', 'x', 'a', 'F', 'u', 'm', 's', '/', ':', '?', '!', '(', ')',
        ',', '#', ' ', '\t', '\r', '\n', 'é', '\u{feff}', '"', '\0',
    ];

    fn check_no_panic(text: &str) -> Result<(), TestCaseError> {
        if let Err(e) = parse(text) {
            let lines = text.split('\n').count();
            prop_assert!(e.line >= 1 && e.line <= lines, "{e} in {text:?}");
            let line = text.split('\n').nth(e.line - 1).unwrap_or("");
            prop_assert!(
                e.column >= 1 && e.column <= line.chars().count() + 1,
                "{e} in {text:?}"
            );
            prop_assert!(!e.message.is_empty());
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(config(512))]

        #[test]
        fn written_traces_parse_back(t in trace()) {
            let text = write(&t);
            let parsed = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            // Events are numbered by their line: after the header, one per line.
            let first = if t.component.is_some() { 2 } else { 1 };
            for (i, e) in parsed.events.iter().enumerate() {
                prop_assert_eq!(e.line, first + i);
            }
            prop_assert_eq!(strip_lines(parsed), t.clone());
            // Each event's Display is a trace line of its own.
            for e in &t.events {
                let line = e.to_string();
                let parsed = parse(&line).map_err(|err| TestCaseError::fail(format!("{err}\n{line}")))?;
                prop_assert_eq!(&parsed.events[0].kind, &e.kind);
                prop_assert_eq!(parsed.events[0].time_us, e.time_us);
            }
        }

        #[test]
        fn times_parse_back(us in prop_oneof![any::<u64>(), 0u64..10_000_000]) {
            let text = format!("{} tick", format_time(us));
            prop_assert_eq!(parse(&text).unwrap().events[0].time_us, us);
        }

        /// `WHOLE.FRACTION UNIT` is converted exactly, or refused.
        #[test]
        fn times_convert_exactly(whole in 0u64..1_000_000_000, fraction in "[0-9]{0,9}", unit in 0usize..3) {
            let (name, scale) = [("us", 0u32), ("ms", 3), ("s", 6)][unit];
            let text = if fraction.is_empty() {
                format!("{whole}{name} tick")
            } else {
                format!("{whole}.{fraction}{name} tick")
            };
            // The exact value, scaled by 10^9 to keep the fraction whole.
            let digits = format!("{fraction:0<9}");
            let nanos = u128::from(whole) * 1_000_000_000 + digits.parse::<u128>().unwrap();
            let exact = nanos * 10u128.pow(scale);
            let result = parse(&text);
            if exact % 1_000_000_000 == 0 {
                let us = u64::try_from(exact / 1_000_000_000).unwrap();
                prop_assert_eq!(result.unwrap().events[0].time_us, us);
            } else {
                prop_assert_eq!(result.unwrap_err().message, "time must be a whole number of microseconds");
            }
        }

        /// Integers in every notation read back to their value.
        #[test]
        fn integers_parse_back(n in any::<i64>(), hex in any::<bool>(), underscores in any::<bool>()) {
            let magnitude = n.unsigned_abs();
            let mut digits = if hex { format!("{magnitude:x}") } else { magnitude.to_string() };
            if underscores {
                digits = digits.chars().flat_map(|c| [c, '_']).collect();
            }
            let sign = if n < 0 { "-" } else { "" };
            let prefix = if hex { "0x" } else { "" };
            let text = format!("0ms p/m:{sign}{prefix}{digits} !x({sign}{prefix}{digits})");
            let e = parse(&text).unwrap().events.remove(0);
            let EventKind::Message(m) = e.kind else { panic!() };
            prop_assert_eq!(m.address.path[0].1, n);
            prop_assert_eq!(&m.args, &vec![Value::Int(n)]);
        }

        #[test]
        fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            check_no_panic(&String::from_utf8_lossy(&bytes))?;
        }

        #[test]
        fn random_text_never_panics(chars in prop::collection::vec(prop::sample::select(ALPHABET), 0..256)) {
            check_no_panic(&chars.into_iter().collect::<String>())?;
        }

        /// Valid traces with random deletions, insertions and replacements.
        #[test]
        fn mutated_traces_never_panic(
            t in trace(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, prop::sample::select(ALPHABET)), 1..8),
        ) {
            let mut chars: Vec<char> = write(&t).chars().collect();
            for (index, op, c) in edits {
                let at = index.index(chars.len() + 1);
                match op {
                    0 if at < chars.len() => { chars.remove(at); }
                    1 if at < chars.len() => chars[at] = c,
                    _ => chars.insert(at, c),
                }
            }
            check_no_panic(&chars.into_iter().collect::<String>())?;
        }
    }
}
