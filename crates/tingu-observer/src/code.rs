//! The code of a protocol: which transition a message takes and what its
//! actions do. The engine is the same for every backend; only this part is
//! either interpreted from the intermediate form ([`Interpreted`]) or
//! generated as Rust by `tingu-build` (compiled observers). Both must give
//! identical verdicts, which the differential tests check.

use std::sync::Arc;
use tingu::ir::{self, EvalError, LabelId, Model, ProtocolId, StateId, TransitionId, Type};
use tingu::syntax::ast::AssignOp;

/// Tells whether dependency `dep` of the instance is in `state`.
pub type DepStates<'a> = &'a dyn Fn(u32, StateId) -> bool;

/// Why an action could not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionError {
    /// Evaluating the value failed.
    Eval(EvalError),
    /// The value does not fit the variable's type.
    OutOfRange {
        /// The variable's index.
        variable: u32,
        /// The value that did not fit.
        value: i64,
    },
}

/// The per-protocol logic an observer runs for each step.
pub trait ProtocolCode: Send + Sync {
    /// Writes the initial values of the variables.
    fn init(&self, vars: &mut [i64]);

    /// The first enabled transition for `label` in `leaf` (innermost state
    /// first, then source order), with guards evaluated over `vars` and
    /// `args` before the step.
    fn select(
        &self,
        leaf: StateId,
        label: LabelId,
        vars: &[i64],
        args: &[i64],
        deps: DepStates<'_>,
    ) -> Result<Option<TransitionId>, EvalError>;

    /// Whether the guard of a timed (`after`) transition holds.
    fn timed_guard(
        &self,
        t: TransitionId,
        vars: &[i64],
        deps: DepStates<'_>,
    ) -> Result<bool, EvalError>;

    /// Runs the actions of `t`, left to right, on `vars`.
    fn apply(
        &self,
        t: TransitionId,
        vars: &mut [i64],
        args: &[i64],
        deps: DepStates<'_>,
    ) -> Result<(), ActionError>;
}

/// Builds the code for each protocol of a model.
pub trait Backend {
    /// The code of one protocol.
    fn code(&self, model: &Arc<Model>, protocol: ProtocolId) -> Arc<dyn ProtocolCode>;
}

/// The interpreter over the intermediate form.
#[derive(Clone, Copy, Debug, Default)]
pub struct InterpretedBackend;

impl Backend for InterpretedBackend {
    fn code(&self, model: &Arc<Model>, protocol: ProtocolId) -> Arc<dyn ProtocolCode> {
        Arc::new(Interpreted {
            model: model.clone(),
            protocol,
        })
    }
}

/// Interprets one protocol's transitions from the intermediate form.
pub struct Interpreted {
    model: Arc<Model>,
    protocol: ProtocolId,
}

impl Interpreted {
    fn proto(&self) -> &ir::Protocol {
        self.model.proto(self.protocol)
    }
}

/// Checks that `value` fits a variable of type `ty`.
pub fn fits(ty: Type, value: i64) -> bool {
    match ty {
        Type::Int(int) => {
            let (lo, hi) = int.range();
            (lo..=hi).contains(&value)
        }
        Type::Bool => value == 0 || value == 1,
        _ => true,
    }
}

impl ProtocolCode for Interpreted {
    fn init(&self, vars: &mut [i64]) {
        for (slot, v) in vars.iter_mut().zip(&self.proto().variables) {
            *slot = v.init;
        }
    }

    fn select(
        &self,
        leaf: StateId,
        label: LabelId,
        vars: &[i64],
        args: &[i64],
        deps: DepStates<'_>,
    ) -> Result<Option<TransitionId>, EvalError> {
        let p = self.proto();
        for &t in p.candidates(leaf, label) {
            match &p.transitions[t.0 as usize].guard {
                None => return Ok(Some(t)),
                Some(g) => {
                    let v = g.eval(
                        &|i| vars[i as usize],
                        &|i| args.get(i as usize).copied().unwrap_or(0),
                        deps,
                    )?;
                    if v != 0 {
                        return Ok(Some(t));
                    }
                }
            }
        }
        Ok(None)
    }

    fn timed_guard(
        &self,
        t: TransitionId,
        vars: &[i64],
        deps: DepStates<'_>,
    ) -> Result<bool, EvalError> {
        match &self.proto().transitions[t.0 as usize].guard {
            None => Ok(true),
            Some(g) => Ok(g.eval(&|i| vars[i as usize], &|_| 0, deps)? != 0),
        }
    }

    fn apply(
        &self,
        t: TransitionId,
        vars: &mut [i64],
        args: &[i64],
        deps: DepStates<'_>,
    ) -> Result<(), ActionError> {
        let p = self.proto();
        for a in &p.transitions[t.0 as usize].actions {
            let value = a
                .value
                .eval(
                    &|i| vars[i as usize],
                    &|i| args.get(i as usize).copied().unwrap_or(0),
                    deps,
                )
                .map_err(ActionError::Eval)?;
            let slot = a.variable as usize;
            let new = match a.op {
                AssignOp::Set => Some(value),
                AssignOp::Add => vars[slot].checked_add(value),
                AssignOp::Sub => vars[slot].checked_sub(value),
            };
            let Some(new) = new else {
                return Err(ActionError::Eval(EvalError::Overflow));
            };
            if !fits(p.variables[slot].ty, new) {
                return Err(ActionError::OutOfRange {
                    variable: a.variable,
                    value: new,
                });
            }
            vars[slot] = new;
        }
        Ok(())
    }
}
