//! Live tests of the app process and the inspector client against real Node processes.

mod common;

use common::{apps_dir, runtime};

use std::path::Path;
use std::time::{Duration, Instant};

use leakgate::app::{self, AppConfig, AppError, AppProcess, PrepareOutcome};
use leakgate::inspector::{Inspector, InspectorError, SnapshotTransport};

fn config(script: &str) -> AppConfig {
    let mut cfg = AppConfig::new(script, apps_dir());
    cfg.ready_timeout = Duration::from_secs(20);
    cfg
}

/// `true` while `pid` is a running (not zombie) process.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !(state.starts_with('Z') || state.starts_with('X'))
        }
        Err(_) => false,
    }
}

/// `true` when `pid` no longer exists at all (not even as a zombie).
fn gone(pid: u32) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let began = Instant::now();
    while !done() {
        assert!(began.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Takes one snapshot of hello.js, after running `prepare` in the app, and returns how it
/// came, its file's mode and the graph read from it.
fn snapshot_of_hello(prepare: &str) -> (SnapshotTransport, u32, leakgate::snapshot::HeapGraph) {
    use std::os::unix::fs::PermissionsExt;
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let app = AppProcess::start(&config("hello.js"))
            .await
            .expect("hello starts");
        let mut inspector = Inspector::connect(app.inspector_url()).await.unwrap();
        inspector.evaluate(prepare).await.unwrap();
        let out = dir.path().join("hello.heapsnapshot");
        let (written, transport) = inspector.take_heap_snapshot_by(&out).await.unwrap();
        let meta = std::fs::metadata(&out).unwrap();
        assert_eq!(written, meta.len());
        let graph = leakgate::snapshot::read_file(&out).unwrap();
        // The second snapshot goes the same way.
        let again = dir.path().join("again.heapsnapshot");
        let (_, second) = inspector.take_heap_snapshot_by(&again).await.unwrap();
        assert_eq!(second, transport);
        inspector.close().await.unwrap();
        let _ = app.shutdown().await;
        (transport, meta.permissions().mode() & 0o777, graph)
    })
}

#[test]
fn snapshots_are_written_in_the_app_when_node_can_and_streamed_otherwise() {
    // Node >= 20.16 has process.getBuiltinModule: V8 writes the file in the app.
    let (transport, mode, in_process) = snapshot_of_hello("1");
    assert_eq!(transport, SnapshotTransport::InProcess);
    assert_eq!(mode, 0o600, "in-process snapshot mode {mode:o}");
    // Without it (older Node), the snapshot is streamed over the WebSocket.
    let (transport, mode, streamed) = snapshot_of_hello("process.getBuiltinModule = undefined");
    assert_eq!(transport, SnapshotTransport::WebSocket);
    assert_eq!(mode, 0o600, "streamed snapshot mode {mode:o}");
    // Both are whole snapshots of the same app.
    for graph in [&in_process, &streamed] {
        assert!(graph.node_count() > 10_000, "{} nodes", graph.node_count());
        assert!(graph.max_heap_id() > 0);
    }
    let ratio = in_process.node_count() as f64 / streamed.node_count() as f64;
    assert!((0.8..1.25).contains(&ratio), "{ratio}");
}

