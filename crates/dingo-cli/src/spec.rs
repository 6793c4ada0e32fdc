//! `dingo spec ...`: check, graph and show Tingu specs.

use clap::{Args, Subcommand, ValueEnum};
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use tingu::ir::{Binding, Label, Model, Protocol, Trigger};
use tingu::{Library, graph};

/// What `dingo spec` can do.
#[derive(Subcommand)]
pub enum SpecCommand {
    /// Check specs: exit 1 if there are errors, 0 if only warnings.
    Check {
        /// Files or folders (every `*.tingu` below a folder).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Print only the summary line and the `path:line:col` of each diagnostic.
        #[arg(long)]
        short: bool,
        #[command(flatten)]
        color: ColorArg,
    },
    /// Draw statecharts (protocols) and port diagrams (components).
    Graph {
        /// Files or folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        select: Select,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Dot)]
        format: Format,
        /// Output file (one diagram) or folder (several: one file each).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Replay a trace through the component's observer: print the verdict
    /// and any violation report; exit 1 on a violation, 2 on a malformed trace.
    Replay {
        /// Spec files or folders, then the trace file (`-` for standard input).
        #[arg(required = true, num_args = 2.., value_name = "SPEC... TRACE")]
        args: Vec<PathBuf>,
        /// The component to observe (default: the trace's `component` line).
        #[arg(long, short = 'c')]
        component: Option<String>,
        /// How many events each report shows.
        #[arg(long, default_value_t = 32)]
        history: usize,
        /// Stop at the first violation.
        #[arg(long)]
        stop: bool,
    },
    /// Print a protocol's or component's states, messages, alphabet and spawn points.
    Show {
        /// Files or folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        select: Select,
    },
}

/// Which declarations to use; all of the given files' when none is named.
#[derive(Args)]
pub struct Select {
    /// A protocol to include (repeatable).
    #[arg(long = "protocol", short = 'p')]
    protocols: Vec<String>,
    /// A component to include (repeatable).
    #[arg(long = "component", short = 'c')]
    components: Vec<String>,
}

/// `--color`.
#[derive(Args)]
pub struct ColorArg {
    /// Colour the diagnostics.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
}

#[derive(Clone, Copy, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

/// Diagram formats.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Graphviz source.
    Dot,
    /// SVG, rendered by Graphviz `dot`.
    Svg,
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

pub fn run(cmd: SpecCommand) -> Result<ExitCode> {
    match cmd {
        SpecCommand::Check {
            paths,
            short,
            color,
        } => check(&paths, short, color.color),
        SpecCommand::Graph {
            paths,
            select,
            format,
            output,
        } => graph_cmd(&paths, &select, format, output),
        SpecCommand::Show { paths, select } => show(&paths, &select),
        SpecCommand::Replay {
            args,
            component,
            history,
            stop,
        } => replay(&args, component.as_deref(), history, stop),
    }
}

/// Loads and checks; prints diagnostics to stderr. `None` when there were errors.
fn load(
    paths: &[PathBuf],
    color: bool,
    short: bool,
) -> Result<(Library, Option<Model>, usize, usize)> {
    let (lib, mut diags) = Library::load(paths)?;
    let checked = tingu::check(&lib);
    diags.extend(checked.diagnostics);
    if short {
        for d in diags.sorted() {
            eprintln!("{}", d.short(&lib.sources));
        }
    } else {
        eprint!("{}", diags.render(&lib.sources, color));
    }
    let model = if diags.has_errors() {
        None
    } else {
        checked.model
    };
    Ok((lib, model, diags.error_count(), diags.warning_count()))
}

fn check(paths: &[PathBuf], short: bool, color: Color) -> Result<ExitCode> {
    let color = match color {
        Color::Auto => std::io::stderr().is_terminal(),
        Color::Always => true,
        Color::Never => false,
    };
    let (lib, model, errors, warnings) = load(paths, color, short)?;
    let files = lib.files.len();
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    match model {
        Some(m) => {
            outln!(
                "ok: {} checked ({}, {}), {}",
                plural(files, "file"),
                plural(m.protocols.len(), "protocol"),
                plural(m.components.len(), "component"),
                plural(warnings, "warning")
            );
            Ok(ExitCode::SUCCESS)
        }
        None => {
            outln!(
                "failed: {} and {} in {}",
                plural(errors, "error"),
                plural(warnings, "warning"),
                plural(files, "file")
            );
            Ok(ExitCode::from(1))
        }
    }
}

/// The diagrams selected: `(name, dot source)`.
fn selected(lib: &Library, model: &Model, select: &Select) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    if select.protocols.is_empty() && select.components.is_empty() {
        // Everything declared in the files named on the command line.
        let in_roots = |span: tingu::Span| lib.roots.contains(&span.file);
        for p in model.protocols.iter().filter(|p| in_roots(p.span)) {
            out.push((p.name.clone(), graph::protocol_dot(model, p)));
        }
        for c in model.components.iter().filter(|c| in_roots(c.span)) {
            out.push((c.name.clone(), graph::component_dot(model, c)));
        }
        return Ok(out);
    }
    for name in &select.protocols {
        let id = model
            .protocol(name)
            .ok_or_else(|| not_found("protocol", name, model.protocols.iter().map(|p| &p.name)))?;
        out.push((name.clone(), graph::protocol_dot(model, model.proto(id))));
    }
    for name in &select.components {
        let c = model.component(name).ok_or_else(|| {
            not_found("component", name, model.components.iter().map(|c| &c.name))
        })?;
        out.push((name.clone(), graph::component_dot(model, c)));
    }
    Ok(out)
}

