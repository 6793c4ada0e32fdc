//! The observer engine against the spec library: legal runs, each kind of
//! violation, blame, dependencies, timeouts, spawning and policies.

use std::path::PathBuf;
use std::sync::Arc;
use tingu::ir::Model;
use tingu::syntax::ast::Direction;
use tingu_observer::{
    Blame, Config, Handle, InterpretedBackend, Observer, Policy, Verdict, Violation, ViolationKind,
    VirtualClock,
};

fn library() -> Arc<Model> {
    let specs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../specs");
    let (lib, _) = tingu::Library::load(&[specs]).unwrap();
    Arc::new(tingu::check(&lib).model.expect("the library checks"))
}

struct Harness {
    obs: Observer<VirtualClock>,
    clock: VirtualClock,
}

impl Harness {
    fn new(component: &str) -> Harness {
        Harness::with(component, Config::default())
    }

    fn with(component: &str, config: Config) -> Harness {
        let clock = VirtualClock::new();
        let obs = Observer::new(
            library(),
            component,
            &InterpretedBackend,
            clock.clone(),
            config,
        )
        .unwrap();
        Harness { obs, clock }
    }

    fn handle(&self, port: &str) -> Handle {
        self.obs
            .port(port)
            .unwrap_or_else(|| panic!("no port {port}"))
    }

    /// `event` is `?name` or `!name`.
    fn send(&mut self, h: Handle, event: &str, args: &[i64]) -> Verdict {
        let (dir, name) = match event.split_at(1) {
            ("?", n) => (Direction::In, n),
            ("!", n) => (Direction::Out, n),
            _ => panic!("bad event {event}"),
        };
        let m = self
            .obs
            .protocol_of(h)
            .unwrap()
            .message(name)
            .unwrap_or_else(|| panic!("no message {name}"));
        self.obs.message(h, dir, m, args)
    }

    fn ok(&mut self, port: &str, event: &str, args: &[i64]) {
        let h = self.handle(port);
        let v = self.send(h, event, args);
        assert!(v.is_ok(), "{port} {event} should be legal:\n{}", show(&v));
    }

    fn bad(&mut self, port: &str, event: &str, args: &[i64]) -> Violation {
        let h = self.handle(port);
        match self.send(h, event, args) {
            Verdict::Violation(v) => *v,
            other => panic!("{port} {event} should be a violation, got {other:?}"),
        }
    }

    fn state(&self, port: &str) -> String {
        self.obs.state_of(self.handle(port)).unwrap()
    }

    fn at_ms(&mut self, ms: u64) {
        self.clock.set(ms * 1000);
    }
}

fn show(v: &Verdict) -> String {
    match v {
        Verdict::Violation(v) => v.to_string(),
        other => format!("{other:?}"),
    }
}

fn started() -> Harness {
    let mut h = Harness::new("asix");
    h.ok("lc", "?start", &[]);
    h.at_ms(1);
    h.ok("lc", "!startComplete", &[]);
    h
}

#[test]
fn a_legal_start_moves_dependent_protocols_too() {
    let h = started();
    assert_eq!(h.state("lc"), "Lifecycle.attached.running");
    // PowerManagement synchronised on lc.startComplete (rule 3).
    assert!(
        h.state("pm").starts_with("PowerManagement.powered"),
        "{}",
        h.state("pm")
    );
    assert!(h.obs.violations().is_empty());
}

#[test]
fn an_illegal_driver_message_is_the_drivers_fault() {
    let mut h = Harness::new("asix");
    let v = h.bad("lc", "!startComplete", &[]);
    assert_eq!(v.kind, ViolationKind::Illegal { blocked_by: None });
    assert_eq!(v.blame, Blame::Driver);
    assert_eq!(v.state, "Lifecycle.attached.idle");
    assert!(v.legal.iter().any(|l| l == "?start"), "{:?}", v.legal);
    // The report names every other port and its state.
    assert!(
        v.others
            .iter()
            .any(|o| o.port == "pm" && o.protocol == "PowerManagement")
    );
    // Continue policy: the bad message changed nothing; the protocol goes on.
    h.ok("lc", "?start", &[]);
}

#[test]
fn an_illegal_environment_message_is_the_environments_fault() {
    let mut h = started();
    let v = h.bad("lc", "?start", &[]);
    assert_eq!(v.blame, Blame::Environment);
}

