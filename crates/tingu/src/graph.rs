//! Graphviz diagrams of protocols and components, drawn like the Dingo
//! paper's statecharts: super-states as rounded clusters, a dot and arrow
//! for each initial state, a bullseye for final states, timeouts in state
//! labels, and `trigger [guard] / actions` on the arrows. Internal
//! transitions are listed inside their state, as in UML.
//!
//! Colours say who moves: blue `?` (environment to driver), orange `!`
//! (driver to environment), purple dependency messages, grey dashed `after`.

use crate::ir::{Binding, Component, Label, Model, Protocol, StateId, Trigger};
use std::fmt::Write;

const FONT: &str = "Helvetica";
const IN_COLOR: &str = "#1f5fbf";
const OUT_COLOR: &str = "#b35900";
const DEP_COLOR: &str = "#7040a0";
const AFTER_COLOR: &str = "#707070";

/// Escapes text for a Graphviz HTML-like label.
fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Escapes text for a quoted Graphviz string.
fn quoted(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

fn node(p: &Protocol, s: StateId) -> String {
    format!("s{}_{}", s.0, p.state(s).name)
}

fn anchor(p: &Protocol, s: StateId) -> String {
    format!("init{}_{}", s.0, p.state(s).name)
}

/// A transition's label without its target: `?sleep(l) [l > D0] / x = l`.
fn edge_text(text: &str) -> String {
    let body = match text.rsplit_once("->") {
        Some((before, _)) => before,
        None => text,
    };
    body.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn color(p: &Protocol, trigger: Trigger) -> &'static str {
    match trigger {
        Trigger::After(_) => AFTER_COLOR,
        Trigger::Label(l) => match p.labels[l.0 as usize] {
            Label::Own(m) => match p.messages[m.0 as usize].direction {
                crate::syntax::ast::Direction::In => IN_COLOR,
                crate::syntax::ast::Direction::Out => OUT_COLOR,
            },
            Label::Dep(..) => DEP_COLOR,
        },
    }
}

/// The DOT source of one protocol's statechart.
pub fn protocol_dot(model: &Model, p: &Protocol) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", quoted(&p.name));
    let _ = writeln!(
        out,
        "  graph [compound=true, fontname=\"{FONT}\", labelloc=t, nodesep=0.4, ranksep=0.5, \
         label=<<b>protocol {}</b>>];",
        html(&p.name)
    );
    let _ = writeln!(
        out,
        "  node [fontname=\"{FONT}\", fontsize=11, shape=box, style=\"rounded,filled\", fillcolor=\"#fffbe8\", color=\"#555555\"];"
    );
    let _ = writeln!(
        out,
        "  edge [fontname=\"{FONT}\", fontsize=9, arrowsize=0.7];"
    );
    legend(model, p, &mut out);
    if p.states.is_empty() {
        let _ = writeln!(
            out,
            "  any [label=\"(no states: every message is legal at any time)\", style=dashed];"
        );
        let _ = writeln!(out, "}}");
        return out;
    }
    let tops: Vec<StateId> = (0..p.states.len() as u32)
        .map(StateId)
        .filter(|s| p.state(*s).parent.is_none())
        .collect();
    let _ = writeln!(
        out,
        "  init_top [shape=point, width=0.12, style=filled, fillcolor=black, label=\"\"];"
    );
    if let Some(init) = tops
        .iter()
        .find(|s| p.initial_leaf.is_some_and(|l| p.is_within(l, **s)))
    {
        let _ = writeln!(
            out,
            "  init_top -> {} [{}];",
            target_node(p, *init),
            lhead(p, *init, None).trim_start_matches(", ")
        );
    }
    for &s in &tops {
        state(p, s, 1, &mut out);
    }
    for t in &p.transitions {
        let Some(target) = t.target else { continue };
        let source = t.source;
        let src = p.state(source);
        let tail = if src.children.is_empty() {
            node(p, source)
        } else {
            anchor(p, source)
        };
        let ltail = if !src.children.is_empty() && !p.is_within(target, source) {
            format!(", ltail=\"cluster_{}\"", node(p, source))
        } else {
            String::new()
        };
        let style = if matches!(t.trigger, Trigger::After(_)) {
            ", style=dashed"
        } else {
            ""
        };
        let c = color(p, t.trigger);
        let _ = writeln!(
            out,
            "  {tail} -> {} [label=\"{}\", color=\"{c}\", fontcolor=\"{c}\"{style}{ltail}{}];",
            target_node(p, target),
            quoted(&edge_text(&t.text)),
            lhead(p, target, Some(source)),
        );
    }
    let _ = writeln!(out, "}}");
    out
}

