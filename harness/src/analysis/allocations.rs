//! Where the survivors of a class were allocated, from a series taken with V8's allocation
//! tracking on.
//!
//! With tracking on, every object allocated while measured carries a `trace_node_id`: a node
//! of the snapshot's allocation call tree, whose path to the root is the allocating call
//! stack. The survivors that prove a leak (first seen in the verified intervals, see
//! [`super::diff`]) are grouped by one frame of that stack, the *site*:
//!
//! 1. the innermost frame in the app's own code: a script inside the app's folder and not
//!    under `node_modules`. A leak through a library (a session store, a metrics registry) is
//!    then reported where the app calls into it, which is the line the app's authors can
//!    change;
//! 2. failing that, the innermost frame outside Node's internals (`node:...`), such as a
//!    dependency's file when the app's code is not on the stack at all (timers, events);
//! 3. failing that, the innermost frame with a script.
//!
//! V8 resolves stacks to functions, not statements: a site's line and column are those of the
//! function's definition (the `(` of its parameters), 1-based as V8 writes them, not those of
//! the allocating expression inside it.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use super::diff::Diff;
use super::source::{allocation_candidates, find_candidates, source_type_of, Statement};
use super::sourcemaps::SourceMaps;
use crate::snapshot::{HeapGraph, NodeIndex, TraceFunction};

/// Where survivors of a class were allocated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AllocationSite {
    /// The function's name; `(anonymous)` for anonymous functions.
    pub function: String,
    /// The script: relative to the app's folder when inside it, else as V8 names it
    /// (`node:internal/...`, an absolute path).
    pub file: String,
    /// 1-based line of the function's definition (0 when V8 does not know it).
    pub line: u32,
    /// 1-based column of the function's definition (0 when V8 does not know it).
    pub column: u32,
    /// Where V8 ran it, `file:line:column`, when a source map moved the position above to the
    /// original source (TypeScript, a bundle); `null` otherwise.
    pub generated: Option<String>,
    /// The npm package whose code made them, when the site is under `node_modules` (the app
    /// did not allocate them: see the retainers for where it keeps them).
    pub package: Option<String>,
    /// Survivors allocated there.
    pub count: u64,
    /// Their self size, in bytes.
    pub bytes: u64,
    /// The script as V8 names it (a path or a `file://` URL), for tools that read it.
    pub script: String,
    /// Sampled allocations behind `count` and `bytes`, when they come from the sampling heap
    /// profiler (which estimates both from its samples); `None` when every object was traced.
    pub samples: Option<u64>,
    /// The expression inside that function that allocates this class, when the source has
    /// exactly one (see [`super::source`]).
    pub statement: Option<Statement>,
    /// Every expression inside that function that allocates this class, in source order
    /// (several when the source cannot tell them apart).
    pub candidates: Vec<Statement>,
}