#[test]
fn wrong_direction_blames_the_sender() {
    let mut h = Harness::new("asix");
    let v = h.bad("lc", "!start", &[]);
    assert_eq!(v.kind, ViolationKind::WrongDirection);
    assert_eq!(v.blame, Blame::Driver);
}

#[test]
fn mirrored_ports_swap_who_sends() {
    // The driver uses Timer through `mirror`: Timer's `in arm` is sent by the driver.
    let mut h = started();
    let timer = h.handle("timer");
    let proto = h.obs.protocol_of(timer).unwrap();
    let arm = proto
        .messages
        .iter()
        .find(|m| m.direction == Direction::In)
        .unwrap()
        .name
        .clone();
    let args = vec![
        5;
        proto.messages[proto.message(&arm).unwrap().0 as usize]
            .params
            .len()
    ];
    let v = h.send(timer, &format!("!{arm}"), &args);
    let Verdict::Violation(v) = v else {
        panic!("`!{arm}` must be the wrong direction")
    };
    // Written `!`, i.e. as the timer service sending it: on a mirrored port that is the environment.
    assert_eq!(v.blame, Blame::Environment);
}

#[test]
fn timeouts_fire_on_the_next_event_and_on_advance() {
    let mut h = Harness::new("asix");
    h.ok("lc", "?start", &[]);
    h.at_ms(4_999);
    assert!(h.obs.advance().is_ok());
    h.at_ms(5_001);
    let Verdict::Violation(v) = h.obs.advance() else {
        panic!("timeout expected")
    };
    assert_eq!(
        v.kind,
        ViolationKind::Timeout {
            state: "attached.starting".into(),
            limit_us: 5_000_000
        }
    );
    // Only the driver's messages leave `starting` (the inherited `?unplugged` does not count).
    assert_eq!(v.blame, Blame::Driver);
    assert_eq!(v.time_us, 5_000_000, "reported at the deadline");
    // Reported once.
    h.at_ms(9_000);
    assert!(h.obs.advance().is_ok());
}

#[test]
fn internal_transitions_do_not_rearm_timeouts_but_entering_does() {
    let mut h = started();
    let usb = h.handle("usb");
    assert!(h.send(usb, "!pipeOpen", &[0x81, 3]).is_ok());
    let pipe = h
        .obs
        .subport(
            usb,
            h.obs.protocol_of(usb).unwrap().message("pipeOpen").unwrap(),
            3,
        )
        .unwrap();
    assert!(h.send(pipe, "!transfer", &[1]).is_ok());
    assert!(h.send(pipe, "!transfer", &[2]).is_ok());
    h.at_ms(10);
    assert!(h.send(pipe, "!abort", &[]).is_ok()); // enters `aborting [1s]` at 10ms
    h.at_ms(900);
    assert!(h.send(pipe, "?transferComplete", &[1, 0]).is_ok()); // internal: no re-arm
    h.at_ms(1_011);
    let Verdict::Violation(v) = h.obs.advance() else {
        panic!("timeout expected")
    };
    assert_eq!(v.time_us, 1_010_000, "measured from the entry at 10ms");
    assert_eq!(v.port, "usb/pipeOpen:3");
    // Only `?abortComplete` leaves `aborting`: the bus is late.
    assert_eq!(v.blame, Blame::Environment);
}

#[test]
fn a_dependent_protocol_can_block_a_message() {
    let mut h = started();
    h.ok("eth", "?enable", &[]);
    h.ok("eth", "!enableComplete", &[]);
    h.ok("eth", "?txPacket", &[0x1000]);
    h.ok("lc", "?stop", &[]);
    // EthernetController names lc.stopComplete [tx_pending == 0]: a packet is still held.
    let v = h.bad("lc", "!stopComplete", &[]);
    assert_eq!(
        v.kind,
        ViolationKind::Illegal {
            blocked_by: Some("eth".into())
        }
    );
    assert_eq!(v.blame, Blame::Driver);
    assert!(v.detail.contains("rule 3"), "{}", v.detail);
    // Atomic: Lifecycle did not move either.
    assert_eq!(h.state("lc"), "Lifecycle.attached.stopping");
    h.ok("eth", "!txPacketDone", &[0x1000]);
    h.ok("lc", "!stopComplete", &[]);
    assert!(h.obs.is_terminated(h.handle("lc")));
}

