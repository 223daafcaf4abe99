//! The YAML spec: parsing, defaults and validation, with `file:line:column` on every error.
//!
//! A spec names a Node app, the HTTP load to drive against it, the request counts
//! (checkpoints) at which heap snapshots are taken, and the thresholds the growth must stay
//! under. Everything a run needs is checked here, before any process starts: a typo in a key
//! or a missing script should cost a second, not a boot, a warm-up and three snapshots.
//!
//! # Why serde-saphyr
//! `serde_yaml` is archived. `serde-saphyr` is maintained, deserializes straight into typed
//! structs (no intermediate `Value`), and knows where every node came from: its errors carry a
//! [`serde_saphyr::Location`] and [`serde_saphyr::Spanned`] gives the line and column of any
//! value. That is what lets each error here, and each CI annotation later, point at the
//! offending key or value instead of at the file.
//!
//! # How a spec is read
//! 1. The document is deserialized into `Raw*` structs that mirror the YAML exactly
//!    (`deny_unknown_fields` everywhere, values that need checking wrapped in `Spanned`).
//! 2. A second, untyped pass records the location of every key and value by dotted path
//!    (`load.requests[1].path`). It names the offending key in type errors, and points
//!    "missing key" errors at the parent key rather than at the first line of the mapping.
//! 3. The raw structs are checked and turned into [`Spec`], with defaults from the
//!    `DEFAULT_*` constants below.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_saphyr::{Location, MessageFormatter, Spanned};

use crate::load::{BodyTemplate, LoadConfig, RequestTemplate};

/// Requests sent before the first checkpoint, never measured.
pub const DEFAULT_WARMUP: u64 = 500;
/// Keep-alive connections driving the load.
pub const DEFAULT_CONCURRENCY: usize = 8;
/// The largest accepted `load.concurrency`.
pub const MAX_CONCURRENCY: usize = 1024;
/// Measured requests (after warm-up) at which snapshots are taken.
pub const DEFAULT_CHECKPOINTS: [u64; 3] = [2000, 4000, 6000];
/// Growth per request needs two intervals to be told apart from a one-off allocation.
pub const MIN_CHECKPOINTS: usize = 3;
/// How long the app may take to become ready.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long one request may take before it counts as failed.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Retained JS heap growth allowed per measured request, in bytes.
pub const DEFAULT_MAX_HEAP_BYTES_PER_REQUEST: f64 = 64.0;
/// Retained `ArrayBuffer` backing-store growth allowed per measured request, in bytes.
pub const DEFAULT_MAX_ARRAY_BUFFER_BYTES_PER_REQUEST: f64 = 64.0;
/// Per-class survivors per 1000 requests above which a class is reported as a suspect.
pub const DEFAULT_MAX_SURVIVORS_PER_1K_REQUESTS: f64 = 5.0;
/// HTTP methods a request may use.
pub const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// A validated spec, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// `name:`, or the file's stem.
    pub name: String,
    /// The spec file, as given.
    pub file: PathBuf,
    /// The Node app under test.
    pub app: AppSpec,
    /// The load driven against the app.
    pub load: LoadConfig,
    /// Requests before the first checkpoint, never measured.
    pub warmup: u64,
    /// Measured requests after warm-up at which to snapshot; at least 3, strictly increasing.
    pub checkpoints: Vec<u64>,
    /// Growth limits.
    pub assert: Thresholds,
    /// Whether the app is expected to be clean or to leak.
    pub expect: Expectation,
    /// A slow spec runs only with `cargo test -- --ignored`.
    pub slow: bool,
    /// Whether the stable report is snapshot-tested.
    pub report_snapshot: bool,
    /// Where some keys are, for annotations on the spec file.
    pub lines: SpecLines,
}

