//! Source maps: from a position in the code V8 runs to the line the developer wrote.
//!
//! TypeScript under tsx or ts-node, and bundles from esbuild or tsc, run code that is not the
//! file in the editor: tsx puts a module on one or two long lines. Every position reported in
//! such code goes through its source map, found in one of two places:
//!
//! - **Node's own registry**, for code transpiled in memory: a loader that enables source maps
//!   (tsx does, and so does `--enable-source-maps`) hands Node each module's map, and
//!   `module.findSourceMap(file)` returns it. [`collect_expression`] asks for the maps of the
//!   app's files in one `Runtime.evaluate` at the end of a run;
//! - **the file on disk**, for code written by a build step: its last
//!   `//# sourceMappingURL=` comment, inline (`data:…;base64,`) or a file beside it.
//!
//! A position maps through the nearest mapping at or before it on its line, which is how
//! DevTools maps a stack frame.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// App files offered to Node's registry at most.
pub const MAX_FILES: usize = 500;
/// A map larger than this is not read (bytes).
pub const MAX_MAP_BYTES: usize = 16 << 20;

/// One parsed map: its mappings sorted by generated position, and its sources.
#[derive(Debug, Clone)]
struct Map {
    /// (generated line, generated column, source index, original line, original column),
    /// all 0-based, sorted.
    mappings: Vec<(u32, u32, u32, u32, u32)>,
    /// Each source as an absolute path.
    sources: Vec<PathBuf>,
    /// Each source's text, when the map carries it (`sourcesContent`).
    contents: Vec<Option<Arc<str>>>,
}

/// A position in the original source.
#[derive(Debug, Clone, PartialEq)]
pub struct Original {
    /// The original file, absolute.
    pub file: PathBuf,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// The original file's text, when the map carries it.
    pub content: Option<Arc<str>>,
}

/// The source maps of one app's scripts, by the script's absolute path.
#[derive(Debug, Clone, Default)]
pub struct SourceMaps {
    maps: HashMap<PathBuf, Option<Map>>,
}

impl SourceMaps {
    /// Adds the map of `script` (an absolute path) from its JSON text; a map that does not
    /// parse is ignored.
    pub fn insert_json(&mut self, script: &Path, json: &str) {
        if let Some(map) = parse_map(script, json) {
            self.maps.insert(script.to_path_buf(), Some(map));
        }
    }

    /// Maps (1-based) `line`:`column` of `script` to the original source, when the script has
    /// a map (given, or found on disk) that covers the position.
    pub fn original(&mut self, script: &Path, line: u32, column: u32) -> Option<Original> {
        if line == 0 {
            return None;
        }
        let map = self
            .maps
            .entry(script.to_path_buf())
            .or_insert_with(|| map_from_disk(script))
            .as_ref()?;
        let (l, c) = (line - 1, column.saturating_sub(1));
        let at = map.mappings.partition_point(|m| (m.0, m.1) <= (l, c));
        let m = map.mappings[..at].last().filter(|m| m.0 == l)?;
        Some(Original {
            file: map.sources.get(m.2 as usize)?.clone(),
            line: m.3 + 1,
            column: m.4 + 1,
            content: map.contents.get(m.2 as usize).cloned().flatten(),
        })
    }

    /// Whether no map was given or found.
    pub fn is_empty(&self) -> bool {
        self.maps.values().all(Option::is_none)
    }

    /// Reads the answer of [`collect_expression`]: a JSON object from absolute file paths to
    /// map JSON texts.
    pub fn from_collected(answer: &str) -> SourceMaps {
        let mut maps = SourceMaps::default();
        if let Ok(serde_json::Value::Object(files)) = serde_json::from_str(answer) {
            for (file, map) in files {
                if let Some(json) = map.as_str().filter(|j| j.len() <= MAX_MAP_BYTES) {
                    maps.insert_json(Path::new(&file), json);
                }
            }
        }
        maps
    }
}

