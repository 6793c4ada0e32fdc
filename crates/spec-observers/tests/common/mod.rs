//! A pair of observers, one interpreted and one compiled, driven in lock
//! step and compared after every step; and a small deterministic RNG.

#![allow(dead_code)] // each test file uses part of it

use std::sync::Arc;
use tingu::ir::{MessageId, Model};
use tingu::syntax::ast::Direction;
use tingu_observer::{
    Backend, Config, Handle, InterpretedBackend, Observer, Verdict, ViolationKind, VirtualClock,
};

/// SplitMix64: small, fast, and every seed is a good one.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.u64() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.u64() % (hi - lo + 1)
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.u64() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// The same component observed with the interpreter and with the generated
/// code, on two clocks that move together.
pub struct Pair {
    pub interp: Observer<VirtualClock>,
    pub comp: Observer<VirtualClock>,
    clock_i: VirtualClock,
    clock_c: VirtualClock,
}

impl Pair {
    /// Observers of `component` of `model`; `compiled` is the generated
    /// backend for that model.
    pub fn new(
        model: &Arc<Model>,
        compiled: &dyn Backend,
        component: &str,
        config: Config,
    ) -> Pair {
        let clock_i = VirtualClock::new();
        let clock_c = VirtualClock::new();
        let interp = Observer::new(
            model.clone(),
            component,
            &InterpretedBackend,
            clock_i.clone(),
            config,
        )
        .expect("the component exists");
        let comp = Observer::new(model.clone(), component, compiled, clock_c.clone(), config)
            .expect("the component exists");
        Pair {
            interp,
            comp,
            clock_i,
            clock_c,
        }
    }

    pub fn now(&self) -> u64 {
        use tingu_observer::Clock;
        self.clock_i.now_us()
    }

    /// Moves both clocks forward.
    pub fn wait(&self, us: u64) {
        self.clock_i.advance(us);
        self.clock_c.advance(us);
    }

    /// Runs due timers in both; the two verdicts must be equal.
    pub fn advance(&mut self) -> Result<Verdict, String> {
        let a = self.interp.advance();
        let b = self.comp.advance();
        same_verdict(&a, &b)?;
        self.compare()?;
        Ok(a)
    }

    /// Sends one message to both; the two verdicts must be equal.
    pub fn message(
        &mut self,
        h: Handle,
        direction: Direction,
        message: MessageId,
        args: &[i64],
    ) -> Result<Verdict, String> {
        let a = self.interp.message(h, direction, message, args);
        let b = self.comp.message(h, direction, message, args);
        same_verdict(&a, &b)?;
        self.compare()?;
        Ok(a)
    }

    /// A declared port's handle (the same in both).
    pub fn port(&self, name: &str) -> Handle {
        let h = self.interp.port(name).expect("a declared port");
        assert_eq!(self.comp.port(name), Some(h));
        h
    }

    /// Sends `?name` / `!name` on a declared port of both.
    pub fn send(&mut self, port: &str, event: &str, args: &[i64]) -> Verdict {
        let h = self.port(port);
        self.send_to(h, event, args)
    }

    /// Sends `?name` / `!name` on a handle of both.
    pub fn send_to(&mut self, h: Handle, event: &str, args: &[i64]) -> Verdict {
        let (direction, name) = match event.split_at(1) {
            ("?", n) => (Direction::In, n),
            ("!", n) => (Direction::Out, n),
            _ => panic!("bad event {event}"),
        };
        let m = self
            .interp
            .protocol_of(h)
            .expect("a live handle")
            .message(name)
            .unwrap_or_else(|| panic!("no message {name}"));
        self.message(h, direction, m, args)
            .unwrap_or_else(|e| panic!("{event}{args:?}: the backends disagree: {e}"))
    }

    /// Everything observable about the two observers agrees.
    pub fn compare(&self) -> Result<(), String> {
        let (a, b) = (&self.interp, &self.comp);
        let ha = a.handles();
        let hb = b.handles();
        if ha != hb {
            return Err(format!("live handles differ: {ha:?} / {hb:?}"));
        }
        for &h in &ha {
            let what = |x: &Observer<VirtualClock>| {
                (
                    x.state_of(h),
                    x.leaf_of(h),
                    x.variables_of(h).map(<[i64]>::to_vec),
                    x.is_terminated(h),
                    x.protocol_of(h).map(|p| p.name.clone()),
                )
            };
            let (wa, wb) = (what(a), what(b));
            if wa != wb {
                return Err(format!(
                    "instance {h:?} differs:\n  interpreted {wa:?}\n  compiled    {wb:?}"
                ));
            }
        }
        let totals = |x: &Observer<VirtualClock>| {
            (
                x.violations().len(),
                x.checked(),
                x.is_stopped(),
                x.component_terminated(),
                x.next_timeout(),
            )
        };
        if totals(a) != totals(b) {
            return Err(format!(
                "(violations, checked, stopped, terminated, next timeout) differ: {:?} / {:?}",
                totals(a),
                totals(b)
            ));
        }
        Ok(())
    }

    /// The variables of a declared port, in the interpreted observer (the
    /// compiled one has the same, or `compare` fails).
    pub fn vars(&self, port: &str) -> Vec<i64> {
        self.interp
            .variables_of(self.port(port))
            .expect("live")
            .to_vec()
    }

    pub fn state(&self, port: &str) -> String {
        self.interp.state_of(self.port(port)).expect("live")
    }
}

/// The verdicts are equal, down to every field of a violation report.
pub fn same_verdict(a: &Verdict, b: &Verdict) -> Result<(), String> {
    if a == b {
        return Ok(());
    }
    Err(format!(
        "verdicts differ:\n  interpreted {}\n  compiled    {}",
        show(a),
        show(b)
    ))
}

/// A verdict in one line: kind, blame, port, state, detail.
pub fn show(v: &Verdict) -> String {
    match v {
        Verdict::Violation(v) => format!(
            "{:?} blamed on {:?} at {} in {}: {} {}",
            v.kind,
            v.blame,
            v.port,
            v.state,
            v.message.as_deref().unwrap_or(""),
            v.detail
        ),
        other => format!("{other:?}"),
    }
}

/// The kind and detail of a violation verdict; panics on another verdict.
pub fn violation(v: &Verdict) -> (ViolationKind, String) {
    match v {
        Verdict::Violation(v) => (v.kind.clone(), v.detail.clone()),
        other => panic!("expected a violation, got {other:?}"),
    }
}