/// How to start the Node app.
#[derive(Debug, Clone, PartialEq)]
pub struct AppSpec {
    /// The entry script, absolute; it exists when the spec is loaded.
    pub script: PathBuf,
    /// Working directory, absolute; defaults to the script's folder.
    pub cwd: PathBuf,
    /// Extra environment variables.
    pub env: BTreeMap<String, String>,
    /// Extra `node` flags, placed before the script.
    pub node_args: Vec<String>,
    /// A path that must answer 2xx before load starts; `None`: the port accepting connections suffices.
    pub ready_path: Option<String>,
    /// How long the app may take to become ready.
    pub ready_timeout: Duration,
    /// A fixed port; `None`: the harness picks a free one and passes it in `PORT`.
    pub port: Option<u16>,
}

/// Limits on growth per request; exceeding one fails a `clean` spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// Retained JS heap bytes per measured request.
    pub max_heap_bytes_per_request: f64,
    /// Retained `ArrayBuffer` bytes per measured request.
    pub max_array_buffer_bytes_per_request: f64,
    /// Per-class survivors per 1000 requests above which a class is a suspect.
    pub max_survivors_per_1k_requests: f64,
    /// Class names never reported as suspects.
    pub ignore_classes: Vec<String>,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            max_heap_bytes_per_request: DEFAULT_MAX_HEAP_BYTES_PER_REQUEST,
            max_array_buffer_bytes_per_request: DEFAULT_MAX_ARRAY_BUFFER_BYTES_PER_REQUEST,
            max_survivors_per_1k_requests: DEFAULT_MAX_SURVIVORS_PER_1K_REQUESTS,
            ignore_classes: Vec::new(),
        }
    }
}

/// What a run must find for the spec to pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Expectation {
    /// Passes when growth stays under every threshold.
    Clean,
    /// Passes only when the leak is found: guards the detector itself.
    Leak,
}

impl Expectation {
    /// The spelling used in specs and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Expectation::Clean => "clean",
            Expectation::Leak => "leak",
        }
    }
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// 1-based lines of some top-level keys (1 when the key is absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecLines {
    /// The `expect:` key.
    pub expect: u32,
    /// The `app:` key.
    pub app: u32,
    /// The `checkpoints:` key.
    pub checkpoints: u32,
}

/// Why a spec could not be loaded. Every variant displays as one line starting with
/// `FILE:LINE:COLUMN: `.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file or folder could not be read.
    #[error("{}:1:1: cannot read: {source}", file.display())]
    Io {
        /// The path, as given.
        file: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not well-formed YAML.
    #[error("{}:{line}:{column}: {message}", file.display())]
    Syntax {
        /// The spec file, as given.
        file: PathBuf,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
        /// What is wrong.
        message: String,
    },
    /// The YAML is well-formed but is not a valid spec.
    #[error("{}:{line}:{column}: {message}", file.display())]
    Invalid {
        /// The spec file, as given.
        file: PathBuf,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
        /// What is wrong, ending with the valid choices where there are some.
        message: String,
    },
    /// A folder given to [`discover`] holds no spec files.
    #[error("{}:1:1: no *.yaml or *.yml spec files in this folder", dir.display())]
    NoSpecs {
        /// The folder, as given.
        dir: PathBuf,
    },
}

impl SpecError {
    /// The 1-based line and column the error points at.
    pub fn position(&self) -> (u32, u32) {
        match self {
            SpecError::Syntax { line, column, .. } | SpecError::Invalid { line, column, .. } => {
                (*line, *column)
            }
            SpecError::Io { .. } | SpecError::NoSpecs { .. } => (1, 1),
        }
    }
}

/// Reads and validates the spec at `path`.
pub fn load_spec(path: &Path) -> Result<Spec, SpecError> {
    let source = std::fs::read_to_string(path).map_err(|source| SpecError::Io {
        file: path.to_path_buf(),
        source,
    })?;
    parse_spec(&source, path)
}

/// Parses and validates spec text. `file` names the spec in errors, and relative paths in the
/// spec are resolved against its folder. The app's script must exist.
pub fn parse_spec(source: &str, file: &Path) -> Result<Spec, SpecError> {
    let index = KeyIndex::build(source);
    let cx = Cx {
        file,
        source,
        index,
    };
    if source.lines().all(|l| {
        l.trim().is_empty() || l.trim_start().starts_with('#') || matches!(l.trim(), "---" | "...")
    }) {
        return Err(cx.invalid(
            Location::UNKNOWN,
            "the spec is empty; it needs at least `app.script` and `load.requests`",
        ));
    }
    let raw: RawSpec = serde_saphyr::from_str_with_options(source, yaml_options())
        .map_err(|e| cx.yaml_error(&e))?;
    cx.build(raw)
}

