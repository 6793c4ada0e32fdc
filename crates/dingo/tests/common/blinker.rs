//! A small component written by hand the way `tingu_build` generates
//! interfaces, for the runtime's own tests: a lifecycle port and an LED
//! port with a `concurrent` message.

use dingo::wire::{Component, SendError, Sender, Wire};
use std::sync::{Arc, OnceLock};
use tingu::ir::Model;

/// The specs of the component.
pub const SPEC: &str = "
protocol Life {
messages:
  in start();
  out started();
  in stop();
  out stopped();
states:
  initial state idle { ?start -> starting; }
  state starting [1s] { !started -> running; }
  state running { ?stop -> stopping; }
  state stopping [1s] { !stopped -> done; }
  final state done;
}

protocol Led {
dependencies:
  Life lc;
messages:
  out on();
  out off();
  concurrent in poke(u32 n);
states:
  initial state lit {
    !on;
    !off;
    ?poke;
    lc.stopped -> gone;
  }
  final state gone;
}

component blinker {
ports:
  Life lc;
  Led led;
}
";

/// What the driver receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// `lc ?start`
    Start,
    /// `lc ?stop`
    Stop,
    /// `led ?poke(n)`
    Poke(u32),
}

/// Message indices, in the specs' order.
pub const START: u16 = 0;
pub const STARTED: u16 = 1;
pub const STOP: u16 = 2;
pub const STOPPED: u16 = 3;
pub const ON: u16 = 0;
pub const OFF: u16 = 1;
pub const POKE: u16 = 2;

/// Send handles.
pub struct Ports {
    pub lc: LcPort,
    pub led: LedPort,
}

/// `lc`'s outgoing messages.
pub struct LcPort(Sender);
impl LcPort {
    pub fn started(&self) -> Result<(), SendError> {
        self.0.send(Wire::new(0, STARTED, true))
    }
    pub fn stopped(&self) -> Result<(), SendError> {
        self.0.send(Wire::new(0, STOPPED, true))
    }
}

/// `led`'s outgoing messages.
pub struct LedPort(Sender);
impl LedPort {
    pub fn on(&self) -> Result<(), SendError> {
        self.0.send(Wire::new(1, ON, true))
    }
    pub fn off(&self) -> Result<(), SendError> {
        self.0.send(Wire::new(1, OFF, true))
    }
}

/// The component.
pub struct Blinker;

impl Component for Blinker {
    const NAME: &'static str = "blinker";
    type Event = Event;
    type Ports = Ports;

    fn event(w: &Wire) -> Option<Event> {
        if w.from_driver || w.depth != 0 {
            return None;
        }
        match (w.port, w.message, w.args()) {
            (0, START, []) => Some(Event::Start),
            (0, STOP, []) => Some(Event::Stop),
            (1, POKE, [n]) => u32::try_from(*n).ok().map(Event::Poke),
            _ => None,
        }
    }

    fn wire(e: &Event) -> Wire {
        match *e {
            Event::Start => start(),
            Event::Stop => stop(),
            Event::Poke(n) => poke(i64::from(n)),
        }
    }

    fn is_concurrent(w: &Wire) -> bool {
        w.port == 1 && w.message == POKE
    }

    fn ports(sender: Sender) -> Ports {
        Ports {
            lc: LcPort(sender.clone()),
            led: LedPort(sender),
        }
    }

    fn port_names() -> &'static [&'static str] {
        &["lc", "led"]
    }

    fn model() -> Arc<Model> {
        static MODEL: OnceLock<Arc<Model>> = OnceLock::new();
        MODEL
            .get_or_init(|| {
                let (lib, _) = tingu::Library::from_source("blinker.tingu", SPEC);
                let checked = tingu::check(&lib);
                Arc::new(checked.model.expect("the test spec checks"))
            })
            .clone()
    }

    fn backend() -> &'static dyn tingu_observer::Backend {
        &tingu_observer::InterpretedBackend
    }
}

/// Messages from the host, as wires.
pub fn start() -> Wire {
    Wire::new(0, START, false)
}
pub fn stop() -> Wire {
    Wire::new(0, STOP, false)
}
pub fn poke(n: i64) -> Wire {
    Wire::new(1, POKE, false).with_args(&[n])
}
