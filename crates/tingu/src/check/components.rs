//! Components: ports, dependency bindings, and the subport kinds that the
//! ports can spawn.

use super::did_you_mean;
use super::names::{Context, Global};
use super::protocols::Protocols;
use crate::diagnostic::Diagnostic;
use crate::ir::{self, Binding, KindId, Label, LabelId, MessageId, PortKind};
use crate::span::Span;
use std::collections::HashMap;

pub(crate) fn check(cx: &mut Context<'_>, protos: &Protocols<'_>) -> Vec<ir::Component> {
    let mut out = Vec::new();
    for &(file, c) in &cx.components.clone() {
        let mut kinds: Vec<PortKind> = Vec::new();
        let mut spans: Vec<Span> = Vec::new();
        let mut names: HashMap<&str, Span> = HashMap::new();
        let mut port_asts = Vec::new();
        for port in &c.ports {
            if let Some(&first) = names.get(port.name.name.as_str()) {
                cx.diags.push(
                    Diagnostic::error(
                        port.name.span,
                        format!("duplicate port `{}`", port.name.name),
                    )
                    .label("declared again here")
                    .with(first, "first declared here"),
                );
                continue;
            }
            names.insert(&port.name.name, port.name.span);
            let protocol = match cx.lookup(file, &port.protocol.name) {
                Some(Global::Protocol(id)) => id,
                Some(_) => {
                    cx.diags.push(
                        Diagnostic::error(
                            port.protocol.span,
                            format!("`{}` is not a protocol", port.protocol.name),
                        )
                        .label("a port must speak a protocol"),
                    );
                    continue;
                }
                None => {
                    let all: Vec<&str> = cx
                        .protocols
                        .iter()
                        .map(|(_, p)| p.name.name.as_str())
                        .collect();
                    let d = Diagnostic::error(
                        port.protocol.span,
                        format!("unknown protocol `{}`", port.protocol.name),
                    )
                    .label("no such protocol");
                    cx.diags.push(did_you_mean(d, &port.protocol.name, all));
                    continue;
                }
            };
            kinds.push(PortKind {
                name: port.name.name.clone(),
                protocol,
                mirror: port.mirror,
                spawned_by: None,
                bindings: Vec::new(),
                listeners: Vec::new(),
            });
            spans.push(port.span);
            port_asts.push(port);
        }
        if c.ports.is_empty() {
            cx.diags.push(
                Diagnostic::warning(
                    c.name.span,
                    format!("component `{}` has no ports", c.name.name),
                )
                .label("it cannot exchange any message"),
            );
        }
        let port_count = kinds.len();
        // Spawned subport kinds, breadth first.
        let mut k = 0;
        while k < kinds.len() {
            let proto = &protos.get(kinds[k].protocol).ir;
            for (m, msg) in proto.messages.iter().enumerate() {
                let Some((_, child)) = msg.spawns else {
                    continue;
                };
                let mut ancestor = Some(KindId(k as u32));
                let mut recursive = false;
                while let Some(a) = ancestor {
                    if kinds[a.0 as usize].protocol == child {
                        recursive = true;
                    }
                    ancestor = kinds[a.0 as usize].spawned_by.map(|(p, _)| p);
                }
                if recursive {
                    let whose = if k < port_count {
                        format!("port `{}`", kinds[k].name)
                    } else {
                        format!("subport kind `{}`", kinds[k].name)
                    };
                    let child_name = &protos.get(child).ir.name;
                    let message = if kinds[k].protocol == child {
                        format!("{whose} spawns subports of its own protocol `{child_name}`")
                    } else {
                        format!(
                            "{whose} spawns `{child_name}` subports, and is itself a subport of a `{child_name}` port"
                        )
                    };
                    cx.diags.push(
                        Diagnostic::error(spans[k], message)
                            .label("recursive spawning")
                            .note(format!(
                                "through message `{}`; the subports would spawn each other without end",
                                msg.name
                            )),
                    );
                    continue;
                }
                kinds.push(PortKind {
                    name: format!("{}.{}", kinds[k].name, msg.name),
                    protocol: child,
                    mirror: kinds[k].mirror,
                    spawned_by: Some((KindId(k as u32), MessageId(m as u32))),
                    bindings: Vec::new(),
                    listeners: Vec::new(),
                });
                spans.push(spans[k]);
            }
            k += 1;
        }
        // Bindings.
        let mut ok = true;
        for k in 0..kinds.len() {
            let proto = &protos.get(kinds[k].protocol).ir;
            let explicit = if k < port_count {
                port_asts[k].bindings.as_ref()
            } else {
                None
            };
            let mut bindings = Vec::new();
            if !protos.get(kinds[k].protocol).deps_resolved {
                // Its dependencies were reported as unknown: bindings would
                // be checked against a partial list.
                ok = false;
                continue;
            }
            if let Some(list) = explicit {
                if list.len() != proto.dependencies.len() {
                    let expected: Vec<String> = proto
                        .dependencies
                        .iter()
                        .map(|d| format!("`{} {}`", protos.get(d.protocol).ir.name, d.name))
                        .collect();
                    let deps = match proto.dependencies.len() {
                        0 => "no dependencies".to_string(),
                        1 => "1 dependency".to_string(),
                        n => format!("{n} dependencies"),
                    };
                    let given = match list.len() {
                        1 => "1 binding is given".to_string(),
                        n => format!("{n} bindings are given"),
                    };
                    let span = match (list.first(), list.last()) {
                        (Some(a), Some(b)) => a.span.to(b.span),
                        _ => port_asts[k].name.span,
                    };
                    let note = if expected.is_empty() {
                        format!(
                            "`{}` has no `dependencies:`; write `{} {};`",
                            proto.name, proto.name, kinds[k].name
                        )
                    } else {
                        format!("bind, in order: {}", expected.join(", "))
                    };
                    cx.diags.push(
                        Diagnostic::error(
                            span,
                            format!("`{}` has {deps}, but {given}", proto.name),
                        )
                        .label("wrong number of bindings")
                        .note(note),
                    );
                    ok = false;
                    continue;
                }
                for (dep, name) in proto.dependencies.iter().zip(list) {
                    match kinds[..port_count].iter().position(|x| x.name == name.name) {
                        Some(target) if kinds[target].protocol == dep.protocol => {
                            if target == k {
                                cx.diags.push(
                                    Diagnostic::error(
                                        name.span,
                                        "a port cannot be bound to itself",
                                    )
                                    .label("this is the port being declared"),
                                );
                                ok = false;
                            }
                            bindings.push(Binding::Port(KindId(target as u32)));
                        }
                        Some(target) => {
                            let (want, got) = (
                                &protos.get(dep.protocol).ir.name,
                                &protos.get(kinds[target].protocol).ir.name,
                            );
                            cx.diags.push(
                                Diagnostic::error(
                                    name.span,
                                    format!("port `{}` speaks `{got}`, not `{want}`", name.name),
                                )
                                .label(format!("dependency `{}` needs a `{want}` port", dep.name)),
                            );
                            ok = false;
                        }
                        None => {
                            let d = Diagnostic::error(
                                name.span,
                                format!("unknown port `{}`", name.name),
                            )
                            .label(format!("`{}` has no such port", c.name.name));
                            cx.diags.push(did_you_mean(
                                d,
                                &name.name,
                                kinds[..port_count].iter().map(|x| x.name.as_str()),
                            ));
                            ok = false;
                        }
                    }
                }
            } else {
                for dep in &proto.dependencies {
                    let parent = kinds[k].spawned_by.map(|(p, _)| p);
                    if let Some(p) = parent
                        && kinds[p.0 as usize].protocol == dep.protocol
                    {
                        bindings.push(Binding::Parent);
                        continue;
                    }
                    let candidates: Vec<usize> = (0..port_count)
                        .filter(|&x| kinds[x].protocol == dep.protocol && x != k)
                        .collect();
                    let want = &protos.get(dep.protocol).ir.name;
                    match candidates.as_slice() {
                        [one] => bindings.push(Binding::Port(KindId(*one as u32))),
                        [] => {
                            let whose = if k < port_count {
                                format!("port `{}`", kinds[k].name)
                            } else {
                                format!("subport kind `{}`", kinds[k].name)
                            };
                            cx.diags.push(
                                Diagnostic::error(
                                    spans[k],
                                    format!("missing binding for dependency `{}`", dep.name),
                                )
                                .label(format!(
                                    "{whose} speaks `{}`, which depends on a `{want}` port",
                                    proto.name
                                ))
                                .help(format!(
                                    "add a `{want}` port to component `{}`",
                                    c.name.name
                                )),
                            );
                            ok = false;
                        }
                        [first, second, ..] => {
                            let help = if k < port_count {
                                // The binding list names a port for every
                                // dependency, in order.
                                let list: Vec<&str> = proto
                                    .dependencies
                                    .iter()
                                    .map(|d| {
                                        (0..port_count)
                                            .find(|&x| kinds[x].protocol == d.protocol && x != k)
                                            .map_or("?", |x| kinds[x].name.as_str())
                                    })
                                    .collect();
                                format!(
                                    "bind it explicitly: `{}{} {}({})`",
                                    if kinds[k].mirror { "mirror " } else { "" },
                                    proto.name,
                                    kinds[k].name,
                                    list.join(", ")
                                )
                            } else {
                                format!(
                                    "the dependencies of a subport cannot be bound explicitly: keep one `{want}` port in component `{}`",
                                    c.name.name
                                )
                            };
                            cx.diags.push(
                                Diagnostic::error(
                                    spans[k],
                                    format!("ambiguous binding for dependency `{}`", dep.name),
                                )
                                .label(format!(
                                    "`{}` depends on a `{want}` port, and there are several",
                                    proto.name
                                ))
                                .with(spans[*first], "this one")
                                .with(spans[*second], "and this one")
                                .help(help),
                            );
                            ok = false;
                        }
                    }
                }
            }
            kinds[k].bindings = bindings;
        }
        if !ok {
            continue;
        }
        // Listeners: who synchronises on each message of each kind.
        for kind in &mut kinds {
            kind.listeners = vec![Vec::new(); protos.get(kind.protocol).ir.messages.len()];
        }
        for k in 0..kinds.len() {
            let proto = &protos.get(kinds[k].protocol).ir;
            for (l, label) in proto.labels.iter().enumerate() {
                let Label::Dep(d, m) = *label else { continue };
                let source = match kinds[k].bindings.get(d as usize) {
                    Some(Binding::Port(p)) => p.0 as usize,
                    Some(Binding::Parent) => match kinds[k].spawned_by {
                        Some((p, _)) => p.0 as usize,
                        None => continue,
                    },
                    None => continue,
                };
                if let Some(list) = kinds[source].listeners.get_mut(m.0 as usize) {
                    list.push((KindId(k as u32), LabelId(l as u32)));
                }
            }
        }
        out.push(ir::Component {
            name: c.name.name.clone(),
            docs: c.docs.clone(),
            span: c.name.span,
            kinds,
            port_count,
        });
    }
    out
}
