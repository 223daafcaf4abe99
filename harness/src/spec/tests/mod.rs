use super::*;
use crate::load::{BodyTemplate, CaptureSource, RequestTemplate, StatusPattern};

mod errors;

/// A folder with `specs/` and `app/server.js`, the usual layout.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("specs")).unwrap();
        std::fs::create_dir_all(dir.path().join("app/data")).unwrap();
        std::fs::write(dir.path().join("app/server.js"), "").unwrap();
        Fixture { dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    fn spec_file(&self) -> PathBuf {
        self.root().join("specs/a.yaml")
    }

    fn parse(&self, source: &str) -> Result<Spec, SpecError> {
        parse_spec(source, &self.spec_file())
    }

    /// The error message after the `FILE:` prefix.
    fn error(&self, source: &str) -> String {
        let err = self.parse(source).expect_err("spec should be rejected");
        let text = err.to_string();
        let prefix = format!("{}:", self.spec_file().display());
        assert!(text.starts_with(&prefix), "{text}");
        assert!(!text.contains('\n'), "{text}");
        text[prefix.len()..].to_owned()
    }
}

const MINIMAL: &str = "app:\n  script: ../app/server.js\nload:\n  requests: [\"GET /\"]\n";

/// [`MINIMAL`] plus `extra` at the top level.
fn minimal_with(extra: &str) -> String {
    format!("{MINIMAL}{extra}")
}

#[test]
fn a_command_runs_in_the_spec_folder_and_installs_at_the_nearest_package_json() {
    let fx = Fixture::new();
    std::fs::write(fx.root().join("package.json"), "{}").unwrap();
    let spec = fx
        .parse("app:\n  command: npm start\nload: {requests: [/]}\n")
        .unwrap();
    assert_eq!(
        spec.app.command,
        Some(AppCommand::Shell("npm start".into()))
    );
    assert_eq!(spec.app.script, None);
    assert_eq!(spec.app.cwd, fx.root().join("specs"));
    assert_eq!(spec.app.package_dir, Some(fx.root()));
    let source = "app:\n  command: [node, --import, tsx, src/server.ts]\n  cwd: ../app\nload: {requests: [/]}\n";
    let spec = fx.parse(source).unwrap();
    let argv = ["node", "--import", "tsx", "src/server.ts"]
        .map(String::from)
        .to_vec();
    assert_eq!(spec.app.command, Some(AppCommand::Argv(argv)));
    assert_eq!(spec.app.cwd, fx.root().join("app"));
    // A script in a `src/` folder installs where the package.json is, above it.
    std::fs::create_dir_all(fx.root().join("app/src")).unwrap();
    std::fs::write(fx.root().join("app/src/server.js"), "").unwrap();
    std::fs::write(fx.root().join("app/package.json"), "{}").unwrap();
    let spec = fx
        .parse("app: {script: ../app/src/server.js}\nload: {requests: [/]}\n")
        .unwrap();
    assert_eq!(spec.app.cwd, fx.root().join("app/src"));
    assert_eq!(spec.app.package_dir, Some(fx.root().join("app")));
}

#[test]
fn a_flow_captures_values_and_keeps_cookies_per_user() {
    let fx = Fixture::new();
    let source = "app: {script: ../app/server.js}\nload:\n  flow:\n    - {method: POST, path: /login, capture: {token: json.auth.token, sid: cookie.sid}}\n    - {path: \"/cart/{uuid}\", headers: {authorization: \"Bearer {token}\", x-sid: \"{sid}\"}}\n";
    let spec = fx.parse(source).unwrap();
    assert!(spec.load.flow && spec.load.cookies);
    let capture = &spec.load.requests[0].capture;
    assert_eq!(capture.len(), 2);
    assert_eq!(capture[0].name, "sid");
    assert_eq!(capture[0].source, CaptureSource::Cookie("sid".into()));
    assert_eq!(
        capture[1].source,
        CaptureSource::Json(vec!["auth".into(), "token".into()])
    );
    assert_eq!(
        spec.load.requests[1].placeholders(),
        ["uuid", "token", "sid"]
    );
    std::fs::write(
        fx.root().join("specs/load.mjs"),
        "export default async () => {}",
    )
    .unwrap();
    let spec = fx
        .parse("app: {script: ../app/server.js}\nload: {script: ./load.mjs}\n")
        .unwrap();
    assert_eq!(spec.load.script, Some(fx.root().join("specs/load.mjs")));
    assert!(spec.load.requests.is_empty() && !spec.load.flow);
}

