//! Where every key and value of a spec is, and errors in the spec's own words.
//!
//! serde reports a bad value by its position only; a second, untyped pass over the document
//! records the dotted path (`load.requests[1].path`) of every key and value, so errors can
//! name the offending key and point "missing key" errors at the parent key.

use std::fmt;
use std::path::Path;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, MessageFormatter, Spanned};

use super::{yaml_options, SpecError, MAX_NESTING};

/// One key (or list item) of the document, by dotted path.
struct KeyEntry {
    path: String,
    key: Location,
    value: Location,
}

/// The location of every key and value, recorded by an untyped pass over the document.
/// Empty when the document does not parse; the typed pass then reports why.
pub(super) struct KeyIndex(Vec<KeyEntry>);

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
    pub(super) fn build(source: &str) -> KeyIndex {
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
    pub(super) fn key(&self, path: &str) -> Option<Location> {
        self.0.iter().find(|e| e.path == path).map(|e| e.key)
    }

    /// The location of the value at `path`.
    pub(super) fn value(&self, path: &str) -> Option<Location> {
        self.0.iter().find(|e| e.path == path).map(|e| e.value)
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

/// What errors need: the file's name, its text, and where its keys are.
pub(super) struct Cx<'a> {
    pub(super) file: &'a Path,
    pub(super) source: &'a str,
    pub(super) index: KeyIndex,
}

impl Cx<'_> {
    pub(super) fn position(at: Location) -> (u32, u32) {
        let clamp = |n: u64| u32::try_from(n).unwrap_or(u32::MAX).max(1);
        (clamp(at.line()), clamp(at.column()))
    }

    pub(super) fn fail<T>(&self, at: Location, message: impl Into<String>) -> Result<T, SpecError> {
        Err(self.invalid(at, message))
    }

    pub(super) fn invalid(&self, at: Location, message: impl Into<String>) -> SpecError {
        let (line, column) = Self::position(at);
        SpecError::Invalid {
            file: self.file.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }

    /// The key at `path`, or the start of the file.
    pub(super) fn key_or_top(&self, path: &str) -> Location {
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
    pub(super) fn yaml_error(&self, err: &serde_saphyr::Error) -> SpecError {
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
            E::MultipleDocuments { .. } => "a spec is one YAML document, but another one \
                 starts here (after `---`); keep one spec per file"
                .to_owned(),
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
