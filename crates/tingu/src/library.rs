//! Loading a set of `.tingu` files and the files they import.
//!
//! A file sees its own declarations and those of every file it imports,
//! transitively (like `#include`, but each file is loaded once). Paths in
//! `import` are relative to the importing file.

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::span::{FileId, SourceMap, Span};
use crate::syntax::{ast, parse};
use std::collections::HashMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};

/// The parsed files of one run.
#[derive(Debug, Default)]
pub struct Library {
    /// Their text, for diagnostics.
    pub sources: SourceMap,
    /// Their trees, indexed by `FileId`.
    pub files: Vec<ast::File>,
    /// The files given by the user (not only imported), in order.
    pub roots: Vec<FileId>,
    /// Where loading found errors (syntax errors, failed imports). The
    /// trees are then partial, so checking produces no model, and skips
    /// the analyses of protocols that contain one of these spans.
    pub load_errors: Vec<Span>,
    visible: Vec<Vec<FileId>>,
}

/// A root path that could not be read.
#[derive(Debug)]
pub struct LoadError {
    /// The path.
    pub path: PathBuf,
    /// Why.
    pub reason: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot read `{}`: {}", self.path.display(), self.reason)
    }
}

impl std::error::Error for LoadError {}

/// Where file text comes from: the file system, or a map for tests.
trait Reader {
    fn read(&self, path: &Path) -> Result<String, String>;
}

struct Disk;

impl Reader for Disk {
    fn read(&self, path: &Path) -> Result<String, String> {
        let bytes = std::fs::read(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => "no such file".to_string(),
            _ => e.to_string(),
        })?;
        String::from_utf8(bytes)
            .map_err(|e| format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to()))
    }
}

struct Memory(HashMap<PathBuf, String>);

impl Reader for Memory {
    fn read(&self, path: &Path) -> Result<String, String> {
        self.0
            .get(path)
            .cloned()
            .ok_or_else(|| "no such file".to_string())
    }
}