#[test]
fn full_spec_with_every_key() {
    let fx = Fixture::new();
    let source = r#"name: session-store
app:
  script: ../app/server.js
  cwd: ../app/data
  env: {NODE_ENV: production, WORKERS: "2", DEBUG: "false"}
  node_args: [--max-old-space-size=256]
  ready: {path: /health, timeout: 15s}
  port: 3000
load:
  warmup: 100
  concurrency: 16
  requests:
    - "GET /items/{i}"
    - {method: post, path: /orders, json: {order: "{i}", qty: 2}, headers: {x-tenant: acme}, status: [201, 4xx]}
    - {method: PUT, path: /notes, body: "note {i}", status: 204}
  cookies: true
  timeout: 500ms
  max_failure_rate: 0.05
checkpoints: [1000, 2000, 3000, 4000]
assert:
  max_heap_bytes_per_request: 32
  max_array_buffer_bytes_per_request: 16.5
  max_survivors_per_1k_requests: 2
  ignore_classes: [Timeout, TLSSocket]
expect: leak
slow: true
report_snapshot: false
"#;
    let spec = fx.parse(source).unwrap();
    let root = fx.root();
    assert_eq!(spec.name, "session-store");
    assert_eq!(spec.file, fx.spec_file());
    assert_eq!(spec.app.script, Some(root.join("app/server.js")));
    assert_eq!(spec.app.cwd, root.join("app/data"));
    let env: Vec<(&str, &str)> = spec
        .app
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        env,
        [
            ("DEBUG", "false"),
            ("NODE_ENV", "production"),
            ("WORKERS", "2")
        ]
    );
    assert_eq!(spec.app.node_args, ["--max-old-space-size=256"]);
    assert_eq!(spec.app.ready_path.as_deref(), Some("/health"));
    assert_eq!(spec.app.ready_timeout, Duration::from_secs(15));
    assert_eq!(spec.app.port, Some(3000));
    assert_eq!(spec.warmup, 100);
    assert_eq!(spec.load.concurrency, 16);
    assert!(spec.load.cookies);
    assert_eq!(spec.load.request_timeout, Duration::from_millis(500));
    assert_eq!(spec.load.max_failure_rate, 0.05);
    assert_eq!(
        spec.load.requests,
        [
            RequestTemplate {
                method: "GET".into(),
                path: "/items/{i}".into(),
                headers: vec![],
                body: None,
                status: vec![],
                capture: vec![],
            },
            RequestTemplate {
                method: "POST".into(),
                path: "/orders".into(),
                headers: vec![("x-tenant".into(), "acme".into())],
                body: Some(BodyTemplate::Json(
                    serde_json::json!({"order": "{i}", "qty": 2})
                )),
                status: vec![StatusPattern::Code(201), StatusPattern::Class(4)],
                capture: vec![],
            },
            RequestTemplate {
                method: "PUT".into(),
                path: "/notes".into(),
                headers: vec![],
                body: Some(BodyTemplate::Text("note {i}".into())),
                status: vec![StatusPattern::Code(204)],
                capture: vec![],
            },
        ]
    );
    assert_eq!(spec.checkpoints, [1000, 2000, 3000, 4000]);
    assert_eq!(
        spec.assert,
        Thresholds {
            max_heap_bytes_per_request: Some(32.0),
            max_array_buffer_bytes_per_request: Some(16.5),
            max_survivors_per_1k_requests: Some(2.0),
            ignore_classes: vec!["Timeout".into(), "TLSSocket".into()],
            allow: vec![],
        }
    );
    assert_eq!(spec.expect, Expectation::Leak);
    assert!(spec.slow);
    assert!(!spec.report_snapshot);
    assert_eq!(
        spec.lines,
        SpecLines {
            expect: 25,
            app: 2,
            checkpoints: 19
        }
    );
}