/// Expands `paths` into spec files: files are kept as given, folders are searched recursively
/// for `*.yaml` and `*.yml` (hidden entries skipped), each folder's files sorted. A missing
/// path, or a folder without specs, is an error.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, SpecError> {
    let mut out: Vec<PathBuf> = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| SpecError::Io {
            file: path.clone(),
            source,
        })?;
        let mut found = if meta.is_dir() {
            let mut found = Vec::new();
            walk_dir(path, 0, &mut found)?;
            if found.is_empty() {
                return Err(SpecError::NoSpecs { dir: path.clone() });
            }
            found.sort();
            found
        } else {
            vec![path.clone()]
        };
        found.retain(|p| !out.contains(p));
        out.append(&mut found);
    }
    Ok(out)
}

/// Deeper folders than this are not searched (guards against symlink loops).
const MAX_DISCOVER_DEPTH: usize = 16;

fn walk_dir(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), SpecError> {
    let io = |source| SpecError::Io {
        file: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if name.as_deref().is_none_or(|n| n.starts_with('.')) {
            continue;
        }
        if path.is_dir() {
            if depth < MAX_DISCOVER_DEPTH {
                walk_dir(&path, depth + 1, out)?;
            }
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    Ok(())
}

/// How deep a spec may nest. Specs are shallow; the cap keeps a hostile or broken file from
/// exhausting the stack.
const MAX_NESTING: usize = 32;

fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: MAX_NESTING,
            flow_nesting_limit: MAX_NESTING,
        },
    }
}

// ---------------------------------------------------------------------------------------------
// The YAML as written.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    name: Option<Spanned<String>>,
    app: RawApp,
    load: RawLoad,
    checkpoints: Option<Vec<Spanned<u64>>>,
    assert: Option<RawAssert>,
    expect: Option<Spanned<String>>,
    slow: Option<bool>,
    report_snapshot: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApp {
    script: Spanned<String>,
    cwd: Option<Spanned<String>>,
    env: Option<BTreeMap<String, String>>,
    node_args: Option<Vec<String>>,
    ready: Option<RawReady>,
    port: Option<Spanned<u16>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReady {
    path: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLoad {
    warmup: Option<u64>,
    concurrency: Option<Spanned<u64>>,
    requests: Vec<Spanned<RawRequest>>,
    cookies: Option<bool>,
    timeout: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAssert {
    max_heap_bytes_per_request: Option<Spanned<f64>>,
    max_array_buffer_bytes_per_request: Option<Spanned<f64>>,
    max_survivors_per_1k_requests: Option<Spanned<f64>>,
    ignore_classes: Option<Vec<String>>,
}

/// A request: `"METHOD /path"` or a mapping.
enum RawRequest {
    Line(String),
    Map(Box<RawRequestMap>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequestMap {
    method: Option<Spanned<String>>,
    path: Spanned<String>,
    headers: Option<BTreeMap<String, String>>,
    json: Option<serde_json::Value>,
    body: Option<String>,
}

impl<'de> Deserialize<'de> for RawRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawRequest;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a request: \"METHOD /path\" or a mapping with `path`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawRequest, E> {
                Ok(RawRequest::Line(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawRequest, A::Error> {
                RawRequestMap::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|m| RawRequest::Map(Box::new(m)))
            }
        }
        d.deserialize_any(V)
    }
}

// ---------------------------------------------------------------------------------------------
// Where every key and value is.

/// One key (or list item) of the document, by dotted path.
struct KeyEntry {
    path: String,
    key: Location,
    value: Location,
}

/// The location of every key and value, recorded by an untyped pass over the document.
/// Empty when the document does not parse; the typed pass then reports why.
struct KeyIndex(Vec<KeyEntry>);

/// The shape of the document, with locations.
enum Tree {
    Map(Vec<(Spanned<String>, Spanned<Tree>)>),
    Seq(Vec<Spanned<Tree>>),
    Leaf,
}

/// Scalar visits that all make a leaf.
macro_rules! leaves {
    ($($visit:ident($ty:ty)),*) => {
        $(fn $visit<E>(self, _: $ty) -> Result<Tree, E> { Ok(Tree::Leaf) })*
    };
}

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Tree;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any YAML node")
            }
            leaves!(
                visit_bool(bool),
                visit_i64(i64),
                visit_u64(u64),
                visit_i128(i128)
            );
            leaves!(
                visit_u128(u128),
                visit_f64(f64),
                visit_str(&str),
                visit_bytes(&[u8])
            );
            fn visit_unit<E>(self) -> Result<Tree, E> {
                Ok(Tree::Leaf)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Tree::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key()? {
                    entries.push((key, map.next_value()?));
                }
                Ok(Tree::Map(entries))
            }
        }
        d.deserialize_any(V)
    }
}