fn not_found<'a>(what: &str, name: &str, known: impl Iterator<Item = &'a String>) -> String {
    let known: Vec<&str> = known.map(String::as_str).collect();
    format!(
        "no {what} named `{name}`; the loaded files declare: {}",
        known.join(", ")
    )
}

fn graph_cmd(
    paths: &[PathBuf],
    select: &Select,
    format: Format,
    output: Option<PathBuf>,
) -> Result<ExitCode> {
    let (lib, model, _, _) = load(paths, std::io::stderr().is_terminal(), false)?;
    let Some(model) = model else {
        eprintln!("error: the specs have errors; no diagrams drawn");
        return Ok(ExitCode::from(1));
    };
    let diagrams = selected(&lib, &model, select)?;
    if diagrams.is_empty() {
        return Err("nothing to draw: the files declare no protocol or component".into());
    }
    let ext = if format == Format::Svg { "svg" } else { "dot" };
    let render = |dot: &str| -> Result<String> {
        Ok(if format == Format::Svg {
            graph::to_svg(dot)?
        } else {
            dot.to_string()
        })
    };
    match output {
        Some(dir) if diagrams.len() > 1 || dir.is_dir() => {
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
            for (name, dot) in &diagrams {
                let path = dir.join(format!("{name}.{ext}"));
                std::fs::write(&path, render(dot)?)
                    .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
                outln!("wrote {}", path.display());
            }
        }
        Some(file) => {
            std::fs::write(&file, render(&diagrams[0].1)?)
                .map_err(|e| format!("cannot write `{}`: {e}", file.display()))?;
            outln!("wrote {}", file.display());
        }
        None if format == Format::Svg && diagrams.len() > 1 => {
            return Err(format!(
                "{} diagrams selected: SVG goes to one file per diagram, so give `-o FOLDER` or pick one with `--protocol`",
                diagrams.len()
            )
            .into());
        }
        None => {
            for (_, dot) in &diagrams {
                out!("{}", render(dot)?);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn show(paths: &[PathBuf], select: &Select) -> Result<ExitCode> {
    let (lib, model, _, _) = load(paths, std::io::stderr().is_terminal(), false)?;
    let Some(model) = model else {
        eprintln!("error: the specs have errors");
        return Ok(ExitCode::from(1));
    };
    let mut text = String::new();
    let all = select.protocols.is_empty() && select.components.is_empty();
    for p in &model.protocols {
        if (all && lib.roots.contains(&p.span.file)) || select.protocols.contains(&p.name) {
            show_protocol(&model, p, &mut text);
        }
    }
    for c in &model.components {
        if (all && lib.roots.contains(&c.span.file)) || select.components.contains(&c.name) {
            show_component(&model, c, &mut text);
        }
    }
    for name in &select.protocols {
        if model.protocol(name).is_none() {
            return Err(
                not_found("protocol", name, model.protocols.iter().map(|p| &p.name)).into(),
            );
        }
    }
    for name in &select.components {
        if model.component(name).is_none() {
            return Err(
                not_found("component", name, model.components.iter().map(|c| &c.name)).into(),
            );
        }
    }
    out!("{text}");
    Ok(ExitCode::SUCCESS)
}

fn show_protocol(model: &Model, p: &Protocol, out: &mut String) {
    let _ = writeln!(out, "protocol {}", p.name);
    for line in &p.docs {
        let _ = writeln!(out, "  | {line}");
    }
    let _ = writeln!(out, "  messages:");
    for m in &p.messages {
        let params: Vec<String> = m
            .params
            .iter()
            .map(|x| format!("{} {}", model.show_type(&x.ty), x.name))
            .collect();
        let conc = if m.concurrent { "concurrent " } else { "" };
        let spawn = m
            .spawns
            .map(|(i, proto)| {
                format!(
                    "   spawns a {} subport keyed by `{}`",
                    model.proto(proto).name,
                    m.params[i].name
                )
            })
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "    {conc}{} {}({}){spawn}",
            m.direction.keyword(),
            m.name,
            params.join(", ")
        );
    }
    if !p.dependencies.is_empty() {
        let _ = writeln!(out, "  dependencies:");
        for d in &p.dependencies {
            let _ = writeln!(out, "    {} {}", model.proto(d.protocol).name, d.name);
        }
    }
    if !p.variables.is_empty() {
        let _ = writeln!(out, "  variables:");
        for v in &p.variables {
            let _ = writeln!(
                out,
                "    {} {} = {}",
                model.show_type(&v.ty),
                v.name,
                model.show_value(&v.ty, v.init)
            );
        }
    }
    let alphabet: Vec<String> = (0..p.labels.len())
        .map(|l| p.label_text(model, tingu::ir::LabelId(l as u32)))
        .collect();
    let _ = writeln!(out, "  alphabet: {}", alphabet.join(" "));
    let deps: Vec<String> = p
        .labels
        .iter()
        .enumerate()
        .filter(|(_, l)| matches!(l, Label::Dep(..)))
        .map(|(i, _)| p.label_text(model, tingu::ir::LabelId(i as u32)))
        .collect();
    if !deps.is_empty() {
        let _ = writeln!(out, "  synchronises on: {}", deps.join(" "));
    }
    if p.states.is_empty() {
        let _ = writeln!(out, "  states: none (every message is legal at any time)\n");
        return;
    }
    let _ = writeln!(
        out,
        "  states ({} in all, {} leaves):",
        p.states.len(),
        p.leaves.len()
    );
    for (i, s) in p.states.iter().enumerate() {
        let id = tingu::ir::StateId(i as u32);
        let mut marks = Vec::new();
        if s.parent.is_none() && p.initial_leaf.is_some_and(|l| p.is_within(l, id)) {
            marks.push("initial".to_string());
        }
        if s.parent
            .is_some_and(|q| p.state(q).initial_child == Some(id))
        {
            marks.push("initial".to_string());
        }
        if s.is_final {
            marks.push("final".to_string());
        }
        if let Some(t) = s.timeout_us {
            marks.push(format!("timeout {}", tingu::ir::format_micros(t)));
        }
        let marks = if marks.is_empty() {
            String::new()
        } else {
            format!("  ({})", marks.join(", "))
        };
        let _ = writeln!(
            out,
            "    {}{}{marks}",
            "  ".repeat(s.depth as usize),
            s.name
        );
        for t in p.transitions.iter().filter(|t| t.source == id) {
            let kind = match t.trigger {
                Trigger::After(_) => "timer",
                Trigger::Label(_) if t.target.is_none() => "internal",
                Trigger::Label(_) => "",
            };
            let kind = if kind.is_empty() {
                String::new()
            } else {
                format!("   [{kind}]")
            };
            let _ = writeln!(
                out,
                "    {}  {}{kind}",
                "  ".repeat(s.depth as usize),
                t.text.split_whitespace().collect::<Vec<_>>().join(" ")
            );
        }
    }
    let _ = writeln!(out);
}

fn show_component(model: &Model, c: &tingu::ir::Component, out: &mut String) {
    let _ = writeln!(out, "component {}", c.name);
    for line in &c.docs {
        let _ = writeln!(out, "  | {line}");
    }
    for (i, k) in c.kinds.iter().enumerate() {
        let proto = model.proto(k.protocol);
        let mirror = if k.mirror { "mirror " } else { "" };
        let role = match k.spawned_by {
            None => "port".to_string(),
            Some((parent, m)) => format!(
                "subport, spawned by `{}` through `{}`",
                c.kind(parent).name,
                model.proto(c.kind(parent).protocol).messages[m.0 as usize].name
            ),
        };
        let _ = writeln!(out, "  {}: {mirror}{} ({role})", k.name, proto.name);
        for (d, b) in k.bindings.iter().enumerate() {
            let target = match b {
                Binding::Port(p) => c.kind(*p).name.clone(),
                Binding::Parent => "its parent".to_string(),
            };
            let _ = writeln!(
                out,
                "    dependency {} -> {target}",
                proto.dependencies[d].name
            );
        }
        for (m, listeners) in k.listeners.iter().enumerate() {
            if listeners.is_empty() {
                continue;
            }
            let who: Vec<String> = listeners
                .iter()
                .map(|(kind, l)| {
                    let kp = model.proto(c.kind(*kind).protocol);
                    format!("{} ({})", c.kind(*kind).name, kp.label_text(model, *l))
                })
                .collect();
            let _ = writeln!(
                out,
                "    `{}` also needs: {}",
                proto.messages[m].name,
                who.join(", ")
            );
        }
        let _ = i;
    }
    let _ = writeln!(out);
}

fn replay(
    args: &[PathBuf],
    component: Option<&str>,
    history: usize,
    stop: bool,
) -> Result<ExitCode> {
    use tingu_observer::{Config, InterpretedBackend, Policy, trace};
    let (trace_path, specs) = args.split_last().ok_or("give spec paths and a trace")?;
    let (_, model, _, _) = load(specs, std::io::stderr().is_terminal(), false)?;
    let Some(model) = model else {
        eprintln!("error: the specs have errors; nothing replayed");
        return Ok(ExitCode::from(2));
    };
    let text = if trace_path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        s
    } else {
        std::fs::read_to_string(trace_path)
            .map_err(|e| format!("cannot read `{}`: {e}", trace_path.display()))?
    };
    let trace = match trace::parse(&text) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: malformed trace `{}`: {e}", trace_path.display());
            return Ok(ExitCode::from(2));
        }
    };
    let model = std::sync::Arc::new(model);
    let outcome = tingu_observer::pick_component(&model, component, &trace).and_then(|name| {
        let policy = if stop { Policy::Stop } else { Policy::Continue };
        tingu_observer::replay(
            model.clone(),
            &name,
            &trace,
            &InterpretedBackend,
            Config { history, policy },
        )
    });
    let replayed = match outcome {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "error: trace `{}` does not fit the specs: {e}",
                trace_path.display()
            );
            return Ok(ExitCode::from(2));
        }
    };
    for (line, v) in &replayed.violations {
        outln!("{}:{line}: {v}", trace_path.display());
    }
    let obs = &replayed.observer;
    let status = if obs.component_terminated() {
        "terminated"
    } else {
        "still running"
    };
    let events = replayed.verdicts.len();
    if replayed.violations.is_empty() {
        outln!(
            "ok: {events} events, no violation; component `{}` {status}",
            obs.component().name
        );
        Ok(ExitCode::SUCCESS)
    } else {
        outln!(
            "violation: {} of {events} events broke the protocols of component `{}`",
            replayed.violations.len(),
            obs.component().name
        );
        Ok(ExitCode::from(1))
    }
}