/// The node an arrow into `s` points at: a leaf itself, or a super-state's initial dot.
fn target_node(p: &Protocol, s: StateId) -> String {
    if p.state(s).children.is_empty() {
        node(p, s)
    } else {
        anchor(p, s)
    }
}

fn lhead(p: &Protocol, target: StateId, source: Option<StateId>) -> String {
    let inside = source.is_some_and(|src| p.is_within(src, target));
    if p.state(target).children.is_empty() || inside {
        String::new()
    } else {
        format!(", lhead=\"cluster_{}\"", node(p, target))
    }
}

fn internal_rows(p: &Protocol, s: StateId) -> String {
    let mut rows = String::new();
    for t in p
        .transitions
        .iter()
        .filter(|t| t.source == s && t.target.is_none())
    {
        let c = color(p, t.trigger);
        let _ = write!(
            rows,
            "<tr><td align=\"left\"><font point-size=\"9\" color=\"{c}\">{}</font></td></tr>",
            html(&edge_text(&t.text))
        );
    }
    rows
}

fn state(p: &Protocol, s: StateId, depth: usize, out: &mut String) {
    let st = p.state(s);
    let pad = "  ".repeat(depth);
    let timeout = st
        .timeout_us
        .map(|t| format!(" [{}]", crate::ir::format_micros(t)))
        .unwrap_or_default();
    let tooltip = quoted(&st.docs.join(" "));
    if st.is_final {
        let _ = writeln!(
            out,
            "{pad}{} [shape=doublecircle, width=0.18, height=0.18, fixedsize=true, style=filled, fillcolor=black, \
             label=\"\", xlabel=\"{}\", tooltip=\"{tooltip}\"];",
            node(p, s),
            quoted(&st.name)
        );
        return;
    }
    if st.children.is_empty() {
        let _ = writeln!(
            out,
            "{pad}{} [label=<<table border=\"0\" cellspacing=\"0\" cellpadding=\"1\"><tr><td><b>{}</b>{}</td></tr>{}</table>>, tooltip=\"{tooltip}\"];",
            node(p, s),
            html(&st.name),
            html(&timeout),
            internal_rows(p, s),
        );
        return;
    }
    let _ = writeln!(out, "{pad}subgraph \"cluster_{}\" {{", node(p, s));
    let _ = writeln!(
        out,
        "{pad}  label=<<table border=\"0\" cellspacing=\"0\" cellpadding=\"1\"><tr><td><b>{}</b>{}</td></tr>{}</table>>;",
        html(&st.name),
        html(&timeout),
        internal_rows(p, s),
    );
    let _ = writeln!(
        out,
        "{pad}  style=\"rounded\"; color=\"#555555\"; bgcolor=\"{}\"; labeljust=l; tooltip=\"{tooltip}\";",
        if depth % 2 == 1 { "#f3f6fa" } else { "#ffffff" }
    );
    let _ = writeln!(
        out,
        "{pad}  {} [shape=point, width=0.1, style=filled, fillcolor=black, label=\"\"];",
        anchor(p, s)
    );
    if let Some(init) = st.initial_child {
        let _ = writeln!(out, "{pad}  {} -> {};", anchor(p, s), target_node(p, init));
    }
    for &c in &st.children {
        state(p, c, depth + 1, out);
    }
    let _ = writeln!(out, "{pad}}}");
}