#[test]
fn subports_spawn_by_key_and_are_freed_when_final() {
    let mut h = started();
    let usb = h.handle("usb");
    let pipe_open = h.obs.protocol_of(usb).unwrap().message("pipeOpen").unwrap();
    assert!(h.send(usb, "!pipeOpen", &[0x81, 7]).is_ok());
    let pipe = h.obs.subport(usb, pipe_open, 7).expect("spawned");
    assert_eq!(h.obs.state_of(pipe).unwrap(), "USBPipeClient.open");
    // The same key again is a violation.
    let Verdict::Violation(v) = h.send(usb, "!pipeOpen", &[0x82, 7]) else {
        panic!()
    };
    assert_eq!(v.kind, ViolationKind::DuplicateSubport { key: 7 });
    assert!(h.send(pipe, "!transfer", &[0xa0]).is_ok());
    assert!(h.send(pipe, "?transferComplete", &[0xa0, 0]).is_ok());
    // A second completion has no pending transfer: the guard fails; the bus is to blame.
    let Verdict::Violation(v) = h.send(pipe, "?transferComplete", &[0xa0, 0]) else {
        panic!()
    };
    assert_eq!(v.blame, Blame::Environment);
    assert_eq!(v.port, "usb/pipeOpen:7");
    assert!(h.send(pipe, "!abort", &[]).is_ok());
    assert!(h.send(pipe, "?abortComplete", &[]).is_ok());
    // Final: freed; the handle is stale, the key unknown, and can be reused.
    assert!(h.obs.is_terminated(pipe));
    assert!(h.obs.subport(usb, pipe_open, 7).is_none());
    let transfer = h
        .obs
        .model()
        .protocol("USBPipeClient")
        .map(|p| h.obs.model().proto(p).message("transfer").unwrap())
        .unwrap();
    let Verdict::Violation(v) = h.obs.message(pipe, Direction::Out, transfer, &[1]) else {
        panic!()
    };
    assert!(matches!(v.kind, ViolationKind::UnknownSubport { .. }));
    assert!(h.send(usb, "!pipeOpen", &[0x81, 7]).is_ok());
}

#[test]
fn subports_synchronise_with_their_parent() {
    let mut h = started();
    let usb = h.handle("usb");
    assert!(h.send(usb, "!pipeOpen", &[0x81, 1]).is_ok());
    let pipe = h
        .obs
        .subport(
            usb,
            h.obs.protocol_of(usb).unwrap().message("pipeOpen").unwrap(),
            1,
        )
        .unwrap();
    assert!(h.send(pipe, "!transfer", &[5]).is_ok());
    // The pipe names parent.suspend [pending == 0]: suspending with a transfer in flight is blocked.
    let Verdict::Violation(v) = h.send(usb, "!suspend", &[]) else {
        panic!("blocked by the pipe")
    };
    assert_eq!(
        v.kind,
        ViolationKind::Illegal {
            blocked_by: Some("usb/pipeOpen:1".into())
        }
    );
    assert!(h.send(pipe, "?transferComplete", &[5, 0]).is_ok());
    assert!(h.send(usb, "!suspend", &[]).is_ok());
    assert_eq!(h.obs.state_of(pipe).unwrap(), "USBPipeClient.suspended");
}

#[test]
fn messages_after_termination_are_violations() {
    let mut h = Harness::new("asix");
    h.ok("lc", "?start", &[]);
    h.ok("lc", "!startFailed", &[-5]);
    assert!(h.obs.is_terminated(h.handle("lc")));
    let v = h.bad("lc", "?stop", &[]);
    assert_eq!(v.kind, ViolationKind::AfterTermination);
    assert_eq!(v.blame, Blame::Environment);
}