impl KeyIndex {
    fn build(source: &str) -> KeyIndex {
        let mut entries = Vec::new();
        if let Ok(tree) = serde_saphyr::from_str_with_options::<Tree>(source, yaml_options()) {
            Self::walk(&tree, "", &mut entries);
        }
        KeyIndex(entries)
    }

    fn walk(tree: &Tree, path: &str, out: &mut Vec<KeyEntry>) {
        match tree {
            Tree::Map(entries) => {
                for (key, value) in entries {
                    let path = if path.is_empty() {
                        key.value.clone()
                    } else {
                        format!("{path}.{}", key.value)
                    };
                    Self::push(out, path, key.referenced, value);
                }
            }
            Tree::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    Self::push(out, format!("{path}[{i}]"), item.referenced, item);
                }
            }
            Tree::Leaf => {}
        }
    }

    fn push(out: &mut Vec<KeyEntry>, path: String, key: Location, value: &Spanned<Tree>) {
        out.push(KeyEntry {
            path: path.clone(),
            key,
            value: value.referenced,
        });
        Self::walk(&value.value, &path, out);
    }

    /// The location of the key at `path`.
    fn key(&self, path: &str) -> Option<Location> {
        self.0.iter().find(|e| e.path == path).map(|e| e.key)
    }

    /// The entry whose key is at `at`.
    fn by_key(&self, at: Location) -> Option<&KeyEntry> {
        self.0.iter().find(|e| same_place(e.key, at))
    }

    /// The innermost entry whose value starts at `at`.
    fn by_value(&self, at: Location) -> Option<&KeyEntry> {
        self.0.iter().rev().find(|e| same_place(e.value, at))
    }
}

fn same_place(a: Location, b: Location) -> bool {
    a.line() == b.line() && a.column() == b.column() && a.line() > 0
}

// ---------------------------------------------------------------------------------------------
// Checking.

/// What errors need: the file's name, its text, and where its keys are.
struct Cx<'a> {
    file: &'a Path,
    source: &'a str,
    index: KeyIndex,
}