/// The allocation sites of the survivors of `class` first seen in the verified intervals of
/// `diff` (whose last snapshot is `graph`), most survivors first, at most `max_sites`.
/// `app_root` is the app's folder; positions in scripts with a source map are reported in the
/// original source. Empty when the snapshot has no allocation traces (tracking was off) or the
/// series is too short to verify anything.
pub fn allocation_sites(
    graph: &HeapGraph,
    diff: &Diff,
    class: &str,
    app_root: &Path,
    source_maps: &mut SourceMaps,
    max_sites: usize,
) -> Vec<AllocationSite> {
    if diff.verified().is_empty() || graph.trace_tree.is_empty() || max_sites == 0 {
        return Vec::new();
    }
    let Some((after, up_to)) = diff.verified_ids() else {
        return Vec::new();
    };

    let classes = graph.classify();
    let wanted: Vec<bool> = classes.names.iter().map(|name| name == class).collect();
    let roots = AppRoots::new(app_root);
    // Per trace node: the chosen site, resolved once.
    let mut site_of: HashMap<u32, Option<usize>> = HashMap::new();
    let mut sites: Vec<AllocationSite> = Vec::new();
    let mut by_key: HashMap<(String, u32, u32, u32, u32), usize> = HashMap::new();
    // Original sources carried by source maps, by displayed file.
    let mut contents: HashMap<String, std::sync::Arc<str>> = HashMap::new();
    for (node, &c) in classes.of_node.iter().enumerate() {
        if !wanted[c as usize] {
            continue;
        }
        let node = node as NodeIndex;
        let id = graph.node_id(node);
        if id % 2 == 0 || id <= after || id > up_to {
            continue;
        }
        let trace = graph.trace_node_id(node);
        if trace == 0 {
            continue;
        }
        let slot = *site_of.entry(trace).or_insert_with(|| {
            let stack = graph.allocation_stack(node);
            let frame = choose_frame(graph, &stack, &roots)?;
            let script = graph.strings.get(frame.script_name).to_string();
            let file = display_file(&script, &roots);
            // A function is its script and position; the name (and, when V8 could not place
            // it, its id) keeps apart functions without a position.
            let script_file = script_path(graph.strings.get(frame.script_name));
            let original = script_file
                .as_deref()
                .and_then(|s| source_maps.original(s, frame.line, frame.column));
            let key = (
                file.clone(),
                frame.line,
                frame.column,
                frame.name,
                if frame.line == 0 {
                    frame.function_id
                } else {
                    0
                },
            );
            Some(*by_key.entry(key).or_insert_with(|| {
                let name = graph.strings.get(frame.name);
                let (file, line, column, generated, content) = match original {
                    Some(o) => (
                        display_file(&o.file.to_string_lossy(), &roots),
                        o.line,
                        o.column,
                        Some(format!("{file}:{}:{}", frame.line, frame.column)),
                        o.content,
                    ),
                    None => (file, frame.line, frame.column, None, None),
                };
                if let Some(text) = content {
                    contents.insert(file.clone(), text);
                }
                let package = package_of(&file);
                sites.push(AllocationSite {
                    package,
                    function: if name.is_empty() {
                        "(anonymous)".to_string()
                    } else {
                        name.to_string()
                    },
                    file,
                    line,
                    column,
                    generated,
                    count: 0,
                    bytes: 0,
                    script: graph.strings.get(frame.script_name).to_string(),
                    samples: None,
                    statement: None,
                    candidates: Vec::new(),
                });
                sites.len() - 1
            }))
        });
        if let Some(s) = slot {
            sites[s].count += 1;
            sites[s].bytes += u64::from(graph.self_size(node));
        }
    }
    sites.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(b.bytes.cmp(&a.bytes))
            .then_with(|| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)))
    });
    sites.truncate(max_sites);
    for site in &mut sites {
        fill_candidates(site, &contents, app_root, class);
    }
    sites
}

/// Fills `site`'s candidate expressions of `class` (and its `statement`, when there is one) for
/// a site in the app's own code, reading the source from `contents` (the source maps' copies,
/// by displayed file) or else from the file under `app_root`.
pub(super) fn fill_candidates(
    site: &mut AllocationSite,
    contents: &HashMap<String, std::sync::Arc<str>>,
    app_root: &Path,
    class: &str,
) {
    if site.line == 0 || site.file.starts_with("node:") || site.file.contains("node_modules") {
        return;
    }
    site.candidates = match contents.get(&site.file) {
        Some(text) => allocation_candidates(
            text,
            source_type_of(&site.file),
            site.line,
            site.column,
            class,
        ),
        None => find_candidates(app_root, &site.file, site.line, site.column, class),
    };
    if let [one] = site.candidates.as_slice() {
        site.statement = Some(one.clone());
    }
}

/// The package a script under `node_modules` belongs to (`express`, `@fastify/busboy`).
pub fn package_of(file: &str) -> Option<String> {
    let parts: Vec<&str> = file.split('/').collect();
    let at = parts.iter().rposition(|p| *p == "node_modules")?;
    let name = *parts.get(at + 1)?;
    if name.starts_with('@') {
        Some(format!("{name}/{}", parts.get(at + 2)?))
    } else {
        (!name.is_empty()).then(|| name.to_string())
    }
}