impl Library {
    /// Loads files and folders (every `*.tingu` below a folder, sorted), and
    /// everything they import. Syntax errors and unreadable imports become
    /// diagnostics; a root path that cannot be read is an error.
    pub fn load(paths: &[PathBuf]) -> Result<(Library, Diagnostics), LoadError> {
        let mut roots = Vec::new();
        for path in paths {
            if path.is_dir() {
                let mut found = Vec::new();
                collect_tingu_files(path, &mut found).map_err(|e| LoadError {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
                if found.is_empty() {
                    return Err(LoadError {
                        path: path.clone(),
                        reason: "no .tingu files in this folder".into(),
                    });
                }
                found.sort();
                roots.extend(found);
            } else {
                roots.push(path.clone());
            }
        }
        Library::load_with(&Disk, &roots)
    }

    /// Loads in-memory sources `(name, text)`; imports resolve among them.
    /// Every source is a root.
    pub fn from_sources(sources: &[(&str, &str)]) -> (Library, Diagnostics) {
        let map: HashMap<PathBuf, String> = sources
            .iter()
            .map(|(n, t)| (normalize(Path::new(n)), t.to_string()))
            .collect();
        let roots: Vec<PathBuf> = sources.iter().map(|(n, _)| PathBuf::from(n)).collect();
        Library::load_with(&Memory(map), &roots)
            .expect("every in-memory root is in the map it is read from")
    }

    /// Loads one in-memory source.
    pub fn from_source(name: &str, text: &str) -> (Library, Diagnostics) {
        Library::from_sources(&[(name, text)])
    }

    fn load_with(
        reader: &dyn Reader,
        roots: &[PathBuf],
    ) -> Result<(Library, Diagnostics), LoadError> {
        let mut lib = Library::default();
        let mut diags = Diagnostics::new();
        let mut keys: HashMap<PathBuf, FileId> = HashMap::new();
        let mut direct: Vec<Vec<FileId>> = Vec::new();
        let mut queue: Vec<FileId> = Vec::new();
        for root in roots {
            let key = normalize(root);
            if let Some(&id) = keys.get(&key) {
                if !lib.roots.contains(&id) {
                    lib.roots.push(id);
                }
                continue;
            }
            let text = reader.read(&key).map_err(|reason| LoadError {
                path: root.clone(),
                reason,
            })?;
            let id = lib.add(root.clone(), text, &mut diags);
            keys.insert(key, id);
            direct.push(Vec::new());
            lib.roots.push(id);
            queue.push(id);
        }
        while let Some(id) = queue.pop() {
            let base = lib
                .sources
                .file(id)
                .path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            let imports: Vec<ast::Import> = lib.files[id.0 as usize]
                .items
                .iter()
                .filter_map(|i| match i {
                    ast::Item::Import(imp) => Some(imp.clone()),
                    _ => None,
                })
                .collect();
            for import in imports {
                let shown = base.join(&import.path);
                let key = normalize(&shown);
                let target = match keys.get(&key) {
                    Some(&t) => t,
                    None => match reader.read(&key) {
                        Ok(text) => {
                            let t = lib.add(shown, text, &mut diags);
                            keys.insert(key, t);
                            direct.push(Vec::new());
                            queue.push(t);
                            t
                        }
                        Err(reason) => {
                            diags.push(
                                Diagnostic::error(
                                    import.path_span,
                                    format!("cannot import `{}`", import.path),
                                )
                                .label(format!("{reason}: `{}`", key.display()))
                                .note("import paths are relative to the importing file"),
                            );
                            continue;
                        }
                    },
                };
                if target == id {
                    diags.push(
                        Diagnostic::warning(import.path_span, "a file imports itself")
                            .label("this is this file"),
                    );
                } else {
                    direct[id.0 as usize].push(target);
                }
            }
        }
        // Transitive closure of imports, per file (the sets are small).
        lib.visible = (0..lib.files.len())
            .map(|start| {
                let mut seen = vec![false; lib.files.len()];
                let mut stack = vec![start];
                seen[start] = true;
                let mut out = Vec::new();
                while let Some(f) = stack.pop() {
                    out.push(FileId(f as u32));
                    for &g in &direct[f] {
                        if !seen[g.0 as usize] {
                            seen[g.0 as usize] = true;
                            stack.push(g.0 as usize);
                        }
                    }
                }
                out.sort();
                out
            })
            .collect();
        lib.load_errors = diags
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.span)
            .collect();
        Ok((lib, diags))
    }

    fn add(&mut self, path: PathBuf, text: String, diags: &mut Diagnostics) -> FileId {
        let id = self.sources.add(path, text);
        let (file, errors) = parse(id, &self.sources.file(id).text);
        diags.extend(errors);
        self.files.push(file);
        id
    }

    /// The files whose declarations `file` sees: itself and its imports, transitively.
    pub fn visible(&self, file: FileId) -> &[FileId] {
        &self.visible[file.0 as usize]
    }

    /// The parsed tree of a file.
    pub fn file(&self, id: FileId) -> &ast::File {
        &self.files[id.0 as usize]
    }

    /// Every file with its id.
    pub fn iter(&self) -> impl Iterator<Item = (FileId, &ast::File)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(i as u32), f))
    }
}

fn collect_tingu_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_tingu_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "tingu") {
            out.push(path);
        }
    }
    Ok(())
}

/// Removes `.` and resolves `..` lexically, so one file has one key.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            // `..` cancels a preceding name, but not a leading `..` or the
            // root: `../../a` stays as it is.
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(".."),
            },
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_keeps_leading_parent_dirs() {
        assert_eq!(
            normalize(Path::new("../../a.tingu")),
            Path::new("../../a.tingu")
        );
        assert_eq!(normalize(Path::new("x/../../a")), Path::new("../a"));
        assert_eq!(normalize(Path::new("x/./y/../a")), Path::new("x/a"));
        assert_eq!(normalize(Path::new("/../a")), Path::new("/a"));
    }

    #[test]
    fn an_unreadable_root_is_an_error() {
        let missing = PathBuf::from("no/such/dir/x.tingu");
        let err = Library::load(std::slice::from_ref(&missing)).unwrap_err();
        assert_eq!(err.path, missing);
        assert_eq!(err.reason, "no such file");
    }

    #[test]
    fn imports_are_transitive_and_loaded_once() {
        let (lib, diags) = Library::from_sources(&[
            ("a.tingu", "import \"b.tingu\"; import \"./c.tingu\";"),
            ("b.tingu", "import \"c.tingu\";"),
            ("c.tingu", "opaque x;"),
        ]);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(lib.files.len(), 3);
        assert_eq!(lib.visible(FileId(0)).len(), 3);
        assert_eq!(lib.visible(FileId(2)), &[FileId(2)]);
    }

    #[test]
    fn missing_import_is_a_diagnostic() {
        let (_, diags) = Library::from_source("a.tingu", "import \"nope.tingu\";");
        assert_eq!(
            diags.iter().next().unwrap().message,
            "cannot import `nope.tingu`"
        );
    }
}