/// The JavaScript that, evaluated in the app, returns (as a JSON string) the source maps Node
/// holds for the app's files under `app_root` (see the module docs). Files are listed here,
/// not by the app: at most [`MAX_FILES`], `node_modules` and hidden folders left out.
pub fn collect_expression(app_root: &Path) -> String {
    let files = app_files(app_root);
    let list = serde_json::to_string(&files).unwrap_or_else(|_| "[]".into());
    format!(
        r#"(() => {{
  const get = process.getBuiltinModule;
  const m = get ? get('module') : null;
  if (!m || typeof m.findSourceMap !== 'function') return '{{}}';
  const url = get('url');
  const out = {{}};
  for (const f of {list}) {{
    for (const key of [f, url.pathToFileURL(f).href]) {{
      try {{
        const map = m.findSourceMap(key);
        if (map && map.payload) {{ out[f] = JSON.stringify(map.payload); break; }}
      }} catch (e) {{}}
    }}
  }}
  return JSON.stringify(out);
}})()"#
    )
}

/// The app's JavaScript and TypeScript files (absolute), breadth first, bounded, leaving out
/// `node_modules` and hidden folders.
pub fn app_files(app_root: &Path) -> Vec<String> {
    const EXTENSIONS: [&str; 9] = ["ts", "tsx", "mts", "cts", "jsx", "js", "mjs", "cjs", "mjsx"];
    let mut out = Vec::new();
    let mut queue = std::collections::VecDeque::from([app_root.to_path_buf()]);
    let mut visited = 0;
    while let Some(dir) = queue.pop_front() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            visited += 1;
            if out.len() >= MAX_FILES || visited > 20 * MAX_FILES {
                return out;
            }
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || name == "node_modules" {
                continue;
            }
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() {
                queue.push_back(path);
            } else if kind.is_file()
                && path
                    .extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| EXTENSIONS.contains(&e))
                && !name.ends_with(".d.ts")
            {
                out.push(path.to_string_lossy().into_owned());
            }
        }
    }
    out
}

/// The map named by the last `sourceMappingURL` comment of the file at `script`.
fn map_from_disk(script: &Path) -> Option<Map> {
    let text = std::fs::read_to_string(script).ok()?;
    let url = source_mapping_url(&text)?;
    let json = if let Some(data) = url.strip_prefix("data:") {
        let (meta, payload) = data.split_once(',')?;
        if meta.ends_with(";base64") {
            String::from_utf8(base64_decode(payload)?).ok()?
        } else {
            payload.to_string()
        }
    } else {
        let path = script.parent()?.join(url.split(['?', '#']).next()?);
        let meta = std::fs::metadata(&path).ok()?;
        if meta.len() as usize > MAX_MAP_BYTES {
            return None;
        }
        std::fs::read_to_string(path).ok()?
    };
    parse_map(script, &json)
}

/// The URL of the last `//# sourceMappingURL=` (or `//@`) comment.
fn source_mapping_url(text: &str) -> Option<&str> {
    text.lines().rev().take(8).find_map(|line| {
        let rest = line.trim().strip_prefix("//")?.trim_start();
        let rest = rest
            .strip_prefix("# sourceMappingURL=")
            .or_else(|| rest.strip_prefix("@ sourceMappingURL="))?;
        Some(rest.trim()).filter(|u| !u.is_empty())
    })
}

/// Parses map JSON; sources are resolved against `sourceRoot` and the script's folder.
fn parse_map(script: &Path, json: &str) -> Option<Map> {
    let map = oxc_sourcemap::SourceMap::from_json_string(json).ok()?;
    let base = script.parent().unwrap_or(Path::new("/"));
    let root = map.get_source_root().unwrap_or("").to_string();
    let sources = map
        .get_sources()
        .map(|s| {
            let s: &str = s;
            let joined = if root.is_empty() {
                s.to_string()
            } else {
                format!("{}/{s}", root.trim_end_matches('/'))
            };
            resolve_source(base, &joined)
        })
        .collect();
    let contents = map.get_source_contents().map(|c| c.cloned()).collect();
    let mut mappings: Vec<(u32, u32, u32, u32, u32)> = map
        .get_tokens()
        .filter_map(|t| {
            Some((
                t.get_dst_line(),
                t.get_dst_col(),
                t.get_source_id()?,
                t.get_src_line(),
                t.get_src_col(),
            ))
        })
        .collect();
    mappings.sort_unstable();
    Some(Map {
        mappings,
        sources,
        contents,
    })
}

