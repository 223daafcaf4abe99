//! Turning the YAML as written into a validated [`Spec`]: the `Raw*` structs that mirror the
//! document, and the checks and defaults that make a [`Spec`] of them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

use super::inspector_flags;
use super::locate::Cx;
use super::requests::RawLoad;
use super::{
    parse_duration, AppCommand, AppSpec, Expectation, Explain, Spec, SpecError, SpecLines,
    Thresholds, DEFAULT_CHECKPOINTS, DEFAULT_EXTENSION_FACTOR,
    DEFAULT_MAX_SURVIVORS_PER_1K_REQUESTS, DEFAULT_READY_TIMEOUT, DEFAULT_WARMUP, MAX_CHECKPOINTS,
    MAX_REQUESTS, MIN_CHECKPOINTS,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSpec {
    name: Option<Spanned<String>>,
    app: RawApp,
    load: RawLoad,
    checkpoints: Option<Vec<Spanned<u64>>>,
    max_requests: Option<Spanned<u64>>,
    assert: Option<RawAssert>,
    expect: Option<Spanned<String>>,
    slow: Option<bool>,
    report_snapshot: Option<bool>,
    explain: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApp {
    script: Option<Spanned<String>>,
    command: Option<Spanned<serde_json::Value>>,
    cwd: Option<Spanned<String>>,
    env: Option<BTreeMap<String, EnvValue>>,
    node_args: Option<Vec<Spanned<String>>>,
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
struct RawAssert {
    max_heap_bytes_per_request: Option<Spanned<f64>>,
    max_array_buffer_bytes_per_request: Option<Spanned<f64>>,
    max_survivors_per_1k_requests: Option<Spanned<f64>>,
    ignore_classes: Option<Vec<String>>,
    allow: Option<Vec<Spanned<RawAllow>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAllow {
    holder: Spanned<String>,
    class: Option<String>,
    site: Option<String>,
    max_per_1k_requests: Option<Spanned<f64>>,
    max_bytes_per_request: Option<Spanned<f64>>,
    thread: Option<Spanned<String>>,
}

/// An `app.env` value: a string. Numbers and booleans are refused rather than turned into
/// text, since YAML would also turn `0755` or `yes` into something the user did not write.
struct EnvValue(String);

impl<'de> Deserialize<'de> for EnvValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = EnvValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string: quote numbers and booleans in `app.env` (\"1\", \"true\")")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<EnvValue, E> {
                Ok(EnvValue(v.to_owned()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<EnvValue, E> {
                Err(E::invalid_type(de::Unexpected::Other("null"), &self))
            }
        }
        d.deserialize_any(V)
    }
}

impl Cx<'_> {
    pub(super) fn build(&self, mut raw: RawSpec) -> Result<Spec, SpecError> {
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
        let explain = match raw.explain.as_ref().map(|e| e.value.as_str()) {
            None | Some("auto") => Explain::Auto,
            Some("always") => Explain::Always,
            Some("never") => Explain::Never,
            Some("runs") => Explain::Runs,
            Some(other) => {
                let message = format!(
                    "`explain` must be one of: auto, always, never, runs (found `{other}`)"
                );
                return self.fail(
                    raw.explain.map_or(Location::UNKNOWN, |e| e.referenced),
                    message,
                );
            }
        };
        let checkpoints = match raw.checkpoints {
            None => DEFAULT_CHECKPOINTS.to_vec(),
            Some(list) => self.checkpoints(list)?,
        };
        let assert = self.thresholds(raw.assert)?;
        // Without a limit, intervals must still be long enough for the rate earlier versions
        // used as the default.
        let rate = assert
            .max_survivors_per_1k_requests
            .unwrap_or(DEFAULT_MAX_SURVIVORS_PER_1K_REQUESTS);
        let power = super::power::check(&checkpoints, rate);
        if let Err(close) = power {
            let [a, b, c] = close.suggestion;
            let message = format!(
                "`checkpoints` are too close for `assert.max_survivors_per_1k_requests` ({}): \
                 a class leaking at that rate leaves {:.2} objects in the smallest interval \
                 ({} requests), so one stray object would read as a leak; use intervals of at \
                 least {a} requests, e.g. `checkpoints: [{a}, {b}, {c}]`",
                rate, close.survivors, close.smallest_interval
            );
            let at = self
                .index
                .key("checkpoints")
                .unwrap_or(self.key_or_top("assert.max_survivors_per_1k_requests"));
            return self.fail(at, message);
        }
        let last = checkpoints.last().copied().unwrap_or(0);
        let max_requests = match raw.max_requests {
            None => last
                .saturating_mul(DEFAULT_EXTENSION_FACTOR)
                .min(MAX_REQUESTS.max(last)),
            Some(m) if m.value > MAX_REQUESTS => {
                let message = format!(
                    "`max_requests` must be at most {MAX_REQUESTS} requests (found {})",
                    m.value
                );
                return self.fail(m.referenced, message);
            }
            Some(m) if m.value >= last => m.value,
            Some(m) => {
                let message = format!(
                    "`max_requests` must be at least the last checkpoint, {last} (found {}); \
                     set it to {last} to never extend a run",
                    m.value
                );
                return self.fail(m.referenced, message);
            }
        };
        let line_of = |key| self.index.key(key).map_or(1, |at| Self::position(at).0);
        Ok(Spec {
            name,
            file: self.file.to_path_buf(),
            app: self.app(raw.app)?,
            warmup: self.warmup(raw.load.warmup.take())?,
            load: self.load(raw.load)?,
            checkpoints,
            max_requests,
            assert,
            expect,
            slow: raw.slow.unwrap_or(false),
            report_snapshot: raw.report_snapshot.unwrap_or(true),
            explain,
            lines: SpecLines {
                expect: line_of("expect"),
                app: line_of("app"),
                checkpoints: line_of("checkpoints"),
            },
        })
    }

    fn warmup(&self, raw: Option<Spanned<u64>>) -> Result<u64, SpecError> {
        match raw {
            None => Ok(DEFAULT_WARMUP),
            Some(w) if w.value > MAX_REQUESTS => {
                let message = format!(
                    "`load.warmup` must be at most {MAX_REQUESTS} requests (found {})",
                    w.value
                );
                self.fail(w.referenced, message)
            }
            Some(w) => Ok(w.value),
        }
    }

    fn checkpoints(&self, list: Vec<Spanned<u64>>) -> Result<Vec<u64>, SpecError> {
        if list.len() > MAX_CHECKPOINTS {
            let message = format!(
                "`checkpoints` may list at most {MAX_CHECKPOINTS} entries (found {}); each is a heap snapshot",
                list.len()
            );
            return self.fail(self.key_or_top("checkpoints"), message);
        }
        if let Some(c) = list.iter().find(|c| c.value > MAX_REQUESTS) {
            let message = format!(
                "`checkpoints` entries must be at most {MAX_REQUESTS} requests (found {})",
                c.value
            );
            return self.fail(c.referenced, message);
        }
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
        let (script, command) = match (raw.script, raw.command) {
            (Some(_), Some(command)) => {
                let message = "`app` has both `script` and `command`; keep one (`script` runs \
                               `node [node_args] SCRIPT`, `command` runs the app as its team \
                               does, e.g. `npm start`)";
                return self.fail(command.referenced, message);
            }
            (None, None) => {
                let message = "`app` needs `script` (a file run with node) or `command` \
                               (e.g. `npm start`, or a list like [node, --import, tsx, src/server.ts])";
                return self.fail(self.key_or_top("app"), message);
            }
            (Some(script), None) => (Some(self.script(&base, script)?), None),
            (None, Some(command)) => (None, Some(self.command(command)?)),
        };
        if let (Some(_), Some(args)) = (&command, &raw.node_args) {
            if !args.is_empty() {
                let message = "`app.node_args` applies to `script`; with `command`, put node \
                               flags in the command itself or in `app.env.NODE_OPTIONS`";
                return self.fail(self.key_or_top("app.node_args"), message);
            }
        }
        let node_args = raw.node_args.unwrap_or_default();
        let flags: Vec<&str> = node_args.iter().map(|a| a.value.as_str()).collect();
        if let Some(refused) = inspector_flags::refused(&flags, "app.node_args") {
            let at = node_args.get(refused.index).map(|a| a.referenced);
            return self.fail(
                at.unwrap_or(self.key_or_top("app.node_args")),
                refused.message,
            );
        }
        if let Some(AppCommand::Argv(argv)) = &command {
            self.command_flags(argv.clone())?;
        }
        if let Some(AppCommand::Shell(line)) = &command {
            self.command_flags(inspector_flags::words(line))?;
        }
        let default_cwd = match &script {
            Some(script) => script
                .parent()
                .map_or_else(|| base.clone(), Path::to_path_buf),
            None => base.clone(),
        };
        let cwd = match raw.cwd {
            None => default_cwd,
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
        let package_dir = match &script {
            Some(script) => script.parent().and_then(package_root),
            None => package_root(&cwd),
        };
        let env: BTreeMap<String, String> = raw
            .env
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect();
        if let Some(bad) = env.keys().find(|k| k.is_empty() || k.contains(['=', '\0'])) {
            let at = self.index.key(&format!("app.env.{bad}"));
            let message = format!("app.env name `{bad}` must be non-empty and contain no `=`");
            return self.fail(at.unwrap_or(self.key_or_top("app.env")), message);
        }
        if let Some(options) = env.get("NODE_OPTIONS") {
            let words = inspector_flags::words(options);
            let flags: Vec<&str> = words.iter().map(String::as_str).collect();
            if let Some(refused) = inspector_flags::refused(&flags, "app.env.NODE_OPTIONS") {
                let at = self.index.value("app.env.NODE_OPTIONS");
                return self.fail(at.unwrap_or(self.key_or_top("app.env")), refused.message);
            }
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
            command,
            package_dir,
            cwd,
            env,
            node_args: node_args.into_iter().map(|a| a.value).collect(),
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

    /// Refuses a command whose node flags open the inspector beyond the loopback.
    fn command_flags(&self, words: Vec<String>) -> Result<(), SpecError> {
        let flags: Vec<&str> = words.iter().map(String::as_str).collect();
        match inspector_flags::refused(&flags, "app.command") {
            Some(refused) => {
                let at = self
                    .index
                    .value(&format!("app.command[{}]", refused.index))
                    .or_else(|| self.index.value("app.command"));
                self.fail(
                    at.unwrap_or(self.key_or_top("app.command")),
                    refused.message,
                )
            }
            None => Ok(()),
        }
    }

    fn script(&self, base: &Path, raw: Spanned<String>) -> Result<PathBuf, SpecError> {
        let script = normalize(&base.join(&raw.value));
        if !script.is_file() {
            let problem = ["does not exist", "is not a file"][usize::from(script.exists())];
            let (given, resolved) = (&raw.value, script.display());
            let message = format!("app.script `{given}` {problem} (resolved to {resolved})");
            return self.fail(raw.referenced, message);
        }
        Ok(script)
    }

    /// `command: "npm start"` (run by the shell) or `command: [node, --import, tsx, src/server.ts]`.
    fn command(&self, raw: Spanned<serde_json::Value>) -> Result<AppCommand, SpecError> {
        use serde_json::Value;
        let usage =
            "`app.command` must be a non-empty string run by the shell (e.g. \"npm start\") \
                     or a non-empty list of strings (e.g. [node, --import, tsx, src/server.ts])";
        match raw.value {
            Value::String(line) if !line.trim().is_empty() && !line.contains('\0') => {
                Ok(AppCommand::Shell(line))
            }
            Value::Array(items) if !items.is_empty() => {
                let mut argv = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::String(arg) if !arg.contains('\0') => argv.push(arg),
                        Value::Number(n) => argv.push(n.to_string()),
                        _ => return self.fail(raw.referenced, usage),
                    }
                }
                if argv[0].trim().is_empty() {
                    return self.fail(raw.referenced, usage);
                }
                Ok(AppCommand::Argv(argv))
            }
            _ => self.fail(raw.referenced, usage),
        }
    }

    pub(super) fn duration(
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
        let limit = |v: Option<Spanned<f64>>, key: &str| match v {
            None => Ok(None),
            Some(v) if v.value.is_finite() && v.value >= 0.0 => Ok(Some(v.value)),
            Some(v) => {
                let found = v.value;
                let message =
                    format!("`assert.{key}` must be a finite number, 0 or more (found {found})");
                self.fail(v.referenced, message)
            }
        };
        Ok(Thresholds {
            max_heap_bytes_per_request: limit(
                raw.max_heap_bytes_per_request,
                "max_heap_bytes_per_request",
            )?,
            max_array_buffer_bytes_per_request: limit(
                raw.max_array_buffer_bytes_per_request,
                "max_array_buffer_bytes_per_request",
            )?,
            max_survivors_per_1k_requests: limit(
                raw.max_survivors_per_1k_requests,
                "max_survivors_per_1k_requests",
            )?,
            ignore_classes: raw.ignore_classes.unwrap_or_default(),
            allow: self.allow_entries(raw.allow.unwrap_or_default())?,
        })
    }

    /// `assert.allow`: known leaks by fingerprint, each with optional budgets.
    fn allow_entries(
        &self,
        raw: Vec<Spanned<RawAllow>>,
    ) -> Result<Vec<crate::analysis::AllowEntry>, SpecError> {
        let budget = |v: Option<Spanned<f64>>, key: &str| match v {
            None => Ok(None),
            Some(v) if v.value.is_finite() && v.value >= 0.0 => Ok(Some(v.value)),
            Some(v) => {
                let found = v.value;
                let message = format!(
                    "`assert.allow[].{key}` must be a finite number, 0 or more (found {found})"
                );
                self.fail(v.referenced, message)
            }
        };
        raw.into_iter()
            .map(|entry| {
                let e = entry.value;
                if e.holder.value.trim().is_empty() {
                    let message = "`assert.allow[].holder` must name the variable, module \
                                   binding or property that holds the leak (as `leakgate run \
                                   --suggest-allow` prints it)";
                    return self.fail(e.holder.referenced, message);
                }
                if let Some(t) = e.thread.as_ref().filter(|t| t.value.trim().is_empty()) {
                    let message = "`assert.allow[].thread` must be `main` or a worker's script \
                                   relative to the app's folder (`./worker.js`), as reports \
                                   name it";
                    return self.fail(t.referenced, message);
                }
                Ok(crate::analysis::AllowEntry {
                    holder: e.holder.value,
                    class: e.class,
                    site: e.site,
                    max_per_1k_requests: budget(e.max_per_1k_requests, "max_per_1k_requests")?,
                    max_bytes_per_request: budget(
                        e.max_bytes_per_request,
                        "max_bytes_per_request",
                    )?,
                    thread: e.thread.map(|t| t.value),
                    line: Self::position(entry.referenced).0,
                })
            })
            .collect()
    }
}

/// The nearest folder at or above `dir` that holds a `package.json`: where `npm ci` runs.
fn package_root(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .find(|d| d.join("package.json").is_file())
        .map(Path::to_path_buf)
}

/// `path` made absolute against the current directory (unchanged if that fails).
pub(super) fn absolute(path: &Path) -> PathBuf {
    let path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Removes `.` and resolves `..` without touching the file system.
pub(super) fn normalize(path: &Path) -> PathBuf {
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
