//! Violation reports: what went wrong, who is to blame, and the state of
//! the whole component, printed for people and kept as a value for hosts.

use std::fmt;

/// Who sent a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The driver (the component being observed).
    Driver,
    /// Its environment (the OS, a bus, another driver).
    Environment,
}

impl Side {
    /// "driver" or "environment".
    pub fn noun(self) -> &'static str {
        match self {
            Side::Driver => "driver",
            Side::Environment => "environment",
        }
    }

    /// The blame for an illegal message from this side.
    pub fn blame(self) -> Blame {
        match self {
            Side::Driver => Blame::Driver,
            Side::Environment => Blame::Environment,
        }
    }
}

/// Whose fault a violation is (rule 4 and rule 5 of docs/tingu.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Blame {
    /// The driver sent something illegal, or failed to act in time.
    Driver,
    /// The environment did.
    Environment,
    /// Either could have prevented it (a timeout that both sides could end).
    Both,
    /// The spec itself: an action overflowed or assigned an out-of-range value.
    Spec,
}

impl fmt::Display for Blame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Blame::Driver => "the driver",
            Blame::Environment => "the environment",
            Blame::Both => "both sides (either could have left the state)",
            Blame::Spec => "the specification",
        })
    }
}

/// The kinds of violation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ViolationKind {
    /// No enabled transition for the message, in its own protocol or in a
    /// protocol that synchronises on it (then named here).
    Illegal {
        /// The port that refused it, when it was not the message's own.
        blocked_by: Option<String>,
    },
    /// A `?` message sent by the driver, or a `!` message by the environment.
    WrongDirection,
    /// A message the protocol does not declare.
    UnknownMessage {
        /// The name used.
        name: String,
    },
    /// A message after the port or subport reached a final state.
    AfterTermination,
    /// A state's timeout expired.
    Timeout {
        /// The state's path.
        state: String,
        /// Its timeout.
        limit_us: u64,
    },
    /// A spawning message reused the key of a live subport.
    DuplicateSubport {
        /// The key.
        key: i64,
    },
    /// A message for a subport that does not exist (or no longer does).
    UnknownSubport {
        /// The key, when known.
        key: Option<i64>,
    },
    /// An action or guard failed to evaluate (overflow, division by zero,
    /// a value that does not fit its variable).
    SpecError,
}

impl ViolationKind {
    /// A short title.
    pub fn title(&self) -> &'static str {
        match self {
            ViolationKind::Illegal { blocked_by: None } => "illegal message",
            ViolationKind::Illegal {
                blocked_by: Some(_),
            } => "message blocked by a dependent protocol",
            ViolationKind::WrongDirection => "message sent in the wrong direction",
            ViolationKind::UnknownMessage { .. } => "undeclared message",
            ViolationKind::AfterTermination => "message after the protocol terminated",
            ViolationKind::Timeout { .. } => "timeout",
            ViolationKind::DuplicateSubport { .. } => "subport key already in use",
            ViolationKind::UnknownSubport { .. } => "message for an unknown subport",
            ViolationKind::SpecError => "error in the specification's guard or action",
        }
    }
}

/// The state of one other port at the time of a violation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceSnapshot {
    /// Its address (`usb/pipeOpen:7`).
    pub port: String,
    /// Its protocol.
    pub protocol: String,
    /// Its active state path, or `(terminated)`.
    pub state: String,
    /// Its variables, as `(name, value)`.
    pub variables: Vec<(String, String)>,
}

/// A protocol violation, with everything needed to understand it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// What kind.
    pub kind: ViolationKind,
    /// Whose fault.
    pub blame: Blame,
    /// When it happened (for a timeout: the deadline), in microseconds.
    pub time_us: u64,
    /// The component.
    pub component: String,
    /// The port or subport address.
    pub port: String,
    /// Its protocol.
    pub protocol: String,
    /// The active state path (`PowerManagement.powered.sleep_prepare`).
    pub state: String,
    /// The offending message with its argument values (`!sleepComplete`), if any.
    pub message: Option<String>,
    /// Who sent it.
    pub sender: Option<Side>,
    /// The messages the port's protocol allowed in that state.
    pub legal: Vec<String>,
    /// Every other port and subport.
    pub others: Vec<InstanceSnapshot>,
    /// The last events, oldest first, as trace lines (the offending one last).
    pub history: Vec<String>,
    /// One sentence that explains the violation.
    pub detail: String,
}

impl Violation {
    /// The events leading to the violation, as a trace that `dingo spec
    /// replay` accepts (complete when the observer's history was large
    /// enough to hold the whole run).
    pub fn trace(&self) -> String {
        let mut out = format!(
            "# events before a violation: {}\ncomponent {}\n",
            self.kind.title(),
            self.component
        );
        for line in &self.history {
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "protocol violation: {} in component `{}` at {}",
            self.kind.title(),
            self.component,
            crate::trace::format_time(self.time_us)
        )?;
        writeln!(f, "  port:     {} ({})", self.port, self.protocol)?;
        if !self.state.is_empty() {
            writeln!(f, "  state:    {}", self.state)?;
        }
        if let Some(m) = &self.message {
            let by = self
                .sender
                .map(|s| format!(", sent by the {}", s.noun()))
                .unwrap_or_default();
            writeln!(f, "  message:  {m}{by}")?;
        }
        writeln!(f, "  blame:    {}", self.blame)?;
        if !self.detail.is_empty() {
            writeln!(f, "  why:      {}", self.detail)?;
        }
        if !self.legal.is_empty() {
            writeln!(f, "  legal in this state: {}", self.legal.join(", "))?;
        }
        if !self.others.is_empty() {
            writeln!(f, "  other ports:")?;
            let w = self.others.iter().map(|o| o.port.len()).max().unwrap_or(0);
            let wp = self
                .others
                .iter()
                .map(|o| o.protocol.len())
                .max()
                .unwrap_or(0);
            for o in &self.others {
                let vars: Vec<String> = o
                    .variables
                    .iter()
                    .map(|(n, v)| format!("{n}={v}"))
                    .collect();
                writeln!(
                    f,
                    "    {:w$}  {:wp$}  {}  {}",
                    o.port,
                    o.protocol,
                    o.state,
                    vars.join(" ")
                )
                .map(|_| ())?;
            }
        }
        if !self.history.is_empty() {
            writeln!(
                f,
                "  last {} events (a replayable trace):",
                self.history.len()
            )?;
            for line in &self.history {
                writeln!(f, "    {line}")?;
            }
        }
        Ok(())
    }
}