impl Cx<'_> {
    fn position(at: Location) -> (u32, u32) {
        let clamp = |n: u64| u32::try_from(n).unwrap_or(u32::MAX).max(1);
        (clamp(at.line()), clamp(at.column()))
    }

    fn fail<T>(&self, at: Location, message: impl Into<String>) -> Result<T, SpecError> {
        Err(self.invalid(at, message))
    }

    fn invalid(&self, at: Location, message: impl Into<String>) -> SpecError {
        let (line, column) = Self::position(at);
        SpecError::Invalid {
            file: self.file.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }

    /// The key at `path`, or the start of the file.
    fn key_or_top(&self, path: &str) -> Location {
        self.index.key(path).unwrap_or(Location::UNKNOWN)
    }

    /// The source text of the scalar at `at`, when short enough to quote.
    fn text_at(&self, at: Location) -> Option<&str> {
        let span = at.span();
        let start = usize::try_from(span.byte_offset()?).ok()?;
        let len = usize::try_from(span.byte_len()?).ok()?;
        let text = self.source.get(start..start.checked_add(len)?)?.trim();
        let scalar =
            !text.is_empty() && !text.starts_with(['{', '[', '?']) && !text.starts_with("- ");
        (scalar && text.len() <= 60 && !text.contains(['\n', '\r'])).then_some(text)
    }

    /// `` `app.port` `` for the value at `at`; `the spec` for the document itself.
    fn name_of_value(&self, at: Location) -> String {
        // Every node but the root has an entry.
        self.index
            .by_value(at)
            .map_or_else(|| "the spec".to_owned(), |e| format!("`{}`", e.path))
    }

    /// Turns a deserialization error into a one-line [`SpecError`] about the spec's keys.
    fn yaml_error(&self, err: &serde_saphyr::Error) -> SpecError {
        use serde_saphyr::Error as E;
        let at = err.location().unwrap_or(Location::UNKNOWN);
        let mut inner = err.without_snippet();
        while let E::AliasError { error, .. } = inner {
            inner = error.without_snippet();
        }
        let found = |fallback: &str| {
            self.text_at(at)
                .map_or_else(|| fallback.to_owned(), |t| format!(" (found `{t}`)"))
        };
        let message = match inner {
            E::SerdeUnknownField {
                field, expected, ..
            } => {
                let within = self
                    .index
                    .by_key(at)
                    .and_then(|e| e.path.rsplit_once('.'))
                    .map(|(p, _)| format!(" in `{p}`"));
                let within = within.unwrap_or_else(|| {
                    let top = expected.contains(&"app") && expected.contains(&"load");
                    (if top { " at the top level" } else { "" }).to_owned()
                });
                format!(
                    "unknown key `{field}`{within}; valid keys: {}",
                    expected.join(", ")
                )
            }
            E::SerdeMissingField { field, .. } => {
                // Block mappings report the first key, flow mappings their first key or `{`.
                let parent = self.index.by_value(at).or_else(|| {
                    let child = self.index.by_key(at)?;
                    let (path, _) = child.path.rsplit_once('.')?;
                    self.index.0.iter().find(|e| e.path == path)
                });
                return match parent {
                    Some(parent) => self.invalid(
                        parent.key,
                        format!("missing required key `{field}` in `{}`", parent.path),
                    ),
                    None => self.invalid(at, format!("missing required key `{field}`")),
                };
            }
            E::SerdeInvalidType {
                unexpected,
                expected,
                ..
            }
            | E::SerdeInvalidValue {
                unexpected,
                expected,
                ..
            } => format!(
                "{} must be {} (found {unexpected})",
                self.name_of_value(at),
                describe(expected)
            ),
            E::InvalidScalar { ty, .. } => format!(
                "{} must be {}{}",
                self.name_of_value(at),
                describe(ty),
                found("")
            ),
            E::NullIntoString { .. } => {
                format!("{} must be a string (found null)", self.name_of_value(at))
            }
            E::Unexpected { expected, .. } => format!(
                "{} must be {}{}",
                self.name_of_value(at),
                describe(expected),
                found("")
            ),
            E::Budget { .. } => {
                format!("the spec is too large or nests deeper than {MAX_NESTING} levels")
            }
            E::DuplicateMappingKey { key, .. } => match key {
                Some(key) => format!("duplicate key `{key}`"),
                None => "duplicate key".to_owned(),
            },
            other => {
                let (line, column) = Self::position(at);
                let message = serde_saphyr::DefaultMessageFormatter.format_message(other);
                return SpecError::Syntax {
                    file: self.file.to_path_buf(),
                    line,
                    column,
                    message: message.chars().filter(|c| !c.is_control()).collect(),
                };
            }
        };
        self.invalid(at, message)
    }

    fn build(&self, raw: RawSpec) -> Result<Spec, SpecError> {
        let name = match raw.name {
            Some(n) if n.value.trim().is_empty() || n.value.contains(['/', '\\', '\n']) => {
                let message = "`name` must be non-empty, on one line, without `/` or `\\`";
                return self.fail(n.referenced, message);
            }
            Some(n) => n.value,
            None => self
                .file
                .file_stem()
                .map_or_else(|| "spec".to_owned(), |s| s.to_string_lossy().into_owned()),
        };
        let expect = match raw.expect.as_ref().map(|e| e.value.as_str()) {
            None | Some("clean") => Expectation::Clean,
            Some("leak") => Expectation::Leak,
            Some(other) => {
                let message = format!("`expect` must be one of: clean, leak (found `{other}`)");
                return self.fail(
                    raw.expect.map_or(Location::UNKNOWN, |e| e.referenced),
                    message,
                );
            }
        };
        let checkpoints = match raw.checkpoints {
            None => DEFAULT_CHECKPOINTS.to_vec(),
            Some(list) => self.checkpoints(list)?,
        };
        let line_of = |key| self.index.key(key).map_or(1, |at| Self::position(at).0);
        Ok(Spec {
            name,
            file: self.file.to_path_buf(),
            app: self.app(raw.app)?,
            warmup: raw.load.warmup.unwrap_or(DEFAULT_WARMUP),
            load: self.load(raw.load)?,
            checkpoints,
            assert: self.thresholds(raw.assert)?,
            expect,
            slow: raw.slow.unwrap_or(false),
            report_snapshot: raw.report_snapshot.unwrap_or(true),
            lines: SpecLines {
                expect: line_of("expect"),
                app: line_of("app"),
                checkpoints: line_of("checkpoints"),
            },
        })
    }

    fn checkpoints(&self, list: Vec<Spanned<u64>>) -> Result<Vec<u64>, SpecError> {
        if list.len() < MIN_CHECKPOINTS {
            let message = format!(
                "`checkpoints` needs at least {MIN_CHECKPOINTS} entries to measure growth (found {})",
                list.len()
            );
            return self.fail(self.key_or_top("checkpoints"), message);
        }
        for (i, c) in list.iter().enumerate() {
            let previous = i.checked_sub(1).and_then(|p| list.get(p)).map(|p| p.value);
            if c.value == 0 {
                let message = "`checkpoints` entries must be at least 1 (they count measured requests after warm-up)";
                return self.fail(c.referenced, message);
            }
            if let Some(p) = previous.filter(|p| c.value <= *p) {
                let message = format!("`checkpoints` must increase: {} comes after {p}", c.value);
                return self.fail(c.referenced, message);
            }
        }
        Ok(list.into_iter().map(|c| c.value).collect())
    }

    fn app(&self, raw: RawApp) -> Result<AppSpec, SpecError> {
        let base = absolute(self.file.parent().unwrap_or(Path::new("")));
        let script = normalize(&base.join(&raw.script.value));
        if !script.is_file() {
            let problem = ["does not exist", "is not a file"][usize::from(script.exists())];
            let (given, resolved) = (&raw.script.value, script.display());
            let message = format!("app.script `{given}` {problem} (resolved to {resolved})");
            return self.fail(raw.script.referenced, message);
        }
        let cwd = match raw.cwd {
            None => script
                .parent()
                .map_or_else(|| base.clone(), Path::to_path_buf),
            Some(cwd) => {
                let dir = normalize(&base.join(&cwd.value));
                if !dir.is_dir() {
                    let (given, resolved) = (&cwd.value, dir.display());
                    let message =
                        format!("app.cwd `{given}` is not a folder (resolved to {resolved})");
                    return self.fail(cwd.referenced, message);
                }
                dir
            }
        };
        let env = raw.env.unwrap_or_default();
        if let Some(bad) = env.keys().find(|k| k.is_empty() || k.contains(['=', '\0'])) {
            let at = self.index.key(&format!("app.env.{bad}"));
            let message = format!("app.env name `{bad}` must be non-empty and contain no `=`");
            return self.fail(at.unwrap_or(self.key_or_top("app.env")), message);
        }
        let ready = raw.ready.unwrap_or(RawReady {
            path: None,
            timeout: None,
        });
        let port = match raw.port {
            Some(p) if p.value == 0 => {
                let message =
                    "`app.port` must be from 1 to 65535 (leave it out to get a free port in PORT)";
                return self.fail(p.referenced, message);
            }
            p => p.map(|p| p.value),
        };
        Ok(AppSpec {
            script,
            cwd,
            env,
            node_args: raw.node_args.unwrap_or_default(),
            ready_path: ready
                .path
                .map(|p| self.url_path(p, "app.ready.path"))
                .transpose()?,
            ready_timeout: self.duration(
                ready.timeout,
                "app.ready.timeout",
                DEFAULT_READY_TIMEOUT,
            )?,
            port,
        })
    }

    fn load(&self, raw: RawLoad) -> Result<LoadConfig, SpecError> {
        let concurrency = match raw.concurrency {
            None => DEFAULT_CONCURRENCY,
            Some(c) => match usize::try_from(c.value) {
                Ok(n) if (1..=MAX_CONCURRENCY).contains(&n) => n,
                _ => {
                    let message = format!(
                        "`load.concurrency` must be from 1 to {MAX_CONCURRENCY} (found {})",
                        c.value
                    );
                    return self.fail(c.referenced, message);
                }
            },
        };
        if raw.requests.is_empty() {
            let message = "`load.requests` must list at least one request, e.g. \"GET /\"";
            return self.fail(self.key_or_top("load.requests"), message);
        }
        let requests = raw.requests.into_iter().enumerate();
        Ok(LoadConfig {
            concurrency,
            requests: requests
                .map(|(i, r)| self.request(i, r))
                .collect::<Result<_, _>>()?,
            cookies: raw.cookies.unwrap_or(false),
            request_timeout: self.duration(raw.timeout, "load.timeout", DEFAULT_REQUEST_TIMEOUT)?,
        })
    }

    fn request(&self, i: usize, raw: Spanned<RawRequest>) -> Result<RequestTemplate, SpecError> {
        let (at, here) = (raw.referenced, format!("load.requests[{i}]"));
        let map = match raw.value {
            RawRequest::Map(map) => *map,
            RawRequest::Line(line) => {
                let mut words = line.split_whitespace();
                let (method, path) = match (words.next(), words.next(), words.next()) {
                    (Some(path), None, None) if path.starts_with('/') => ("GET", path),
                    (Some(method), Some(path), None) => (method, path),
                    _ => {
                        let message =
                            format!("request `{line}` must be \"METHOD /path\" or \"/path\"");
                        return self.fail(at, message);
                    }
                };
                let path = Spanned::new(path.to_owned(), at, at);
                return Ok(RequestTemplate {
                    method: self.method(method, at)?,
                    path: self.url_path(path, &here)?,
                    headers: Vec::new(),
                    body: None,
                });
            }
        };
        let body = match (map.json, map.body) {
            (Some(_), Some(_)) => {
                let message = format!("`{here}` has both `json` and `body`; keep one");
                return self.fail(
                    self.index.key(&format!("{here}.body")).unwrap_or(at),
                    message,
                );
            }
            (json, text) => json
                .map(BodyTemplate::Json)
                .or(text.map(BodyTemplate::Text)),
        };
        let headers = map.headers.unwrap_or_default();
        for (name, value) in &headers {
            if name.is_empty() || !name.bytes().all(is_token_byte) || value.contains(['\r', '\n']) {
                let key = self.index.key(&format!("{here}.headers.{name}"));
                let message = format!(
                    "header `{name}` must be a valid HTTP header name with a one-line value"
                );
                return self.fail(key.unwrap_or(at), message);
            }
        }
        Ok(RequestTemplate {
            method: match map.method {
                None => "GET".to_owned(),
                Some(m) => self.method(&m.value, m.referenced)?,
            },
            path: self.url_path(map.path, &format!("{here}.path"))?,
            headers: headers.into_iter().collect(),
            body,
        })
    }

    fn method(&self, method: &str, at: Location) -> Result<String, SpecError> {
        let upper = method.to_ascii_uppercase();
        if !METHODS.contains(&upper.as_str()) {
            let message = format!(
                "unknown method `{method}`; valid methods: {}",
                METHODS.join(", ")
            );
            return self.fail(at, message);
        }
        Ok(upper)
    }

    fn url_path(&self, path: Spanned<String>, what: &str) -> Result<String, SpecError> {
        if !path.value.starts_with('/') || path.value.contains(char::is_whitespace) {
            let found = &path.value;
            let message =
                format!("`{what}` must start with `/` and contain no spaces (found `{found}`)");
            return self.fail(path.referenced, message);
        }
        Ok(path.value)
    }

    fn duration(
        &self,
        raw: Option<Spanned<String>>,
        what: &str,
        default: Duration,
    ) -> Result<Duration, SpecError> {
        let Some(raw) = raw else { return Ok(default) };
        match parse_duration(&raw.value) {
            Some(d) => Ok(d),
            None => {
                let message = format!(
                    "`{what}` must be a positive duration like 15s, 500ms, 2m or a number of seconds (found `{}`)",
                    raw.value
                );
                self.fail(raw.referenced, message)
            }
        }
    }

    fn thresholds(&self, raw: Option<RawAssert>) -> Result<Thresholds, SpecError> {
        let Some(raw) = raw else {
            return Ok(Thresholds::default());
        };
        let limit = |v: Option<Spanned<f64>>, key: &str, default: f64| match v {
            None => Ok(default),
            Some(v) if v.value.is_finite() && v.value >= 0.0 => Ok(v.value),
            Some(v) => {
                let found = v.value;
                let message =
                    format!("`assert.{key}` must be a finite number, 0 or more (found {found})");
                self.fail(v.referenced, message)
            }
        };
        use DEFAULT_MAX_ARRAY_BUFFER_BYTES_PER_REQUEST as ARRAY_BUFFER;
        use DEFAULT_MAX_HEAP_BYTES_PER_REQUEST as HEAP;
        use DEFAULT_MAX_SURVIVORS_PER_1K_REQUESTS as SURVIVORS;
        Ok(Thresholds {
            max_heap_bytes_per_request: limit(
                raw.max_heap_bytes_per_request,
                "max_heap_bytes_per_request",
                HEAP,
            )?,
            max_array_buffer_bytes_per_request: limit(
                raw.max_array_buffer_bytes_per_request,
                "max_array_buffer_bytes_per_request",
                ARRAY_BUFFER,
            )?,
            max_survivors_per_1k_requests: limit(
                raw.max_survivors_per_1k_requests,
                "max_survivors_per_1k_requests",
                SURVIVORS,
            )?,
            ignore_classes: raw.ignore_classes.unwrap_or_default(),
        })
    }
}