#[test]
fn hello_inspector_gc_snapshot_and_memory() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config("hello.js");
        cfg.ready_path = Some("/health".into());
        cfg.log_path = Some(dir.path().join("app.log"));
        let mut app = AppProcess::start(&cfg).await.expect("hello starts");
        assert!(app.inspector_url().starts_with("ws://127.0.0.1:"));
        assert!(app.port() > 0);
        app.check_alive().expect("hello is alive");

        let mut inspector = Inspector::connect(app.inspector_url()).await.unwrap();
        inspector.collect_garbage().await.unwrap();

        let usage = inspector.memory_usage().await.unwrap();
        assert!(usage.heap_used > 1_000_000, "{usage:?}");
        assert!(usage.heap_used <= usage.heap_total, "{usage:?}");
        assert!(usage.rss > usage.heap_used, "{usage:?}");
        assert!(usage.array_buffers <= usage.external, "{usage:?}");

        let out = dir.path().join("hello.heapsnapshot");
        let written = inspector.take_heap_snapshot(&out).await.unwrap();
        let bytes = std::fs::read(&out).unwrap();
        assert_eq!(written, bytes.len() as u64);
        assert!(written > 1_000_000, "snapshot of {written} bytes");
        assert!(bytes.starts_with(br#"{"snapshot":{"meta":"#));
        let parsed: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert!(parsed["nodes"].as_array().is_some_and(|n| !n.is_empty()));

        // A second snapshot on the same connection works too.
        let again = inspector
            .take_heap_snapshot(&dir.path().join("again.heapsnapshot"))
            .await
            .unwrap();
        assert!(again > 1_000_000);

        assert_eq!(inspector.evaluate("6 * 7").await.unwrap(), 42);
        assert_eq!(
            inspector
                .evaluate("Promise.resolve('later')")
                .await
                .unwrap(),
            "later"
        );
        assert_eq!(
            inspector.evaluate("undefined").await.unwrap(),
            serde_json::Value::Null
        );
        match inspector.evaluate("throw new Error('boom')").await {
            Err(InspectorError::Exception { text }) => assert!(text.contains("boom"), "{text}"),
            other => panic!("expected an exception, got {other:?}"),
        }
        match inspector.call("NoSuch.method", serde_json::json!({})).await {
            Err(InspectorError::Protocol { method, .. }) => assert_eq!(method, "NoSuch.method"),
            other => panic!("expected a protocol error, got {other:?}"),
        }
        // The connection is still usable after errors.
        assert_eq!(inspector.evaluate("1 + 1").await.unwrap(), 2);
        inspector.close().await.unwrap();

        assert!(app.log_tail(10).contains("hello listening on"));
        let pid = app.pid();
        app.shutdown().await.unwrap();
        assert!(gone(pid), "node {pid} still there after shutdown");
        let logged = std::fs::read_to_string(dir.path().join("app.log")).unwrap();
        assert!(logged.contains("Debugger listening on ws://"), "{logged}");
        assert!(logged.contains("hello listening on"), "{logged}");
    });
}

#[test]
fn inspector_reports_a_closed_connection_when_the_app_dies() {
    runtime().block_on(async {
        let app = AppProcess::start(&config("hello.js")).await.unwrap();
        let mut inspector = Inspector::connect(app.inspector_url()).await.unwrap();
        drop(app);
        match inspector.collect_garbage().await {
            Err(InspectorError::Closed | InspectorError::WebSocket { .. }) => {}
            other => panic!("expected a closed connection, got {other:?}"),
        }
    });
}

#[test]
fn crash_at_boot_is_exited_with_code_and_output() {
    runtime().block_on(async {
        let err = AppProcess::start(&config("crash.js")).await.unwrap_err();
        match &err {
            AppError::Exited {
                code: Some(3),
                signal: None,
                before_ready: true,
                log_tail,
            } => assert!(log_tail.contains("missing DATABASE_URL"), "{log_tail}"),
            other => panic!("expected Exited with code 3, got {other:?}"),
        }
        let text = err.to_string();
        assert!(
            text.starts_with("the app exited with code 3 before it was ready"),
            "{text}"
        );
    });
}

#[test]
fn an_app_that_never_listens_is_never_ready() {
    runtime().block_on(async {
        let mut cfg = config("never-listens.js");
        cfg.ready_timeout = Duration::from_millis(800);
        let began = Instant::now();
        match AppProcess::start(&cfg).await.unwrap_err() {
            AppError::NeverReady {
                timeout, log_tail, ..
            } => {
                assert_eq!(timeout, Duration::from_millis(800));
                assert!(log_tail.contains("never-listens: idling"), "{log_tail}");
            }
            other => panic!("expected NeverReady, got {other:?}"),
        }
        assert!(began.elapsed() < Duration::from_secs(8));
    });
}

