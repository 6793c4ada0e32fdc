//! Compiled observers: Rust code generated from Tingu specs.
//!
//! An observer (crate `tingu-observer`) is one
//! engine plus, per protocol, a `ProtocolCode`: which transition a message
//! takes, and what its actions do. The engine ships an interpreter of the
//! intermediate form; this crate generates the same logic as flat Rust, so
//! that a driver can link observers for its specs with no interpretation
//! left at run time. Verdicts are identical: `spec-observers` checks it
//! with differential tests.
//!
//! # What is generated
//!
//! One Rust file, meant for `include!`, that defines:
//!
//! - for every protocol `P`, a unit struct `PCode` implementing
//!   `tingu_observer::ProtocolCode`:
//!   - `init` writes the initial values as constants;
//!   - `select` is a `match (leaf.0, label.0)` whose arms test the guards of
//!     the candidate transitions in priority order (innermost state first,
//!     then source order) and `return Ok(Some(TransitionId(n)))`;
//!   - `timed_guard` is a `match t.0` over the guarded `after` transitions;
//!   - `apply` is a `match t.0` running each transition's actions;
//!
//!   guards and actions are straight-line Rust over `vars[i]`, the message
//!   arguments (`args.get(i).copied().unwrap_or(0)`: a missing argument reads
//!   as 0, as in the interpreter) and `deps(dependency, state)` for
//!   `dep in state`, with the interpreter's exact semantics: 64-bit checked
//!   arithmetic (overflow and division by zero are errors), short-circuit
//!   `&&` and `||`, and every stored value checked against its variable's
//!   type with a constant range. Nothing allocates;
//! - `CompiledBackend`, a `tingu_observer::Backend` that finds each
//!   protocol's code by name, and panics (naming the protocol) if the
//!   model's protocol has another number of states, labels, transitions or
//!   variables than the one the code was generated from;
//! - `SOURCES`, the spec files as string literals, and `model()`, which
//!   checks them once and returns the model, whose ids match the generated
//!   code.
//!
//! An excerpt, for `USBPipeClient`'s `?transferComplete` in state `open`:
//!
//! ```text
//! // message ?transferComplete in state open
//! (0, 1) => {
//!     // #1 in open: `?transferComplete(urb, status) [pending > 0] / pending -= 1`
//!     if vars[0] > 0 {
//!         return Ok(Some(TransitionId(1)));
//!     }
//!     Ok(None)
//! }
//! ```
//!
//! and its action, in `apply`:
//!
//! ```text
//! 1 => {
//!     // pending -= 1
//!     let v = vars[0].checked_sub(1).ok_or(ActionError::Eval(EvalError::Overflow))?;
//!     if !(0..=4_294_967_295).contains(&v) {
//!         return Err(ActionError::OutOfRange { variable: 0, value: v });
//!     }
//!     vars[0] = v;
//!     Ok(())
//! }
//! ```
//!
//! # Use from a build script
//!
//! The crate that holds the observers depends on `tingu` and
//! `tingu-observer`, and has `tingu-build` as a build dependency. Its
//! `build.rs`:
//!
//! ```no_run
//! use std::path::PathBuf;
//!
//! let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("run by cargo"));
//! if let Err(diagnostics) = tingu_build::compile(&["specs"], &out_dir.join("observers.rs")) {
//!     panic!("the specs do not check:\n{diagnostics}");
//! }
//! ```
//!
//! and its `src/lib.rs`:
//!
//! ```text
//! include!(concat!(env!("OUT_DIR"), "/observers.rs"));
//! ```
//!
//! Then an observer for component `asix` runs the generated code:
//!
//! ```text
//! let obs = Observer::new(my_observers::model(), "asix", &my_observers::CompiledBackend,
//!                         MonotonicClock::new(), Config::default())?;
//! ```
//!
//! The generated file refers to the crates `tingu` and `tingu_observer` by
//! absolute paths (`::tingu::ir::..`) and imports nothing into the module
//! that includes it.
//!
//! # Port interfaces
//!
//! [`compile_with_ports`] (and [`generate_with_ports`]) write the same
//! file followed by typed interfaces for the Dingo runtime, for a crate
//! that also depends on `dingo`. They refer to it as
//! `::dingo::wire::{Wire, Sender, SendError, Component}`:
//!
//! - module `types`: per enum type a Rust enum (`power_level_t` is
//!   `PowerLevelT`, variants `D0`..), with `value`, `from_value` and `ALL`;
//! - per protocol a module (`USBInterfaceClient` is
//!   `usb_interface_client`) with `enum In` and `enum Out`: one variant per
//!   message of that direction (`startComplete` is `StartComplete`), with
//!   typed fields (integers as themselves, `bool`, enums from `types`,
//!   opaque handles and subport keys as `i64`), and `message()` (the
//!   index in the model's `messages`), `args()`, `from_parts()` (which
//!   refuses another index, arity, out-of-range values and unknown enum
//!   values) and `is_concurrent()`;
//! - per component a module (`asix`) with `enum Event`, every message the
//!   component receives: a variant per declared port holding the
//!   protocol's `In` (`Out` on a `mirror` port), and a variant per kind of
//!   subport (`UsbPipeOpen { keys, event }`; a subport of a mirrored port
//!   is mirrored too); `struct Ports`, one send handle per port with a
//!   method per message the component sends (`ports.lc.start_complete()`)
//!   and one per spawning message that gives the subport's handle for a
//!   key (`ports.usb.pipe_open_sub(7).transfer(urb)`); and a unit struct
//!   (`Asix`) implementing `dingo::wire::Component`.
//!
//! Names are converted to Rust's cases, then made unique in their scope:
//! the later of two names that convert alike gets a number (`foo_bar_2`,
//! `FooBar2`), a Rust keyword gets a `_` (`type_`), and a name that would
//! shadow the prelude or `Self` gets a number (`Option2`). A handle's own
//! `send` and `keys` win over messages of those names. The ports fail for
//! specs whose messages do not fit a wire: more than 8 parameters
//! (`dingo::wire::MAX_ARGS`), or subports more than 3 levels deep
//! (`MAX_DEPTH`); the generated code asserts that `dingo::wire` agrees.

