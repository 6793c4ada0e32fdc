//! Replaying a trace through an observer: the engine behind
//! `dingo spec replay`, the conformance suite and trace generation.

use crate::VirtualClock;
use crate::code::Backend;
use crate::engine::{Config, Handle, Observer, Verdict};
use crate::report::Violation;
use crate::trace::{Address, EventKind, MessageEvent, Sigil, Trace, Value};
use std::fmt;
use std::sync::Arc;
use tingu::ir::{Model, Type};
use tingu::syntax::ast::Direction;

/// A trace that does not fit the specs (a malformed trace, not a violation):
/// an unknown component or port, wrong argument counts or types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayError {
    /// The trace line (0 when not about a line).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

impl std::error::Error for ReplayError {}

/// What a replay found.
pub struct Replayed {
    /// The observer after the last event (states, counters).
    pub observer: Observer<VirtualClock>,
    /// Every violation, with the trace line that revealed it.
    pub violations: Vec<(usize, Violation)>,
    /// The line of each event, and whether it was legal, in order.
    pub verdicts: Vec<(usize, bool)>,
}

/// Picks the component: the one named, else the trace's header, else the
/// model's only component.
pub fn pick_component(
    model: &Model,
    named: Option<&str>,
    trace: &Trace,
) -> Result<String, ReplayError> {
    if let Some(n) = named.or(trace.component.as_deref()) {
        if model.component(n).is_none() {
            let known: Vec<&str> = model.components.iter().map(|c| c.name.as_str()).collect();
            return Err(ReplayError {
                line: 0,
                message: format!(
                    "no component `{n}`; the specs declare: {}",
                    known.join(", ")
                ),
            });
        }
        return Ok(n.to_string());
    }
    match model.components.as_slice() {
        [one] => Ok(one.name.clone()),
        [] => Err(ReplayError {
            line: 0,
            message: "the specs declare no component".into(),
        }),
        many => Err(ReplayError {
            line: 0,
            message: format!(
                "which component? the trace has no `component` line; pass --component ({})",
                many.iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

/// Replays `trace` through a fresh observer of `component`.
pub fn replay(
    model: Arc<Model>,
    component: &str,
    trace: &Trace,
    backend: &dyn Backend,
    config: Config,
) -> Result<Replayed, ReplayError> {
    let clock = VirtualClock::new();
    let mut observer =
        Observer::new(model, component, backend, clock.clone(), config).map_err(|e| {
            ReplayError {
                line: 0,
                message: e.to_string(),
            }
        })?;
    let mut violations = Vec::new();
    let mut verdicts = Vec::new();
    for event in &trace.events {
        clock.set(event.time_us);
        let before = observer.violations().len();
        let verdict = match &event.kind {
            EventKind::Tick => observer.advance(),
            EventKind::Message(m) => step(&mut observer, m).map_err(|message| ReplayError {
                line: event.line,
                message,
            })?,
        };
        // A call can reveal several violations (expired timeouts, then the message's own).
        let new = &observer.violations()[before..];
        verdicts.push((event.line, new.is_empty()));
        violations.extend(new.iter().map(|v| (event.line, v.clone())));
        if verdict == Verdict::Stopped {
            break;
        }
    }
    Ok(Replayed {
        observer,
        violations,
        verdicts,
    })
}

fn direction(s: Sigil) -> Direction {
    match s {
        Sigil::Question => Direction::In,
        Sigil::Bang => Direction::Out,
    }
}

/// Resolves an address to a handle; `Err(Verdict)` when a subport is unknown.
fn resolve(
    obs: &mut Observer<VirtualClock>,
    a: &Address,
    m: &MessageEvent,
) -> Result<Result<Handle, Verdict>, String> {
    let mut h = obs.port(&a.port).ok_or_else(|| {
        let ports: Vec<String> = (0..obs.component().port_count)
            .map(|k| obs.component().kinds[k].name.clone())
            .collect();
        format!(
            "component `{}` has no port `{}` (ports: {})",
            obs.component().name,
            a.port,
            ports.join(", ")
        )
    })?;
    for (spawner, key) in &a.path {
        let proto = obs
            .protocol_of(h)
            .ok_or("a port on the path has terminated")?;
        let Some(msg) = proto.message(spawner) else {
            return Err(format!("`{}` has no message `{spawner}`", proto.name));
        };
        if proto.messages[msg.0 as usize].spawns.is_none() {
            return Err(format!(
                "`{}.{spawner}` does not spawn subports",
                proto.name
            ));
        }
        match obs.subport(h, msg, *key) {
            Some(sub) => h = sub,
            None => {
                return Ok(Err(obs.unknown_subport(
                    h,
                    msg,
                    *key,
                    direction(m.direction),
                    &m.message,
                )));
            }
        }
    }
    Ok(Ok(h))
}

/// Resolves and checks one message event of a trace; `Err` when the event does not fit the specs.
pub fn step(obs: &mut Observer<VirtualClock>, m: &MessageEvent) -> Result<Verdict, String> {
    let h = match resolve(obs, &m.address, m)? {
        Ok(h) => h,
        Err(verdict) => return Ok(verdict),
    };
    let dir = direction(m.direction);
    let Some(proto) = obs.protocol_of(h) else {
        return Err("the port has terminated".into());
    };
    let Some(id) = proto.message(&m.message) else {
        return Ok(obs.undeclared(h, dir, &m.message));
    };
    let msg = &proto.messages[id.0 as usize];
    if msg.params.len() != m.args.len() {
        return Err(format!(
            "`{}` has {} parameter{}, the trace gives {}",
            msg.name,
            msg.params.len(),
            if msg.params.len() == 1 { "" } else { "s" },
            m.args.len()
        ));
    }
    let mut args = [0i64; 16];
    let mut heap = Vec::new();
    let slots: &mut [i64] = if m.args.len() <= args.len() {
        &mut args[..m.args.len()]
    } else {
        heap.resize(m.args.len(), 0);
        &mut heap
    };
    let model = obs.model();
    for ((slot, value), param) in slots.iter_mut().zip(&m.args).zip(&msg.params) {
        *slot = match (value, param.ty) {
            (Value::Int(v), Type::Int(int)) => {
                let (lo, hi) = int.range();
                if *v < lo || *v > hi {
                    return Err(format!(
                        "{v} does not fit `{}` parameter `{}`",
                        int.name(),
                        param.name
                    ));
                }
                *v
            }
            (Value::Int(v), Type::Opaque(_) | Type::Port(_)) => *v,
            (Value::Bool(b), Type::Bool) => *b as i64,
            (Value::Name(n), Type::Enum(e)) => match model.enums[e as usize]
                .variants
                .iter()
                .find(|(v, _)| v == n)
            {
                Some((_, v)) => *v,
                None => {
                    return Err(format!(
                        "`{n}` is not a variant of `{}`",
                        model.enums[e as usize].name
                    ));
                }
            },
            (v, ty) => {
                return Err(format!(
                    "`{v}` is not a value of type `{}` (parameter `{}`)",
                    model.show_type(&ty),
                    param.name
                ));
            }
        };
    }
    let args: Vec<i64> = slots.to_vec();
    Ok(obs.message(h, dir, id, &args))
}
