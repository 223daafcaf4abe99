//! `leakgate init [DIR]`: a starter spec for a Node project, and what to check in it.
//!
//! A first spec should run as written, so everything it says is read from the project rather
//! than guessed: the entry script from `package.json` (the `node FILE` of its `start` script,
//! else `main`, else a conventional file name), the framework from its dependencies, whether
//! the entry reads `PORT` (leakgate hands every app a free port in it) or listens on a fixed
//! one, a health route for readiness, and the routes the entry declares (`app.get('/items/:id')`
//! becomes `GET /items/{i}`). What could not be read is said in the notes, so the user knows
//! what to check before trusting a verdict. The written spec is loaded back with
//! [`crate::spec::load_spec`], so a starter spec that would not parse is an error here.

use std::path::{Path, PathBuf};

/// Why no starter spec was written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// The folder or a file in it could not be read, or the spec not written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `package.json` is not JSON.
    #[error("{path}: not valid JSON: {source}")]
    PackageJson {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// No entry script was found.
    #[error(
        "no entry script found in {dir}: give package.json a `start` script (`node server.js`) \
         or a `main`, or write the spec by hand (see the README's \"A spec\")"
    )]
    NoEntry {
        /// The project folder.
        dir: PathBuf,
    },
    /// The spec file exists already.
    #[error("{path} exists already; remove it or edit it")]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// The written spec does not load (a defect of `init`).
    #[error("the starter spec does not load: {0}")]
    Invalid(#[from] crate::spec::SpecError),
}

/// What was learnt about a Node project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// The spec's name: the package's name without its scope, or the folder's name.
    pub name: String,
    /// The entry script, relative to the project folder.
    pub script: PathBuf,
    /// Where the entry came from, in words (`package.json "start": node server.js`).
    pub script_source: String,
    /// The web framework among the dependencies, if one is known.
    pub framework: Option<&'static str>,
    /// The entry reads `process.env.PORT`.
    pub reads_port: bool,
    /// A port the entry listens on as a literal (`listen(3000`), when it does not read PORT.
    pub fixed_port: Option<u16>,
    /// A health route found in the entry (`/health`, `/healthz`, `/ready`, `/status`).
    pub health: Option<String>,
    /// `GET` routes found in the entry, as spec requests (`GET /items/{i}`).
    pub routes: Vec<String>,
}

/// Frameworks recognised in `dependencies`, by package name.
const FRAMEWORKS: [(&str, &str); 9] = [
    ("express", "express"),
    ("fastify", "fastify"),
    ("koa", "koa"),
    ("@hapi/hapi", "hapi"),
    ("@nestjs/core", "NestJS"),
    ("restify", "restify"),
    ("hono", "hono"),
    ("polka", "polka"),
    ("next", "Next.js"),
];

/// Entry files tried when package.json names none.
const CONVENTIONAL_ENTRIES: [&str; 8] = [
    "server.js",
    "index.js",
    "app.js",
    "main.js",
    "src/server.js",
    "src/index.js",
    "src/app.js",
    "server.mjs",
];

/// Health routes tried for readiness, in order of preference.
const HEALTH_ROUTES: [&str; 5] = ["/health", "/healthz", "/ready", "/status", "/ping"];

/// The most routes a starter spec lists.
const MAX_ROUTES: usize = 4;