mod expr;
mod generate;
mod out;
mod ports;

use std::path::{Component, Path, PathBuf};
use tingu::ir;

/// Rust source defining compiled observers for `model` (see the crate
/// documentation for what it contains).
///
/// `sources` are the spec files as `(name, text)`: they are embedded, and
/// `model()` in the generated code rebuilds the model from them with
/// `tingu::Library::from_sources`. `model` must be the model checked from
/// exactly these sources, in this order (as [`compile`] does), so that the
/// generated ids agree with those of the rebuilt model.
pub fn generate(model: &ir::Model, sources: &[(String, String)]) -> String {
    generate::generate(model, sources)
}

/// Loads and checks the specs in `spec_paths` (folders or files, as
/// `tingu::Library::load` takes them, with their imports), and writes the
/// generated code to `out_file`. For build scripts.
///
/// - It prints `cargo:rerun-if-changed=` for every spec file and every given
///   path (a folder, so that a new file is noticed), and `cargo:warning=`
///   for each warning of the checker.
/// - On errors it returns the rendered diagnostics (no colour), for the
///   build script to fail with.
/// - Sources are embedded under names relative to the folder that holds
///   them all (for a single spec folder: relative to that folder), so
///   relative imports resolve among the embedded sources as they did on
///   disk. The code is generated from the model checked from the embedded
///   sources, which are then what `model()` checks.
/// - The file is written only when its content changes.
pub fn compile(spec_paths: &[impl AsRef<Path>], out_file: &Path) -> Result<(), String> {
    compile_to(spec_paths, out_file, false)
}

/// Rust source defining compiled observers for `model`, as [`generate`]
/// writes them, followed by typed port interfaces (see the crate
/// documentation).
///
/// The interfaces refer to the `dingo` crate, which the crate that includes
/// the code must depend on. It fails (naming each) when a message has more
/// parameters than a `dingo::wire::Wire` carries (8), or a subport kind is
/// deeper than a wire's path (3 levels).
pub fn generate_with_ports(
    model: &ir::Model,
    sources: &[(String, String)],
) -> Result<String, String> {
    let ports = ports::generate(model, sources)?;
    Ok(generate(model, sources) + &ports)
}

/// [`compile`], but writes [`generate_with_ports`]: the compiled observers
/// and the typed port interfaces, in one file for `include!`. For build
/// scripts of crates that depend on `dingo`; errors as [`compile`]'s, plus
/// those of [`generate_with_ports`].
pub fn compile_with_ports(spec_paths: &[impl AsRef<Path>], out_file: &Path) -> Result<(), String> {
    compile_to(spec_paths, out_file, true)
}