#[test]
fn defaults() {
    let fx = Fixture::new();
    let spec = fx.parse(MINIMAL).unwrap();
    assert_eq!(spec.name, "a");
    assert_eq!(spec.app.cwd, fx.root().join("app"));
    assert!(spec.app.env.is_empty());
    assert!(spec.app.node_args.is_empty());
    assert_eq!(spec.app.ready_path, None);
    assert_eq!(spec.app.ready_timeout, DEFAULT_READY_TIMEOUT);
    assert_eq!(spec.app.ready_timeout, Duration::from_secs(20));
    assert_eq!(spec.app.port, None);
    assert_eq!(spec.warmup, DEFAULT_WARMUP);
    assert_eq!(spec.warmup, 500);
    assert_eq!(spec.load.concurrency, DEFAULT_CONCURRENCY);
    assert_eq!(spec.load.concurrency, 8);
    assert!(!spec.load.cookies);
    assert_eq!(spec.load.request_timeout, Duration::from_secs(10));
    assert_eq!(spec.checkpoints, [2000, 4000, 6000]);
    assert_eq!(spec.assert, Thresholds::default());
    // No limits: each run is judged against its own noise.
    assert_eq!(spec.assert.max_heap_bytes_per_request, None);
    assert_eq!(spec.assert.max_array_buffer_bytes_per_request, None);
    assert_eq!(spec.assert.max_survivors_per_1k_requests, None);
    assert_eq!(spec.max_requests, 6000 * DEFAULT_EXTENSION_FACTOR);
    assert_eq!(spec.expect, Expectation::Clean);
    assert!(!spec.slow);
    assert!(spec.report_snapshot);
    assert_eq!(
        spec.lines,
        SpecLines {
            expect: 1,
            app: 1,
            checkpoints: 1
        }
    );
}

#[test]
fn ready_with_only_a_timeout_waits_for_the_port() {
    let fx = Fixture::new();
    let spec = fx
        .parse("app:\n  script: ../app/server.js\n  ready: {timeout: 2m}\nload: {requests: [/]}\n")
        .unwrap();
    assert_eq!(spec.app.ready_path, None);
    assert_eq!(spec.app.ready_timeout, Duration::from_secs(120));
}

#[test]
fn string_form_requests() {
    let fx = Fixture::new();
    let source = "app: {script: ../app/server.js}\nload:\n  requests:\n    - GET /a\n    - /b?x={i}\n    - post /c\n    - \"  Delete   /d  \"\n";
    let spec = fx.parse(source).unwrap();
    let labels: Vec<String> = spec.load.requests.iter().map(|r| r.label()).collect();
    assert_eq!(labels, ["GET /a", "GET /b?x={i}", "POST /c", "DELETE /d"]);
    assert!(spec.load.requests.iter().all(|r| r.body.is_none()));
}

#[test]
fn relative_paths_resolve_against_the_spec_folder() {
    let fx = Fixture::new();
    let root = fx.root();
    // `..` and `.` are folded away; cwd defaults to the script's folder.
    let spec = fx
        .parse("app:\n  script: ./../app/./server.js\nload: {requests: [/]}\n")
        .unwrap();
    assert_eq!(spec.app.script, Some(root.join("app/server.js")));
    assert_eq!(spec.app.cwd, root.join("app"));
    assert!(spec.app.script.as_ref().unwrap().is_absolute() && spec.app.cwd.is_absolute());

    // Absolute paths are kept.
    let script = root.join("app/server.js");
    let source = format!(
        "app:\n  script: {}\n  cwd: {}\nload: {{requests: [/]}}\n",
        script.display(),
        root.display()
    );
    let spec = fx.parse(&source).unwrap();
    assert_eq!(spec.app.script, Some(script));
    assert_eq!(spec.app.cwd, root);
}

#[test]
fn load_spec_reads_the_file_and_checks_the_script() {
    let fx = Fixture::new();
    std::fs::write(fx.spec_file(), MINIMAL).unwrap();
    let spec = load_spec(&fx.spec_file()).unwrap();
    assert_eq!(spec.app.script, Some(fx.root().join("app/server.js")));

    std::fs::remove_file(fx.root().join("app/server.js")).unwrap();
    let err = load_spec(&fx.spec_file()).unwrap_err().to_string();
    assert!(
        err.contains(":2:11: app.script `../app/server.js` does not exist (resolved to "),
        "{err}"
    );

    let missing = fx.root().join("specs/missing.yaml");
    let err = load_spec(&missing).unwrap_err();
    assert!(matches!(err, SpecError::Io { .. }));
    assert!(err
        .to_string()
        .starts_with(&format!("{}:1:1: cannot read: ", missing.display())));
}

