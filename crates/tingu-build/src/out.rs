//! `Out`: Rust source text being written, with indentation. Shared by the
//! observer and the port generators.

/// Lines of Rust with indentation.
#[derive(Default)]
pub(crate) struct Out {
    pub(crate) text: String,
    pub(crate) indent: usize,
}

impl Out {
    /// One line at the current indentation (an empty line has none).
    pub(crate) fn line(&mut self, s: impl AsRef<str>) {
        let s = s.as_ref();
        if !s.is_empty() {
            for _ in 0..self.indent {
                self.text.push_str("    ");
            }
            self.text.push_str(s);
        }
        self.text.push('\n');
    }

    /// A line that opens a block: what follows is indented.
    pub(crate) fn open(&mut self, s: impl AsRef<str>) {
        self.line(s);
        self.indent += 1;
    }

    /// A line that closes a block.
    pub(crate) fn close(&mut self, s: impl AsRef<str>) {
        self.indent -= 1;
        self.line(s);
    }

    /// Several lines.
    pub(crate) fn lines(&mut self, block: &[String]) {
        for l in block {
            self.line(l);
        }
    }

    /// Doc comment lines (`///`).
    pub(crate) fn doc(&mut self, lines: &[String]) {
        for l in lines {
            if l.is_empty() {
                self.line("///");
            } else {
                self.line(format!("/// {l}"));
            }
        }
    }
}