/// A box listing the protocol's messages, dependencies and variables.
fn legend(model: &Model, p: &Protocol, out: &mut String) {
    let mut rows = String::new();
    for m in &p.messages {
        let params: Vec<String> = m
            .params
            .iter()
            .map(|x| format!("{} {}", model.show_type(&x.ty), x.name))
            .collect();
        let c = match m.direction {
            crate::syntax::ast::Direction::In => IN_COLOR,
            crate::syntax::ast::Direction::Out => OUT_COLOR,
        };
        let conc = if m.concurrent { "concurrent " } else { "" };
        let _ = write!(
            rows,
            "<tr><td align=\"left\"><font color=\"{c}\">{}{} {}({})</font></td></tr>",
            conc,
            m.direction.keyword(),
            html(&m.name),
            html(&params.join(", "))
        );
    }
    for d in &p.dependencies {
        let _ = write!(
            rows,
            "<tr><td align=\"left\"><font color=\"{DEP_COLOR}\">depends on {} {}</font></td></tr>",
            html(&model.proto(d.protocol).name),
            html(&d.name)
        );
    }
    for v in &p.variables {
        let _ = write!(
            rows,
            "<tr><td align=\"left\">{} {} = {}</td></tr>",
            html(&model.show_type(&v.ty)),
            html(&v.name),
            html(&model.show_value(&v.ty, v.init))
        );
    }
    let _ = writeln!(
        out,
        "  legend [shape=note, style=filled, fillcolor=\"#f7f7f7\", fontsize=9, label=<<table border=\"0\" cellspacing=\"0\">{rows}</table>>];"
    );
}

/// The DOT source of a component: its ports, the subports they spawn, and
/// the dependency bindings between them.
pub fn component_dot(model: &Model, c: &Component) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", quoted(&c.name));
    let _ = writeln!(
        out,
        "  graph [fontname=\"{FONT}\", labelloc=t, rankdir=LR, label=<<b>component {}</b>>];",
        html(&c.name)
    );
    let _ = writeln!(
        out,
        "  node [fontname=\"{FONT}\", fontsize=11, shape=box, style=\"rounded,filled\", fillcolor=\"#fffbe8\"];"
    );
    let _ = writeln!(out, "  edge [fontname=\"{FONT}\", fontsize=9];");
    let _ = writeln!(
        out,
        "  driver [label=\"{}\", shape=component, fillcolor=\"#e8f0fe\"];",
        quoted(&c.name)
    );
    for (i, k) in c.kinds.iter().enumerate() {
        let proto = &model.proto(k.protocol).name;
        let mirror = if k.mirror { "mirror " } else { "" };
        let _ = writeln!(
            out,
            "  k{i} [label=\"{}\\n{mirror}{}\"];",
            quoted(&k.name),
            quoted(proto)
        );
        match k.spawned_by {
            None => {
                let _ = writeln!(out, "  driver -> k{i} [arrowhead=none];");
            }
            Some((parent, m)) => {
                let msg = &model.proto(c.kind(parent).protocol).messages[m.0 as usize].name;
                let _ = writeln!(
                    out,
                    "  k{} -> k{i} [label=\"spawns via {}\", style=bold];",
                    parent.0,
                    quoted(msg)
                );
            }
        }
        for (d, b) in k.bindings.iter().enumerate() {
            let dep = &model.proto(k.protocol).dependencies[d].name;
            let target = match b {
                Binding::Port(p) => p.0,
                Binding::Parent => k.spawned_by.map_or(0, |(p, _)| p.0),
            };
            let _ = writeln!(
                out,
                "  k{i} -> k{target} [label=\"depends on ({})\", style=dashed, color=\"{DEP_COLOR}\", fontcolor=\"{DEP_COLOR}\"];",
                quoted(dep)
            );
        }
    }
    let _ = writeln!(out, "}}");
    out
}

/// Why an SVG could not be made.
#[derive(Debug)]
pub enum SvgError {
    /// `dot` is not installed.
    DotMissing,
    /// `dot` ran and failed.
    DotFailed(String),
}

impl std::fmt::Display for SvgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SvgError::DotMissing => write!(
                f,
                "Graphviz `dot` was not found on PATH; install it (Debian: `apt-get install graphviz`) or use `--format dot`"
            ),
            SvgError::DotFailed(e) => write!(f, "`dot` failed: {e}"),
        }
    }
}

impl std::error::Error for SvgError {}

/// Renders DOT source to SVG with Graphviz `dot`.
pub fn to_svg(dot: &str) -> Result<String, SvgError> {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => SvgError::DotMissing,
            _ => SvgError::DotFailed(e.to_string()),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(dot.as_bytes())
            .map_err(|e| SvgError::DotFailed(e.to_string()))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| SvgError::DotFailed(e.to_string()))?;
    if !output.status.success() {
        return Err(SvgError::DotFailed(
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        ));
    }
    String::from_utf8(output.stdout).map_err(|e| SvgError::DotFailed(e.to_string()))
}