/// Picks the site among a stack's frames (innermost first); see the module docs.
fn choose_frame<'g>(
    graph: &HeapGraph,
    stack: &[&'g TraceFunction],
    roots: &AppRoots,
) -> Option<&'g TraceFunction> {
    choose_site(stack, |f| graph.strings.get(f.script_name), roots).copied()
}

/// The site among `stack`'s frames (innermost first), whose scripts `script` names: the
/// innermost frame in the app's own code, else outside Node's internals, else with a script.
pub(crate) fn choose_site<'s, 'x, T>(
    stack: &'s [T],
    script: impl Fn(&'s T) -> &'x str,
    roots: &AppRoots,
) -> Option<&'s T> {
    stack
        .iter()
        .find(|f| {
            roots
                .relative(script(f))
                .is_some_and(|rel| !rel.components().any(|c| c.as_os_str() == "node_modules"))
        })
        .or_else(|| {
            stack.iter().find(|f| {
                let s = script(f);
                !s.is_empty() && !s.starts_with("node:") && !s.starts_with("internal/")
            })
        })
        .or_else(|| stack.iter().find(|f| !script(f).is_empty()))
}

/// The app's folder, as given and with symbolic links resolved (Node names scripts by their
/// real path).
pub(crate) struct AppRoots {
    roots: Vec<PathBuf>,
}

impl AppRoots {
    pub(crate) fn new(app_root: &Path) -> AppRoots {
        let mut roots = vec![normalize(app_root)];
        if let Ok(real) = app_root.canonicalize() {
            if !roots.contains(&real) {
                roots.push(real);
            }
        }
        AppRoots { roots }
    }

    /// `script` relative to the app's folder, when it is a file inside it.
    fn relative(&self, script: &str) -> Option<PathBuf> {
        let path = normalize(&script_path(script)?);
        self.roots
            .iter()
            .find_map(|root| path.strip_prefix(root).ok().map(Path::to_path_buf))
            .filter(|rel| !rel.as_os_str().is_empty())
    }
}

/// How a script is named in a site: relative to the app's folder, or as V8 names it.
pub(crate) fn display_file(script: &str, roots: &AppRoots) -> String {
    match roots.relative(script) {
        Some(rel) => rel.to_string_lossy().into_owned(),
        None => script.to_string(),
    }
}

/// The file a script name stands for: an absolute path, or a `file://` URL (percent-decoded).
pub(crate) fn script_path(script: &str) -> Option<PathBuf> {
    if let Some(rest) = script.strip_prefix("file://") {
        // `file:///abs/path`, or `file://localhost/abs/path`.
        let rest = rest.strip_prefix("localhost").unwrap_or(rest);
        return rest
            .starts_with('/')
            .then(|| PathBuf::from(percent_decode(rest)));
    }
    script.starts_with('/').then(|| PathBuf::from(script))
}

/// Decodes `%XX` escapes; a malformed escape is kept as it is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Removes `.` and resolves `..` without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_names_become_paths_relative_to_the_app() {
        let roots = AppRoots::new(Path::new("/srv/app/./sub/.."));
        assert_eq!(display_file("/srv/app/server.js", &roots), "server.js");
        assert_eq!(
            display_file("file:///srv/app/lib/a%20b.js", &roots),
            "lib/a b.js"
        );
        assert_eq!(
            display_file("file://localhost/srv/app/x.js", &roots),
            "x.js"
        );
        assert_eq!(
            display_file("node:internal/http", &roots),
            "node:internal/http"
        );
        assert_eq!(display_file("/srv/other/x.js", &roots), "/srv/other/x.js");
        assert_eq!(
            display_file("/srv/application.js", &roots),
            "/srv/application.js"
        );
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(
            package_of("node_modules/body-parser/lib/json.js").as_deref(),
            Some("body-parser")
        );
        assert_eq!(
            package_of("/a/node_modules/x/node_modules/@fastify/busboy/i.js").as_deref(),
            Some("@fastify/busboy")
        );
        assert_eq!(package_of("server.js"), None);
        assert_eq!(percent_decode("%e2%82%ac%zz"), "€%zz");
    }
}