#[test]
fn a_ready_path_must_answer_2xx() {
    runtime().block_on(async {
        let mut cfg = config("hello.js");
        cfg.ready_path = Some("missing".into());
        cfg.ready_timeout = Duration::from_millis(600);
        match AppProcess::start(&cfg).await.unwrap_err() {
            AppError::NeverReady {
                waiting_for,
                last_attempt,
                ..
            } => {
                assert!(waiting_for.contains("/missing"), "{waiting_for}");
                assert!(last_attempt.contains("404"), "{last_attempt}");
            }
            other => panic!("expected NeverReady, got {other:?}"),
        }
    });
}

#[test]
fn check_alive_notices_an_exit() {
    runtime().block_on(async {
        let mut app = AppProcess::start(&config("hello.js")).await.unwrap();
        app.check_alive().unwrap();
        let _ = exit_via_http(app.port(), 5).await;
        wait_until("the app to exit", Duration::from_secs(10), || {
            app.check_alive().is_err()
        });
        match app.check_alive() {
            Err(AppError::Exited {
                code: Some(5),
                before_ready: false,
                ..
            }) => {}
            other => panic!("expected Exited with code 5, got {other:?}"),
        }
    });
}

/// Asks hello.js to exit with `code`.
async fn exit_via_http(port: u16, code: i32) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let request = format!("GET /exit?code={code} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.map(|_| ())
}

#[test]
fn an_app_ending_under_the_inspector_is_reported_and_released() {
    runtime().block_on(async {
        let mut app = AppProcess::start(&config("hello.js")).await.unwrap();
        let mut inspector = Inspector::connect(app.inspector_url()).await.unwrap();
        let _ = exit_via_http(app.port(), 7).await;
        // Node holds the process while the inspector is attached.
        wait_until(
            "node to wait for the debugger",
            Duration::from_secs(10),
            || app.check_alive().is_err(),
        );
        match app.check_alive() {
            Err(
                err @ AppError::Exited {
                    code: None,
                    signal: None,
                    ..
                },
            ) => assert!(err.to_string().contains("inspector disconnects"), "{err}"),
            other => panic!("expected Exited without a code, got {other:?}"),
        }
        // The next call learns that the app ended and lets go of it.
        match inspector.collect_garbage().await {
            Err(InspectorError::AppEnded) => {}
            other => panic!("expected AppEnded, got {other:?}"),
        }
        assert!(matches!(
            inspector.memory_usage().await,
            Err(InspectorError::AppEnded)
        ));
        wait_until("the app to exit", Duration::from_secs(10), || {
            matches!(
                app.check_alive(),
                Err(AppError::Exited { code: Some(_), .. })
            )
        });
        match app.check_alive() {
            Err(AppError::Exited { code: Some(7), .. }) => {}
            other => panic!("expected Exited with code 7, got {other:?}"),
        }
    });
}

#[test]
fn dropping_the_process_kills_and_reaps_node() {
    let pid = runtime().block_on(async {
        let app = AppProcess::start(&config("hello.js")).await.unwrap();
        let pid = app.pid();
        assert!(alive(pid));
        drop(app);
        pid
    });
    assert!(gone(pid), "node {pid} left behind after drop");
}

#[test]
fn a_panicking_thread_leaves_no_node_behind() {
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        runtime().block_on(async {
            let app = AppProcess::start(&config("hello.js")).await.unwrap();
            tx.send(app.pid()).unwrap();
            panic!("a test failing while the app runs");
        })
    });
    assert!(thread.join().is_err());
    let pid = rx.recv().unwrap();
    assert!(gone(pid), "node {pid} left behind after a panic");
}

#[test]
fn node_dies_with_the_spawning_thread_even_without_drop() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        runtime().block_on(async {
            let app = AppProcess::start(&config("hello.js")).await.unwrap();
            tx.send(app.pid()).unwrap();
            // As if leakgate were killed: no destructor runs.
            std::mem::forget(app);
        })
    })
    .join()
    .unwrap();
    let pid = rx.recv().unwrap();
    wait_until("the kernel to kill node", Duration::from_secs(10), || {
        !alive(pid)
    });
    // Nobody reaps a forgotten child: do it here.
    let mut status = 0;
    // SAFETY: waitpid on our own child with a valid status pointer.
    unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
    assert!(libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL);
}