fn compile_to(
    spec_paths: &[impl AsRef<Path>],
    out_file: &Path,
    with_ports: bool,
) -> Result<(), String> {
    let paths: Vec<PathBuf> = spec_paths
        .iter()
        .map(|p| p.as_ref().to_path_buf())
        .collect();
    for p in &paths {
        println!("cargo:rerun-if-changed={}", p.display());
    }
    // Absolute paths: `Library::load` normalises a path lexically and turns
    // `../../specs/a.tingu` into `specs/a.tingu` (two leading `..` cancel
    // out), then reads that as an empty file without a diagnostic.
    let absolute: Vec<PathBuf> = paths
        .iter()
        .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()))
        .collect();
    let (lib, mut diagnostics) = tingu::Library::load(&absolute).map_err(|e| e.to_string())?;
    for (_, file) in lib.sources.iter() {
        println!("cargo:rerun-if-changed={}", file.path.display());
    }
    for (_, file) in lib.sources.iter() {
        let on_disk = std::fs::metadata(&file.path).map_or(0, |m| m.len());
        if file.text.is_empty() && on_disk > 0 {
            return Err(format!(
                "`{}` was loaded as an empty file, but it is not empty",
                file.path.display()
            ));
        }
    }
    let checked = tingu::check(&lib);
    diagnostics.extend(checked.diagnostics);
    if checked.model.is_none() || diagnostics.has_errors() {
        let rendered = diagnostics.render(&lib.sources, false);
        return Err(if rendered.trim().is_empty() {
            "the specs do not check (no diagnostic was given)".to_string()
        } else {
            rendered
        });
    }
    for d in diagnostics.sorted() {
        println!("cargo:warning={}", d.short(&lib.sources).replace('\n', " "));
    }
    let files: Vec<(PathBuf, String)> = lib
        .sources
        .iter()
        .map(|(_, f)| (f.path.clone(), f.text.clone()))
        .collect();
    let sources = embed_names(&files)?;
    let refs: Vec<(&str, &str)> = sources
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let (embedded, mut again) = tingu::Library::from_sources(&refs);
    let rechecked = tingu::check(&embedded);
    again.extend(rechecked.diagnostics);
    let Some(model) = rechecked.model else {
        return Err(format!(
            "the specs check from disk, but not once embedded under the names {:?}:\n{}",
            refs.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            again.render(&embedded.sources, false)
        ));
    };
    let code = if with_ports {
        generate_with_ports(&model, &sources)?
    } else {
        generate(&model, &sources)
    };
    if std::fs::read_to_string(out_file).ok().as_deref() != Some(code.as_str()) {
        std::fs::write(out_file, code)
            .map_err(|e| format!("cannot write `{}`: {e}", out_file.display()))?;
    }
    Ok(())
}

/// Names for the loaded files: their paths relative to the deepest folder
/// that holds them all, with `/` separators.
fn embed_names(files: &[(PathBuf, String)]) -> Result<Vec<(String, String)>, String> {
    let absolute: Vec<PathBuf> = files
        .iter()
        .map(|(p, _)| {
            std::fs::canonicalize(p).map_err(|e| format!("cannot resolve `{}`: {e}", p.display()))
        })
        .collect::<Result<_, _>>()?;
    let mut base: Option<PathBuf> = None;
    for p in &absolute {
        let dir = p.parent().map(Path::to_path_buf).unwrap_or_default();
        base = Some(match base {
            None => dir,
            Some(b) => common_ancestor(&b, &dir),
        });
    }
    let base = base.unwrap_or_default();
    absolute
        .iter()
        .zip(files)
        .map(|(p, (_, text))| {
            let rel = p.strip_prefix(&base).unwrap_or(p);
            let parts: Vec<String> = rel
                .components()
                .filter_map(|c| match c {
                    Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                    _ => None,
                })
                .collect();
            Ok((parts.join("/"), text.clone()))
        })
        .collect()
}

fn common_ancestor(a: &Path, b: &Path) -> PathBuf {
    a.components()
        .zip(b.components())
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_ancestors() {
        assert_eq!(
            common_ancestor(Path::new("/a/b/c"), Path::new("/a/b/d/e")),
            PathBuf::from("/a/b")
        );
        assert_eq!(
            common_ancestor(Path::new("/a/b"), Path::new("/a/b")),
            PathBuf::from("/a/b")
        );
    }
}