#[test]
fn stop_policy_stops_and_the_hook_sees_every_violation() {
    let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut h = Harness::with(
        "asix",
        Config {
            history: 8,
            policy: Policy::Stop,
        },
    );
    let s = seen.clone();
    h.obs.on_violation(move |_| {
        s.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    });
    let _ = h.bad("lc", "!stopComplete", &[]);
    let lc = h.handle("lc");
    assert_eq!(h.send(lc, "?start", &[]), Verdict::Stopped);
    assert!(h.obs.is_stopped());
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[test]
fn the_report_reads_like_the_brief() {
    let mut h = started();
    h.at_ms(3);
    let v = h.bad("pm", "!sleepComplete", &[]);
    let text = v.to_string();
    for needle in [
        "protocol violation: illegal message in component `asix` at 3ms",
        "port:     pm (PowerManagement)",
        "state:    PowerManagement.powered.full_power",
        "message:  !sleepComplete, sent by the driver",
        "blame:    the driver",
        "legal in this state:",
        "other ports:",
        "lc ",
        "last 3 events (a replayable trace):",
        "0ms  lc  ?start",
        "1ms  lc  !startComplete",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in:\n{text}");
    }
}

#[test]
#[ignore = "prints a sample report"]
fn print_sample_report() {
    let mut h = started();
    h.ok("eth", "?enable", &[]);
    h.at_ms(2);
    h.ok("eth", "!enableComplete", &[]);
    h.ok("eth", "?txPacket", &[0x1000]);
    h.at_ms(5);
    h.ok("lc", "?stop", &[]);
    let v = h.bad("lc", "!stopComplete", &[]);
    println!("{v}");
}

#[test]
fn reset_starts_over_without_stale_state() {
    let model = library();
    let clock = VirtualClock::new();
    let mut obs = Observer::new(
        model.clone(),
        "asix",
        &InterpretedBackend,
        clock.clone(),
        Config::default(),
    )
    .unwrap();
    for round in 0..40 {
        let walk = tingu_observer::generate::random_walk(&model, "asix", round, 200).unwrap();
        clock.set(0);
        obs.reset();
        assert_eq!(
            obs.state_of(obs.port("lc").unwrap()).unwrap(),
            "Lifecycle.attached.idle"
        );
        for e in &walk.events {
            clock.set(e.time_us);
            let v = match &e.kind {
                tingu_observer::trace::EventKind::Tick => obs.advance(),
                tingu_observer::trace::EventKind::Message(m) => {
                    tingu_observer::replay::step(&mut obs, m).unwrap()
                }
            };
            assert!(v.is_ok(), "round {round}, line {}: {}", e.line, show(&v));
        }
    }
}

/// A subport that ends while its own subports live on stays addressable
/// until the last of them ends, then is freed with it (found by the port
/// generator's tests: the children used to become unreachable).
#[test]
fn a_finished_subport_keeps_its_living_children_addressable() {
    let (lib, _) = tingu::Library::from_source(
        "nest.tingu",
        "protocol Leaf { messages: in ping(); in bye();
           states: initial state s { ?ping; ?bye -> e; } final state e; }
         protocol Mid { messages: out spawn(Leaf l); in done();
           states: initial state s { !spawn; ?done -> e; } final state e; }
         protocol Top { messages: out open(Mid m); in quit();
           states: initial state s { !open; ?quit -> e; } final state e; }
         component c { ports: Top top; }",
    );
    let checked = tingu::check(&lib);
    let model = Arc::new(checked.model.expect("the spec checks"));
    let trace = tingu_observer::trace::parse(
        "component c
         0ms  top  !open(1)
         1ms  top/open:1  !spawn(7)
         2ms  top/open:1  ?done
         3ms  top/open:1/spawn:7  ?ping
         4ms  top/open:1/spawn:7  ?bye
         5ms  top/open:1/spawn:7  ?ping
         6ms  top  ?quit
        ",
    )
    .expect("the trace parses");
    let r = tingu_observer::replay(model, "c", &trace, &InterpretedBackend, Config::default())
        .expect("the trace fits the specs");
    let lines: Vec<(usize, &str)> = r
        .violations
        .iter()
        .map(|(line, v)| (*line, v.port.as_str()))
        .collect();
    // Only the `ping` after the leaf ended is illegal: by then the leaf and
    // its finished parent are both gone.
    assert_eq!(r.violations.len(), 1, "{:#?}", r.violations);
    assert!(
        matches!(
            r.violations[0].1.kind,
            tingu_observer::ViolationKind::UnknownSubport { .. }
        ),
        "{lines:?}"
    );
    assert_eq!(r.violations[0].0, 7, "{lines:?}");
    assert!(r.observer.component_terminated());
}