#[test]
fn shutdown_also_ends_processes_the_app_started() {
    runtime().block_on(async {
        let app = AppProcess::start(&config("spawns-child.js")).await.unwrap();
        let mut grandchild = None;
        wait_until("the grandchild's pid", Duration::from_secs(10), || {
            grandchild = app
                .log_tail(50)
                .lines()
                .find_map(|l| l.strip_prefix("grandchild pid "))
                .and_then(|p| p.trim().parse::<u32>().ok());
            grandchild.is_some()
        });
        let grandchild = grandchild.unwrap();
        assert!(alive(grandchild));
        app.shutdown().await.unwrap();
        wait_until("the grandchild to die", Duration::from_secs(10), || {
            !alive(grandchild)
        });
    });
}

fn write_package(dir: &Path) {
    std::fs::write(
        dir.join("package.json"),
        r#"{"name":"prep","version":"1.0.0","private":true}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("package-lock.json"),
        r#"{
  "name": "prep",
  "version": "1.0.0",
  "lockfileVersion": 3,
  "requires": true,
  "packages": {
    "": { "name": "prep", "version": "1.0.0" }
  }
}
"#,
    )
    .unwrap();
}

#[test]
fn prepare_runs_npm_ci_once_across_threads() {
    let dir = tempfile::tempdir().unwrap();
    write_package(dir.path());
    let outcomes: Vec<PrepareOutcome> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| runtime().block_on(app::prepare(dir.path())).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let installed = outcomes
        .iter()
        .filter(|o| **o == PrepareOutcome::Installed)
        .count();
    assert_eq!(installed, 1, "{outcomes:?}");
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, PrepareOutcome::Installed | PrepareOutcome::UpToDate)));

    let rt = runtime();
    assert_eq!(
        rt.block_on(app::prepare(dir.path())).unwrap(),
        PrepareOutcome::UpToDate
    );
    // A newer lock file means node_modules is stale again.
    let lock = std::fs::File::options()
        .write(true)
        .open(dir.path().join("package-lock.json"))
        .unwrap();
    lock.set_modified(std::time::SystemTime::now() + Duration::from_secs(60))
        .unwrap();
    assert_eq!(
        rt.block_on(app::prepare(dir.path())).unwrap(),
        PrepareOutcome::Installed
    );
}

#[test]
fn prepare_without_a_lock_file_does_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let outcome = runtime().block_on(app::prepare(dir.path())).unwrap();
    assert_eq!(outcome, PrepareOutcome::NoLockfile);
    assert!(!dir.path().join("node_modules").exists());
}

#[test]
fn prepare_reports_npm_failures() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("package.json"), r#"{"name":"bad"}"#).unwrap();
    std::fs::write(dir.path().join("package-lock.json"), "{ not json").unwrap();
    match runtime().block_on(app::prepare(dir.path())) {
        Err(err @ AppError::NpmFailed { .. }) => {
            let AppError::NpmFailed { code, log_tail, .. } = &err else {
                unreachable!()
            };
            assert!(code.is_some_and(|c| c != 0), "{code:?}");
            assert!(!log_tail.is_empty());
            assert!(err.to_string().starts_with("`npm ci` failed in "), "{err}");
        }
        other => panic!("expected NpmFailed, got {other:?}"),
    }
}

#[test]
fn an_app_on_the_ipv6_loopback_is_found_there() {
    runtime().block_on(async {
        let app = AppProcess::start(&config("listen-ipv6.js"))
            .await
            .expect("ready");
        assert_eq!(app.addr().ip(), std::net::Ipv6Addr::LOCALHOST);
        assert_eq!(app.addr().port(), app.port());
        app.shutdown().await.expect("shutdown");
    });
}