/// Says in words what a deserializer expected (`u16` -> `an integer from 0 to 65535`).
fn describe(expected: &str) -> String {
    let e = expected.trim_start_matches("expected ");
    match e {
        "u16" => "an integer from 0 to 65535".to_owned(),
        "u64" | "usize" | "u32" => "a whole number, 0 or more".to_owned(),
        "f64" | "f32" | "floating point" => "a number".to_owned(),
        "bool" | "boolean" | "a boolean" => "true or false".to_owned(),
        "a sequence" | "sequence start" => "a list".to_owned(),
        "mapping start" | "a map" => "a mapping".to_owned(),
        _ if e.starts_with("struct ") => "a mapping".to_owned(),
        _ => e.to_owned(),
    }
}

/// Parses `15s`, `500ms`, `2m`, `1h` or a bare number of seconds; `None` unless positive.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at_checked(split)?;
    let scale = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return None,
    };
    let value: f64 = number.parse().ok()?;
    Duration::try_from_secs_f64(value * scale)
        .ok()
        .filter(|d| !d.is_zero())
}

/// A byte allowed in an HTTP header name (RFC 9110 `tchar`).
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `path` made absolute against the current directory (unchanged if that fails).
fn absolute(path: &Path) -> PathBuf {
    let path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Removes `.` and resolves `..` without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push(part);
                }
            }
            other => out.push(other),
        }
    }
    out
}