/// Looks at the Node project in `dir`.
pub fn inspect(dir: &Path) -> Result<Project, InitError> {
    let manifest_path = dir.join("package.json");
    let manifest: serde_json::Value = match std::fs::read_to_string(&manifest_path) {
        Ok(text) => serde_json::from_str(&text).map_err(|source| InitError::PackageJson {
            path: manifest_path.clone(),
            source,
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::Value::Null,
        Err(source) => {
            return Err(InitError::Io {
                path: manifest_path,
                source,
            })
        }
    };
    let (script, script_source) =
        entry_script(dir, &manifest).ok_or_else(|| InitError::NoEntry {
            dir: dir.to_path_buf(),
        })?;
    let source = std::fs::read_to_string(dir.join(&script)).map_err(|source| InitError::Io {
        path: dir.join(&script),
        source,
    })?;
    let name = manifest["name"]
        .as_str()
        .map(|n| n.rsplit('/').next().unwrap_or(n).to_string())
        .filter(|n| !n.is_empty())
        .or_else(|| {
            std::fs::canonicalize(dir)
                .ok()
                .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        })
        .unwrap_or_else(|| "app".to_string());
    let deps = |key: &str| manifest[key].as_object().cloned().unwrap_or_default();
    let (dependencies, dev) = (deps("dependencies"), deps("devDependencies"));
    let framework = FRAMEWORKS
        .iter()
        .find(|(package, _)| dependencies.contains_key(*package) || dev.contains_key(*package))
        .map(|&(_, name)| name);
    let reads_port = source.contains("env.PORT") || source.contains("env['PORT']");
    let fixed_port = if reads_port {
        None
    } else {
        literal_port(&source)
    };
    let health = HEALTH_ROUTES
        .iter()
        .find(|route| {
            ["'", "\"", "`"]
                .iter()
                .any(|q| source.contains(&format!("{q}{route}{q}")))
        })
        .map(|r| (*r).to_string());
    let routes = get_routes(&source, health.as_deref());
    Ok(Project {
        name: crate::runner::safe_name(&name),
        script,
        script_source,
        framework,
        reads_port,
        fixed_port,
        health,
        routes,
    })
}

/// The entry script and where it came from.
fn entry_script(dir: &Path, manifest: &serde_json::Value) -> Option<(PathBuf, String)> {
    let exists = |file: &str| dir.join(file).is_file();
    if let Some(start) = manifest["scripts"]["start"].as_str() {
        let words: Vec<&str> = start.split_whitespace().collect();
        if let Some(at) = words.iter().position(|w| *w == "node") {
            let file = words[at + 1..].iter().find(|w| !w.starts_with('-'));
            if let Some(file) = file.filter(|f| exists(f)) {
                return Some((
                    PathBuf::from(file),
                    format!("package.json \"start\": {start}"),
                ));
            }
        }
    }
    if let Some(main) = manifest["main"].as_str().filter(|m| exists(m)) {
        return Some((PathBuf::from(main), "package.json \"main\"".to_string()));
    }
    CONVENTIONAL_ENTRIES
        .iter()
        .find(|f| exists(f))
        .map(|f| (PathBuf::from(f), format!("the file {f}")))
}

/// The port of the first `.listen(NNNN` with a literal number.
fn literal_port(source: &str) -> Option<u16> {
    source.match_indices(".listen(").find_map(|(at, m)| {
        let rest = source[at + m.len()..].trim_start();
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok().filter(|p| *p > 0)
    })
}

/// `GET` routes declared as `.get('/path'` (express, fastify, koa-router, hono...), as spec
/// requests: route parameters (`:id`) become `{i}`, wildcard routes are skipped.
fn get_routes(source: &str, health: Option<&str>) -> Vec<String> {
    let mut routes = Vec::new();
    for (at, m) in source.match_indices(".get(") {
        let rest = source[at + m.len()..].trim_start();
        let Some(quote) = rest
            .chars()
            .next()
            .filter(|c| matches!(c, '\'' | '"' | '`'))
        else {
            continue;
        };
        let Some(end) = rest[1..].find(quote) else {
            continue;
        };
        let path = &rest[1..1 + end];
        if !path.starts_with('/') || path.contains(['*', '(', '$', ' ']) || Some(path) == health {
            continue;
        }
        let path: Vec<String> = path
            .split('/')
            .map(|part| {
                if part.starts_with(':') {
                    "{i}".to_string()
                } else {
                    part.to_string()
                }
            })
            .collect();
        let request = format!("GET {}", path.join("/"));
        if !routes.contains(&request) {
            routes.push(request);
        }
        if routes.len() == MAX_ROUTES {
            break;
        }
    }
    routes
}

/// The starter spec's text: `script` as written in the spec (relative to the spec's folder).
pub fn render_spec(project: &Project, script: &str) -> String {
    let mut out = format!(
        "# leakgate spec for {name}, written by `leakgate init`; every key is described in\n\
         # leakgate's README, \"A spec\". Run it with `leakgate run` on this file.\n\
         app:\n  script: {script}    # from {source}\n",
        name = project.name,
        source = project.script_source,
    );
    match &project.health {
        Some(path) => out.push_str(&format!(
            "  ready: {{path: {path}, timeout: 20s}}   # must answer 2xx before the load starts\n"
        )),
        None => out.push_str(
            "  # ready: {path: /health, timeout: 20s}   # default: the port accepts connections (20s)\n",
        ),
    }
    match (project.reads_port, project.fixed_port) {
        (false, Some(port)) => out.push_str(&format!(
            "  port: {port}    # the app listens on {port}, not on process.env.PORT\n"
        )),
        _ => out.push_str("  # port: 3000    # default: a free port, given to the app in PORT\n"),
    }
    out.push_str(
        "load:\n  # warmup: 500 requests first, never measured; concurrency: 8 connections\n  \
         requests:    # cycled in order; {i} is the request's index\n",
    );
    if project.routes.is_empty() {
        out.push_str("    - \"GET /\"\n");
    }
    for route in &project.routes {
        out.push_str(&format!("    - \"{route}\"\n"));
    }
    out.push_str(
        "    # - {method: POST, path: /orders, json: {order: \"{i}\"}}\n\
         checkpoints: [2000, 4000, 6000]   # measured requests at which heap snapshots are taken\n\
         expect: clean    # `leak` for a spec that proves a known leak is found\n",
    );
    out
}

/// What `init` wrote and what the user should check.
#[derive(Debug, Clone)]
pub struct Written {
    /// The spec file.
    pub file: PathBuf,
    /// What was found and what to check, one sentence each.
    pub notes: Vec<String>,
}

/// Writes `DIR/specs/NAME.yaml` for the project in `dir`; never overwrites.
pub fn init(dir: &Path) -> Result<Written, InitError> {
    let project = inspect(dir)?;
    let specs = dir.join("specs");
    let file = specs.join(format!("{}.yaml", project.name));
    if file.exists() {
        return Err(InitError::Exists { path: file });
    }
    let script = Path::new("..").join(&project.script);
    let text = render_spec(&project, &script.to_string_lossy());
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| InitError::Io { path, source }
    };
    std::fs::create_dir_all(&specs).map_err(io(&specs))?;
    std::fs::write(&file, &text).map_err(io(&file))?;
    if let Err(e) = crate::spec::load_spec(&file) {
        let _ = std::fs::remove_file(&file);
        return Err(e.into());
    }
    Ok(Written {
        file,
        notes: notes(&project),
    })
}

fn notes(project: &Project) -> Vec<String> {
    let script = project.script.display();
    let mut notes = vec![format!(
        "the app is `node {script}` ({}); if it needs a build step or another command, change `app.script`",
        project.script_source
    )];
    if let Some(framework) = project.framework {
        notes.push(format!("it uses {framework}"));
    }
    notes.push(match (project.reads_port, project.fixed_port) {
        (true, _) => format!("{script} reads process.env.PORT: leakgate gives it a free port"),
        (false, Some(port)) => format!(
            "{script} listens on port {port}, not on process.env.PORT: the spec sets `port: {port}`, \
             so specs of this app cannot run at once; reading PORT is better"
        ),
        (false, None) => format!(
            "{script} does not seem to read process.env.PORT: make it listen on PORT, or set `app.port`"
        ),
    });
    notes.push(match &project.health {
        Some(path) => format!("readiness waits for {path} to answer 2xx"),
        None => {
            "no health route found: the load starts once the port accepts connections".to_string()
        }
    });
    notes.push(if project.routes.is_empty() {
        "no GET routes found in the entry script: replace `GET /` with requests that exercise the app \
         (the routes that keep state are the ones that leak)"
            .to_string()
    } else {
        "the requests are the GET routes found in the entry script: add the POST/PUT routes that \
         store data, with bodies your app accepts"
            .to_string()
    });
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    #[test]
    fn an_express_app_gives_its_entry_framework_port_health_and_routes() {
        let dir = project(&[
            (
                "package.json",
                r#"{"name": "@acme/shop", "scripts": {"start": "node --enable-source-maps src/app.js"},
                    "dependencies": {"express": "^4"}}"#,
            ),
            (
                "src/app.js",
                "const app = require('express')();\n\
                 app.get('/healthz', (q, s) => s.send('ok'));\n\
                 app.get('/items/:id', h); app.get(\"/cart\", h); app.get('*', h);\n\
                 app.listen(process.env.PORT || 3000);\n",
            ),
        ]);
        let p = inspect(dir.path()).unwrap();
        assert_eq!(p.name, "shop");
        assert_eq!(p.script, PathBuf::from("src/app.js"));
        assert_eq!(p.framework, Some("express"));
        assert!(p.reads_port);
        assert_eq!(p.fixed_port, None);
        assert_eq!(p.health.as_deref(), Some("/healthz"));
        assert_eq!(p.routes, vec!["GET /items/{i}", "GET /cart"]);

        let written = init(dir.path()).unwrap();
        assert_eq!(written.file, dir.path().join("specs/shop.yaml"));
        let spec = crate::spec::load_spec(&written.file).unwrap();
        assert_eq!(spec.app.ready_path.as_deref(), Some("/healthz"));
        assert!(matches!(init(dir.path()), Err(InitError::Exists { .. })));
    }

    #[test]
    fn a_plain_http_app_on_a_fixed_port_gets_that_port() {
        let dir = project(&[(
            "server.js",
            "require('http').createServer((q, s) => s.end('hi')).listen(8080);\n",
        )]);
        let p = inspect(dir.path()).unwrap();
        assert_eq!(p.script, PathBuf::from("server.js"));
        assert_eq!(p.framework, None);
        assert!(!p.reads_port);
        assert_eq!(p.fixed_port, Some(8080));
        assert!(p.routes.is_empty());
        let written = init(dir.path()).unwrap();
        let text = std::fs::read_to_string(&written.file).unwrap();
        assert!(text.contains("  port: 8080"), "{text}");
        assert!(text.contains("- \"GET /\""), "{text}");
        assert!(written.notes.iter().any(|n| n.contains("port 8080")));
    }

    #[test]
    fn no_entry_and_bad_package_json_are_errors() {
        let dir = project(&[("package.json", r#"{"name": "x", "main": "missing.js"}"#)]);
        let e = inspect(dir.path()).unwrap_err();
        assert!(e.to_string().contains("no entry script found"), "{e}");
        let dir = project(&[("package.json", "{nope")]);
        assert!(matches!(
            inspect(dir.path()),
            Err(InitError::PackageJson { .. })
        ));
    }
}