#[test]
fn durations() {
    assert_eq!(parse_duration("15s"), Some(Duration::from_secs(15)));
    assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
    assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
    assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
    assert_eq!(parse_duration("7"), Some(Duration::from_secs(7)));
    assert_eq!(parse_duration("1.5"), Some(Duration::from_millis(1500)));
    assert_eq!(parse_duration("2 s"), Some(Duration::from_secs(2)));
    for bad in [
        "",
        "0",
        "0s",
        "s",
        "-1s",
        "1x",
        "1e3",
        "nan",
        "inf",
        "1..2s",
        "99999999999999999999999h",
    ] {
        assert_eq!(parse_duration(bad), None, "{bad}");
    }
}

#[test]
fn expectation_display_and_serialize() {
    assert_eq!(Expectation::Clean.to_string(), "clean");
    assert_eq!(Expectation::Leak.to_string(), "leak");
    assert_eq!(
        serde_json::to_string(&Expectation::Leak).unwrap(),
        "\"leak\""
    );
    assert_eq!(
        serde_json::to_string(&Expectation::Clean).unwrap(),
        "\"clean\""
    );
}

#[test]
fn discover_expands_folders_recursively_and_sorted() {
    let fx = Fixture::new();
    let specs = fx.root().join("specs");
    for name in [
        "b.yaml",
        "a.yml",
        "nested/c.yaml",
        ".hidden/d.yaml",
        "notes.txt",
        ".e.yaml",
    ] {
        let path = specs.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "").unwrap();
    }
    let single = fx.root().join("app/server.js");
    let found = discover(&[single.clone(), specs.clone(), specs.join("b.yaml")]).unwrap();
    assert_eq!(
        found,
        [
            single,
            specs.join("a.yml"),
            specs.join("b.yaml"),
            specs.join("nested/c.yaml")
        ]
    );

    let missing = fx.root().join("nope");
    let err = discover(std::slice::from_ref(&missing)).unwrap_err();
    assert!(err
        .to_string()
        .starts_with(&format!("{}:1:1: cannot read: ", missing.display())));

    let empty = fx.root().join("app/data");
    let err = discover(std::slice::from_ref(&empty)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:1:1: no *.yaml or *.yml spec files in this folder",
            empty.display()
        )
    );
}

#[test]
fn allow_entries_are_read_and_checked() {
    let fx = Fixture::new();
    let spec = fx
        .parse(&minimal_with(
            "assert:\n  allow:\n    - holder: cache\n      class: Object\n      max_per_1k_requests: 1200\n    - {holder: log, site: server.js:20, max_bytes_per_request: 40, thread: ./worker.js}\n",
        ))
        .unwrap();
    let allow = &spec.assert.allow;
    assert_eq!(allow.len(), 2);
    assert_eq!(allow[0].holder, "cache");
    assert_eq!(allow[0].class.as_deref(), Some("Object"));
    assert_eq!(allow[0].max_per_1k_requests, Some(1200.0));
    assert_eq!(allow[0].max_bytes_per_request, None);
    assert_eq!(allow[1].site.as_deref(), Some("server.js:20"));
    assert_eq!(allow[1].max_bytes_per_request, Some(40.0));
    assert_eq!(allow[0].thread, None);
    assert_eq!(allow[1].thread.as_deref(), Some("./worker.js"));

    let unknown = fx.error(&minimal_with(
        "assert:\n  allow:\n    - {holder: cache, max_per_1k: 5}\n",
    ));
    assert!(
        unknown.contains("unknown key `max_per_1k`")
            && unknown.contains(
                "valid keys: holder, class, site, max_per_1k_requests, max_bytes_per_request, thread"
            ),
        "{unknown}"
    );
    assert!(unknown.starts_with("7:"), "{unknown}");
    let negative = fx.error(&minimal_with(
        "assert:\n  allow:\n    - {holder: cache, max_per_1k_requests: -1}\n",
    ));
    assert!(
        negative.contains(
            "`assert.allow[].max_per_1k_requests` must be a finite number, 0 or more (found -1)"
        ),
        "{negative}"
    );
    let missing = fx.error(&minimal_with("assert:\n  allow:\n    - {class: Object}\n"));
    assert!(missing.contains("holder"), "{missing}");
    let empty = fx.error(&minimal_with("assert:\n  allow:\n    - {holder: \" \"}\n"));
    assert!(
        empty.contains("`assert.allow[].holder` must name"),
        "{empty}"
    );
    let no_thread = fx.error(&minimal_with(
        "assert:\n  allow:\n    - {holder: cache, thread: \"\"}\n",
    ));
    assert!(
        no_thread.contains("`assert.allow[].thread` must be `main` or a worker's script"),
        "{no_thread}"
    );
}
