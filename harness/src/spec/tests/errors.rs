//! Bad specs: each mistake is an error naming its file, line and column and the valid choices,
//! never a panic.

use super::*;

/// Each rejected spec, with the exact `LINE:COLUMN: message` it must produce.
#[test]
fn errors_point_at_the_offending_key_or_value() {
    let fx = Fixture::new();
    let cases: Vec<(String, String)> = vec![
        ("".into(), "1:1: the spec is empty; it needs at least `app.script` and `load.requests`".into()),
        ("# nothing\n---\n".into(), "1:1: the spec is empty; it needs at least `app.script` and `load.requests`".into()),
        (
            "app:\n  script: ../app/server.js\n  scrpt: x\nload: {requests: [/]}\n".into(),
            "3:3: unknown key `scrpt` in `app`; valid keys: script, command, cwd, env, node_args, ready, port".into(),
        ),
        (
            minimal_with("chekpoints: [1, 2, 3]\n"),
            "5:1: unknown key `chekpoints` at the top level; valid keys: name, app, load, checkpoints, max_requests, assert, expect, slow, report_snapshot, explain".into(),
        ),
        (
            minimal_with("max_requests: 5000\n"),
            "5:15: `max_requests` must be at least the last checkpoint, 6000 (found 5000); set it to 6000 to never extend a run".into(),
        ),
        (
            "app: {script: ../app/server.js}\nload:\n  requests:\n    - {path: /o, jsn: 1}\n".into(),
            "4:18: unknown key `jsn` in `load.requests[0]`; valid keys: method, path, headers, json, body, status, capture".into(),
        ),
        (
            "app: {script: ../app/server.js}\nload:\n  requests:\n    - {path: /o, status: 4x}\n".into(),
            "4:26: `load.requests[0].status` must be a status code from 100 to 599, a class (1xx, 2xx, 3xx, 4xx, 5xx) or a list of them (found `\"4x\"`)".into(),
        ),
        (
            "app: {script: ../app/server.js}\nload:\n  requests:\n    - {path: /o, status: [200, 700]}\n".into(),
            "4:26: `load.requests[0].status` must be a status code from 100 to 599, a class (1xx, 2xx, 3xx, 4xx, 5xx) or a list of them (found `[200,700]`)".into(),
        ),
        (
            "app: {script: ../app/server.js}\nload:\n  flow:\n    - {path: /login, capture: {token: json.token}}\n    - {path: \"/use/{tokn}\"}\n".into(),
            "5:7: `load.flow[1]` uses `{tokn}`, which no earlier step captures; valid placeholders here: i, uuid, random, and captured before this step: token".into(),
        ),
        (
            "app: {script: ../app/server.js}\nload:\n  requests:\n    - {path: /login, capture: {token: json.token}}\n".into(),
            "4:22: `load.requests[0].capture` needs a flow: captured values belong to one virtual user, so list the requests under `load.flow` instead of `load.requests`".into(),
        ),
        (
            "app: {script: ../app/server.js}\nload:\n  flow:\n    - {path: /login, capture: {token: body.token}}\n".into(),
            "4:39: `load.flow[0].capture.token` must be json.FIELD (a dotted path, e.g. json.user.id), header.NAME or cookie.NAME (found `body.token`)".into(),
        ),
        (
            "app: {script: ../app/server.js}\nload:\n  flow:\n    - {path: /login, capture: {uuid: json.token}}\n".into(),
            "4:32: capture name `uuid` must be letters, digits or `_`, and not one of the built-in placeholders (i, uuid, random)".into(),
        ),
        (
            "app: {script: ../app/server.js}\nload:\n  requests: [/]\n  flow: [/]\n".into(),
            "4:3: `load` has `requests` and `flow`; keep one: `requests`, `flow` and `script` are exclusive".into(),
        ),
        (
            "app: {script: ../app/server.js}\nload:\n  cookies: true\n".into(),
            "2:1: `load` needs one of `requests` (request templates, cycled), `flow` (a sequence of requests per virtual user) or `script` (a module run once per iteration)".into(),
        ),
        (
            "app: {script: ../app/server.js}\nload:\n  script: ./nope.mjs\n".into(),
            format!("3:11: load.script `./nope.mjs` does not exist (resolved to {})", fx.root().join("specs/nope.mjs").display()),
        ),
        (
            minimal_with("checkpoints: [10, 30, 50]\n"),
            "5:1: `checkpoints` are too close for `assert.max_survivors_per_1k_requests` (5): a class leaking at that rate leaves 0.05 objects in the smallest interval (10 requests), so one stray object would read as a leak; use intervals of at least 1000 requests, e.g. `checkpoints: [1000, 2000, 3000]`".into(),
        ),
        (
            "app: {script: ../app/server.js}\nload:\n  requests: [/]\n  max_failure_rate: 5\n".into(),
            "4:21: `load.max_failure_rate` must be a fraction from 0 to 1, e.g. 0.05 for 5% (found 5)".into(),
        ),
        (
            minimal_with("assert: {max_heap: 1}\n"),
            "5:10: unknown key `max_heap` in `assert`; valid keys: max_heap_bytes_per_request, max_array_buffer_bytes_per_request, max_survivors_per_1k_requests, ignore_classes, allow".into(),
        ),
        ("app:\n  port: 3\nload: {requests: [/]}\n".into(), "1:1: `app` needs `script` (a file run with node) or `command` (e.g. `npm start`, or a list like [node, --import, tsx, src/server.ts])".into()),
        (
            "app:\n  script: ../app/server.js\n  command: npm start\nload: {requests: [/]}\n".into(),
            "3:12: `app` has both `script` and `command`; keep one (`script` runs `node [node_args] SCRIPT`, `command` runs the app as its team does, e.g. `npm start`)".into(),
        ),
        (
            "app:\n  command: [node, {a: 1}]\nload: {requests: [/]}\n".into(),
            "2:12: `app.command` must be a non-empty string run by the shell (e.g. \"npm start\") or a non-empty list of strings (e.g. [node, --import, tsx, src/server.ts])".into(),
        ),
        (
            "app:\n  command: npm start\n  node_args: [--inspect]\nload: {requests: [/]}\n".into(),
            "3:3: `app.node_args` applies to `script`; with `command`, put node flags in the command itself or in `app.env.NODE_OPTIONS`".into(),
        ),
        ("app: {script: ../app/server.js}\n".into(), "1:1: missing required key `load`".into()),
        (
            "app: {script: ../app/server.js}\nload:\n  requests:\n    - method: GET\n".into(),
            "4:7: missing required key `path` in `load.requests[0]`".into(),
        ),
        (
            "app:\n  script: ../app/server.js\n  port: abc\nload: {requests: [/]}\n".into(),
            "3:9: `app.port` must be an integer from 0 to 65535 (found `abc`)".into(),
        ),
        (
            "app:\n  script: ../app/server.js\n  port: 0\nload: {requests: [/]}\n".into(),
            "3:9: `app.port` must be from 1 to 65535 (leave it out to get a free port in PORT)".into(),
        ),
        (minimal_with("slow: maybe\n"), "5:7: `slow` must be true or false (found `maybe`)".into()),
        (
            minimal_with("explain: sometimes\n"),
            "5:10: `explain` must be one of: auto, always, never, runs (found `sometimes`)".into(),
        ),
        (minimal_with("checkpoints: 5\n"), "5:14: `checkpoints` must be a list (found `5`)".into()),
        (
            "app: {script: ../app/server.js}\nload:\n  warmup: -1\n  requests: [/]\n".into(),
            "3:11: `load.warmup` must be a whole number, 0 or more (found `-1`)".into(),
        ),
        (
            minimal_with("checkpoints: [1000, 2000]\n"),
            "5:1: `checkpoints` needs at least 3 entries to measure growth (found 2)".into(),
        ),
        (
            minimal_with("checkpoints: [2000, 4000, 4000]\n"),
            "5:27: `checkpoints` must increase: 4000 comes after 4000".into(),
        ),
        (
            minimal_with("checkpoints:\n  - 3000\n  - 2000\n  - 4000\n"),
            "7:5: `checkpoints` must increase: 2000 comes after 3000".into(),
        ),
        (
            minimal_with("checkpoints: [0, 1, 2]\n"),
            "5:15: `checkpoints` entries must be at least 1 (they count measured requests after warm-up)".into(),
        ),
        (
            minimal_with("checkpoints: [1, x, 2]\n"),
            "5:18: `checkpoints[1]` must be a whole number, 0 or more (found `x`)".into(),
        ),
        (
            "app: {script: ../app/server.js}\nload:\n  concurrency: 0\n  requests: [/]\n".into(),
            "3:16: `load.concurrency` must be from 1 to 1024 (found 0)".into(),
        ),
        (
            "app: {script: ../app/server.js}\nload:\n  concurrency: 1025\n  requests: [/]\n".into(),
            "3:16: `load.concurrency` must be from 1 to 1024 (found 1025)".into(),
        ),
        (
            "app: {script: ../app/server.js}\nload:\n  requests: []\n".into(),
            "3:3: `load.requests` must list at least one request, e.g. \"GET /\"".into(),
        ),
        (
            "app: {script: ../app/server.js}\nload:\n  requests: [GET items]\n".into(),
            "3:14: `load.requests[0]` must start with `/` and contain no spaces (found `items`)".into(),
        ),
        (
            "app: {script: ../app/server.js}\nload:\n  requests:\n    - {path: items}\n".into(),
            "4:14: `load.requests[0].path` must start with `/` and contain no spaces (found `items`)".into(),
        ),
        (
            "app: {script: ../app/server.js}\nload:\n  requests: [GET / extra]\n".into(),
            "3:14: request `GET / extra` must be \"METHOD /path\" or \"/path\"".into(),
        ),
        (
            "app: {script: ../app/server.js}\nload:\n  requests:\n    - {path: /o, json: {a: 1}, body: x}\n".into(),
            "4:32: `load.requests[0]` has both `json` and `body`; keep one".into(),
        ),
        (
            "app: {script: ../app/server.js}\nload:\n  requests: [FETCH /a]\n".into(),
            "3:14: unknown method `FETCH`; valid methods: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS".into(),
        ),
        (
            "app: {script: ../app/server.js}\nload:\n  requests:\n    - {method: fetch, path: /a}\n".into(),
            "4:16: unknown method `fetch`; valid methods: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS".into(),
        ),
        (
            "app: {script: ../app/server.js}\nload:\n  requests:\n    - {path: /a, headers: {bad name: x}}\n".into(),
            "4:28: header `bad name` must be a valid HTTP header name with a one-line value".into(),
        ),
        (
            "app: {script: ../app/server.js}\nload:\n  requests:\n    - 5\n".into(),
            "4:7: `load.requests[0]` must be a request: \"METHOD /path\" or a mapping with `path` (found integer `5`)".into(),
        ),
        (
            "app: {script: ../app/server.js}\nload:\n  timeout: soon\n  requests: [/]\n".into(),
            "3:12: `load.timeout` must be a positive duration like 15s, 500ms, 2m or a number of seconds (found `soon`)".into(),
        ),
        (
            "app:\n  script: ../app/server.js\n  ready: {path: health}\nload: {requests: [/]}\n".into(),
            "3:17: `app.ready.path` must start with `/` and contain no spaces (found `health`)".into(),
        ),
        (
            minimal_with("assert:\n  max_heap_bytes_per_request: -1\n"),
            "6:31: `assert.max_heap_bytes_per_request` must be a finite number, 0 or more (found -1)".into(),
        ),
        (
            minimal_with("assert:\n  max_survivors_per_1k_requests: .nan\n"),
            "6:34: `assert.max_survivors_per_1k_requests` must be a finite number, 0 or more (found NaN)".into(),
        ),
        (
            minimal_with("assert:\n  max_array_buffer_bytes_per_request: lots\n"),
            "6:39: `assert.max_array_buffer_bytes_per_request` must be a number (found `lots`)".into(),
        ),
        (minimal_with("expect: leaky\n"), "5:9: `expect` must be one of: clean, leak (found `leaky`)".into()),
        (
            "app:\n  script: ../nope.js\nload: {requests: [/]}\n".into(),
            format!(
                "2:11: app.script `../nope.js` does not exist (resolved to {})",
                fx.root().join("nope.js").display()
            ),
        ),
        (
            "app:\n  script: ../app\nload: {requests: [/]}\n".into(),
            format!(
                "2:11: app.script `../app` is not a file (resolved to {})",
                fx.root().join("app").display()
            ),
        ),
        (
            "app:\n  script: ../app/server.js\n  cwd: ../nowhere\nload: {requests: [/]}\n".into(),
            format!(
                "3:8: app.cwd `../nowhere` is not a folder (resolved to {})",
                fx.root().join("nowhere").display()
            ),
        ),
        (
            "app:\n  script: ../app/server.js\n  env: {A: ~}\nload: {requests: [/]}\n".into(),
            "3:9: the spec must be a string: quote numbers and booleans in `app.env` (\"1\", \"true\") (found null)".into(),
        ),
        (minimal_with("name: ''\n"), "5:7: `name` must be non-empty, on one line, without `/` or `\\`".into()),
        (minimal_with("slow: true\nslow: false\n"), "6:1: duplicate key `slow`".into()),
        ("- app\n".into(), "1:1: the spec must be a mapping".into()),
    ];
    let mut failures = Vec::new();
    for (source, expected) in &cases {
        let actual = fx.error(source);
        if &actual != expected {
            failures.push(format!(
                "source:\n{source}\nexpected: {expected}\nactual:   {actual}\n"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn syntax_errors_are_one_line_with_a_position() {
    let fx = Fixture::new();
    let err = fx
        .parse("app: {script: ../app/server.js}\nload:\n  requests: [\"GET /\"\n")
        .unwrap_err();
    assert!(matches!(err, SpecError::Syntax { .. }), "{err}");
    let text = err.to_string();
    assert!(!text.contains('\n'), "{text}");
    assert_eq!(err.position().0, 3, "{text}");
}

#[test]
fn hostile_input_is_an_error_not_a_panic() {
    let fx = Fixture::new();
    let sources = [
        format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000)),
        format!("app: {}1{}", "{a: ".repeat(100_000), "}".repeat(100_000)),
        (0..1000)
            .map(|i| format!("{}a:\n", " ".repeat(i)))
            .collect(),
        format!(
            "{MINIMAL}assert:\n  ignore_classes:\n{}",
            (0..40)
                .map(|i| format!("{}- \n", " ".repeat(4 + 2 * i)))
                .collect::<String>()
        ),
        "a: &x [*x]\n".into(),
        "a: *nope\n".into(),
        "\u{feff}app: 1\n".into(),
        "app: !!binary aGVsbG8=\n".into(),
        "? [a]\n: 1\n".into(),
        "app: {script: \"\\u0000\"}\nload: {requests: [/]}\n".into(),
        "app:\n\tscript: x\n".into(),
        "%YAML 9.9\n---\na: 1\n".into(),
        "a: 1\n---\nb: 2\n".into(),
        "\"\\xff\": [".into(),
        minimal_with("checkpoints: [18446744073709551616, 1, 2]\n"),
        minimal_with("assert: {max_heap_bytes_per_request: 1e999}\n"),
        "app: {script: ../app/server.js}\nload: {requests: [/], timeout: 1e300s}\n".into(),
    ];
    for source in &sources {
        let err = fx.parse(source).expect_err(source);
        assert!(!err.to_string().contains('\n'), "{err}");
    }
}

#[test]
fn run_lengths_are_bounded() {
    let f = Fixture::new();
    let base = "app: {script: ../app/server.js}\nload:\n  requests: [\"GET /\"]\n";
    let err = f.error(&format!("{base}  warmup: 18446744073709551615\n"));
    assert!(
        err.starts_with("4:11: `load.warmup` must be at most 10000000"),
        "{err}"
    );
    let err = f.error(&format!(
        "{base}checkpoints: [1000000000000, 2000000000000, 3000000000000]\n"
    ));
    assert!(
        err.starts_with("4:15: `checkpoints` entries must be at most 10000000"),
        "{err}"
    );
    let many: Vec<String> = (1..=101).map(|n| n.to_string()).collect();
    let err = f.error(&format!("{base}checkpoints: [{}]\n", many.join(", ")));
    assert!(err.contains("at most 100 entries (found 101)"), "{err}");
}

#[test]
fn request_templates_are_checked_before_anything_runs() {
    let f = Fixture::new();
    let spec = |request: &str| {
        format!("app: {{script: ../app/server.js}}\nload:\n  requests:\n    - {request}\n")
    };
    let err = f.error(&spec("\"GET /items/{j}\""));
    assert!(
        err.starts_with("4:7: `load.requests[0]`: unknown placeholder `{j}`"),
        "{err}"
    );
    let err = f.error(&spec("\"GET /a{b\""));
    assert!(err.contains("stray `{`"), "{err}");
    let err = f.error(&spec("\"GET /a<b\""));
    assert!(err.contains("`<` is not allowed in a URI"), "{err}");
    let err = f.error(&spec("{path: /, headers: {x-id: \"{id}\"}}"));
    assert!(
        err.contains("header `x-id`: unknown placeholder `{id}`"),
        "{err}"
    );
    let err = f.error(&spec("{path: /, json: {order: \"{n}\"}}"));
    assert!(
        err.contains("`load.requests[0].json`: unknown placeholder `{n}`"),
        "{err}"
    );
    // Braces that are not placeholders are literal in bodies.
    assert!(f
        .parse(&spec("{method: POST, path: /, body: '{\"a\": \"{i}\"}'}"))
        .is_ok());
}

#[test]
fn env_values_must_be_strings_and_one_document_per_file() {
    let f = Fixture::new();
    let err = f.error(
        "app:\n  script: ../app/server.js\n  env:\n    WORKERS: 4\nload: {requests: [\"GET /\"]}\n",
    );
    assert!(err.starts_with("4:5: `app.env` must be a string"), "{err}");
    assert!(f
        .parse("app:\n  script: ../app/server.js\n  env:\n    WORKERS: \"4\"\nload: {requests: [\"GET /\"]}\n")
        .is_ok());
    let err =
        f.error("app: {script: ../app/server.js}\nload: {requests: [\"GET /\"]}\n---\nname: b\n");
    assert!(err.starts_with("4:1: a spec is one YAML document"), "{err}");
}

#[test]
fn inspector_flags_beyond_the_loopback_are_refused_where_they_are_written() {
    let fx = Fixture::new();
    let cases = [
        (
            "app:\n  script: ../app/server.js\n  node_args: [--enable-source-maps, \"--inspect=0.0.0.0:39229\"]\nload: {requests: [/]}\n",
            "3:37: `app.node_args` has `--inspect=0.0.0.0:39229`, which opens the V8 inspector on `0.0.0.0`",
        ),
        (
            "app:\n  script: ../app/server.js\n  node_args:\n    - --inspect-port\n    - 0.0.0.0:0\nload: {requests: [/]}\n",
            "4:7: `app.node_args` has `--inspect-port 0.0.0.0:0`, which opens the V8 inspector on `0.0.0.0`",
        ),
        (
            "app:\n  command: [node, \"--inspect-brk=[::]:9229\", server.js]\nload: {requests: [/]}\n",
            "2:19: `app.command` has `--inspect-brk=[::]:9229`, which opens the V8 inspector on `::`",
        ),
        (
            "app:\n  command: node --inspect=10.0.0.2 server.js\nload: {requests: [/]}\n",
            "2:12: `app.command` has `--inspect=10.0.0.2`, which opens",
        ),
        (
            "app:\n  script: ../app/server.js\n  env: {NODE_OPTIONS: \"--inspect-port=0.0.0.0:0\"}\nload: {requests: [/]}\n",
            "3:23: `app.env.NODE_OPTIONS` has `--inspect-port=0.0.0.0:0`, which opens",
        ),
        (
            "app:\n  script: ../app/server.js\n  node_args: [--inspect-publish-uid=http]\nload: {requests: [/]}\n",
            "3:15: `app.node_args` has `--inspect-publish-uid=http`, which lists the inspector session's id",
        ),
    ];
    for (source, start) in cases {
        let error = fx.error(source);
        assert!(error.starts_with(start), "{error}\nwanted: {start}");
        assert!(
            error.contains("127.0.0.1") || error.contains("=stderr"),
            "names the allowed form: {error}"
        );
    }
    let loopback = "app:\n  script: ../app/server.js\n  node_args: [\"--inspect=127.0.0.1:9229\", --inspect-port=0]\nload: {requests: [/]}\n";
    assert!(fx.parse(loopback).is_ok());
}
