//! Diagnostics: what the front end reports, and their rendering in the style of rustc.

use crate::span::{SourceMap, Span};
use std::fmt;

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Suspicious but legal: `dingo spec check` still exits 0.
    Warning,
    /// The spec is invalid: no intermediate form is produced.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// A secondary source location with a short message.
#[derive(Clone, Debug)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What to say there.
    pub message: String,
}

/// One finding about the source: a message, the span it points at, a label
/// under the span, and optionally more labels, a help line and a note.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The headline, e.g. "unknown message `strat`".
    pub message: String,
    /// The span the diagnostic is about.
    pub span: Span,
    /// The text printed under `span`.
    pub label: String,
    /// Other relevant places ("first declared here").
    pub secondary: Vec<Label>,
    /// A suggested fix, when there is an obvious one.
    pub help: Option<String>,
    /// Background that explains the rule.
    pub note: Option<String>,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn error(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Error, span, message)
    }

    /// A warning at `span`.
    pub fn warning(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Warning, span, message)
    }

    fn new(severity: Severity, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity,
            message: message.into(),
            span,
            label: String::new(),
            secondary: Vec::new(),
            help: None,
            note: None,
        }
    }

    /// Sets the label under the primary span.
    pub fn label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = label.into();
        self
    }

    /// Adds a secondary location.
    pub fn with(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.secondary.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    /// Sets the help line.
    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Sets the note.
    pub fn note(mut self, note: impl Into<String>) -> Diagnostic {
        self.note = Some(note.into());
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders the diagnostic with source excerpts, as rustc does.
    pub fn render(&self, sources: &SourceMap, color: bool) -> String {
        use ariadne::{Config, IndexType, Label as ALabel, Report, ReportKind};
        let id = |span: Span| sources.file(span.file).path.display().to_string();
        let kind = match self.severity {
            Severity::Error => ReportKind::Error,
            Severity::Warning => ReportKind::Warning,
        };
        // Labels in source order: ariadne starts a new snippet (headed by the
        // primary location) whenever a label comes before the previous one,
        // which would put a `file:12:9` header over line 10.
        let mut by_position: Vec<(Span, usize)> = std::iter::once(self.span)
            .chain(self.secondary.iter().map(|l| l.span))
            .enumerate()
            .map(|(i, s)| (s, i))
            .collect();
        by_position.sort_by_key(|(s, i)| (s.file, s.start, *i));
        let mut order = vec![0i32; by_position.len()];
        for (rank, (_, i)) in by_position.iter().enumerate() {
            order[*i] = rank as i32;
        }
        let mut primary = ALabel::new((id(self.span), self.span.range())).with_order(order[0]);
        if !self.label.is_empty() {
            primary = primary.with_message(&self.label);
        }
        if color {
            primary = primary.with_color(match self.severity {
                Severity::Error => ariadne::Color::Red,
                Severity::Warning => ariadne::Color::Yellow,
            });
        }
        let mut report = Report::build(kind, (id(self.span), self.span.range()))
            .with_config(
                Config::default()
                    .with_color(color)
                    .with_index_type(IndexType::Byte),
            )
            .with_message(&self.message)
            .with_label(primary);
        for (i, extra) in self.secondary.iter().enumerate() {
            let mut label = ALabel::new((id(extra.span), extra.span.range()))
                .with_message(&extra.message)
                .with_order(order[i + 1]);
            if color {
                label = label.with_color(ariadne::Color::Blue);
            }
            report = report.with_label(label);
        }
        if let Some(help) = &self.help {
            report = report.with_help(help);
        }
        if let Some(note) = &self.note {
            report = report.with_note(note);
        }
        let mut files: Vec<_> = std::iter::once(self.span.file)
            .chain(self.secondary.iter().map(|l| l.span.file))
            .collect();
        files.sort();
        files.dedup();
        let cache = ariadne::sources(files.into_iter().map(|f| {
            let file = sources.file(f);
            (file.path.display().to_string(), file.text.clone())
        }));
        let mut out = Vec::new();
        // Writing into a Vec cannot fail; a failure to find a source is
        // reported by ariadne inside the output rather than as an error.
        let _ = report.finish().write(cache, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// One line: `path:line:col: error: message`.
    pub fn short(&self, sources: &SourceMap) -> String {
        format!(
            "{}: {}: {}",
            sources.location(self.span),
            self.severity,
            self.message
        )
    }
}

/// Diagnostics collected during one run, in the order they were found.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// No diagnostics.
    pub fn new() -> Diagnostics {
        Diagnostics::default()
    }

    /// Records one.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    /// Whether any is an error.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    /// Number of errors.
    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
    }

    /// Number of warnings.
    pub fn warning_count(&self) -> usize {
        self.items.len() - self.error_count()
    }

    /// All of them, sorted by file and position (stable for equal positions).
    pub fn sorted(&self) -> Vec<&Diagnostic> {
        let mut v: Vec<&Diagnostic> = self.items.iter().collect();
        v.sort_by_key(|d| (d.span.file, d.span.start));
        v
    }

    /// All of them, in the order found.
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Moves all of `other` into `self`.
    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    /// Renders every diagnostic, sorted by position.
    pub fn render(&self, sources: &SourceMap, color: bool) -> String {
        self.sorted()
            .iter()
            .map(|d| d.render(sources, color))
            .collect()
    }
}