/// A map's source as an absolute path: a `file://` URL, an absolute path, or relative to
/// the script's folder.
fn resolve_source(base: &Path, source: &str) -> PathBuf {
    let path = match source.strip_prefix("file://") {
        Some(rest) => PathBuf::from(rest.strip_prefix("localhost").unwrap_or(rest)),
        None => base.join(source),
    };
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Standard base64 (padding optional); `None` on a character outside the alphabet.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in text.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            b'\n' | b'\r' | b' ' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `app.js` compiled from `src/app.ts` (line 1 of the output holds lines 2 and 3 of the
    /// source): generated 0:0 → 1:2, 0:10 → 2:4 (0-based).
    const MAP: &str = r#"{"version":3,"sources":["../src/app.ts"],"sourcesContent":["// a\n  x\n    y\n"],"names":[],"mappings":"AACE,UACE"}"#;

    #[test]
    fn positions_map_to_the_nearest_mapping_on_their_line() {
        let mut maps = SourceMaps::default();
        let script = Path::new("/srv/app/dist/app.js");
        maps.insert_json(script, MAP);
        let o = maps.original(script, 1, 1).expect("mapped");
        assert_eq!(
            (o.file.as_path(), o.line, o.column),
            (Path::new("/srv/app/src/app.ts"), 2, 3)
        );
        assert!(o.content.as_deref().is_some_and(|c| c.starts_with("// a")));
        let o = maps.original(script, 1, 15).expect("mapped");
        assert_eq!((o.line, o.column), (3, 5));
        assert_eq!(maps.original(script, 2, 1), None, "no mapping on that line");
        assert_eq!(maps.original(script, 0, 0), None);
    }

    #[test]
    fn maps_are_found_inline_or_beside_the_file_on_disk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let inline = dir.path().join("inline.js");
        let b64 =
            "eyJ2ZXJzaW9uIjozLCJzb3VyY2VzIjpbImEudHMiXSwibmFtZXMiOltdLCJtYXBwaW5ncyI6IkFBQ0UifQ==";
        std::fs::write(
            &inline,
            format!("x;\n//# sourceMappingURL=data:application/json;base64,{b64}\n"),
        )
        .unwrap();
        let beside = dir.path().join("beside.js");
        std::fs::write(&beside, "x;\n//# sourceMappingURL=beside.js.map\n").unwrap();
        std::fs::write(dir.path().join("beside.js.map"), MAP).unwrap();
        let plain = dir.path().join("plain.js");
        std::fs::write(&plain, "x;\n").unwrap();
        let mut maps = SourceMaps::default();
        let o = maps.original(&inline, 1, 1).expect("inline map");
        assert_eq!((o.file, o.line, o.column), (dir.path().join("a.ts"), 2, 3));
        let o = maps.original(&beside, 1, 1).expect("file map");
        assert_eq!(o.line, 2);
        assert_eq!(maps.original(&plain, 1, 1), None);
        assert_eq!(maps.original(&dir.path().join("gone.js"), 1, 1), None);
        assert!(base64_decode("a!").is_none());
    }

    #[test]
    fn collected_maps_are_read_and_bad_ones_ignored() {
        let answer = serde_json::json!({
            "/srv/app/a.ts": MAP,
            "/srv/app/b.ts": "not json",
        })
        .to_string();
        let mut maps = SourceMaps::from_collected(&answer);
        assert!(maps.original(Path::new("/srv/app/a.ts"), 1, 1).is_some());
        assert!(SourceMaps::from_collected("garbage").is_empty());
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("node_modules/x")).unwrap();
        std::fs::write(dir.path().join("node_modules/x/i.js"), "").unwrap();
        std::fs::write(dir.path().join("s.ts"), "").unwrap();
        std::fs::write(dir.path().join("t.d.ts"), "").unwrap();
        let expr = collect_expression(dir.path());
        assert!(expr.contains("s.ts") && !expr.contains("i.js") && !expr.contains("t.d.ts"));
    }
}
