//! Live tests of how apps are started and found: by command (the inspector of the process
//! that serves the port), port ownership (a squatter is never measured), one app at a time on
//! a fixed port, an app that ignores PORT, and `cluster` apps refused with the reason.

mod common;

use common::{apps_dir, free_port, runtime};

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use leakgate::app::{AppCommand, AppConfig, AppError, AppProcess};
use leakgate::inspector::Inspector;

fn node_command(line: &str) -> AppConfig {
    let mut cfg = AppConfig::command(AppCommand::Shell(line.to_string()), apps_dir());
    cfg.ready_timeout = Duration::from_secs(20);
    cfg
}

#[test]
fn a_command_is_measured_in_the_process_that_serves_the_port() {
    runtime().block_on(async {
        // sh → node, both with NODE_OPTIONS=--inspect; a wrapper node process first, so that
        // the first inspector URL printed is not the app's.
        let wrapper = "node -e \"require('child_process').spawn(process.execPath, ['hello.js'], {stdio: 'inherit'})\"";
        let mut cfg = node_command(wrapper);
        cfg.ready_path = Some("/health".into());
        let app = AppProcess::start(&cfg).await.expect("the app starts");
        assert_ne!(app.serving_pid(), app.pid());
        let mut inspector = Inspector::connect(app.inspector_url()).await.unwrap();
        let pid = inspector.evaluate("process.pid").await.unwrap();
        assert_eq!(pid.as_u64(), Some(u64::from(app.serving_pid())));
        let script = inspector.evaluate("process.argv[1]").await.unwrap();
        assert!(script.as_str().unwrap().ends_with("hello.js"), "{script}");
        inspector.close().await.unwrap();
        app.shutdown().await.unwrap();
    });
}

#[test]
fn an_argv_command_runs_without_a_shell() {
    runtime().block_on(async {
        let argv = ["node", "hello.js"].map(String::from).to_vec();
        let cfg = AppConfig::command(AppCommand::Argv(argv), apps_dir());
        let app = AppProcess::start(&cfg).await.expect("the app starts");
        assert_eq!(app.serving_pid(), app.pid());
        assert!(app.inspector_url().starts_with("ws://127.0.0.1:"));
        app.shutdown().await.unwrap();
    });
}

/// Answers every connection with a 200, as any HTTP server squatting a port would.
fn squat(listener: TcpListener) {
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
        }
    });
}

#[test]
fn a_squatter_on_the_fixed_port_is_never_taken_for_the_app() {
    runtime().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        squat(listener);
        let mut cfg = AppConfig::new("survives-eaddrinuse.js", apps_dir());
        cfg.port = Some(port);
        cfg.ready_path = Some("/".into());
        let began = Instant::now();
        let err = AppProcess::start(&cfg).await.expect_err("no false ready");
        let text = err.to_string();
        assert!(
            matches!(err, AppError::PortTaken { fixed: true, .. }),
            "{text}"
        );
        let me = std::process::id();
        assert!(
            text.contains(&format!(
                "port {port} is answered by another process (pid {me}"
            )),
            "{text}"
        );
        assert!(text.contains("leave `app.port` out"), "{text}");
        assert!(began.elapsed() < Duration::from_secs(10));
    });
}

#[test]
fn apps_on_the_same_fixed_port_run_one_after_the_other() {
    let port = free_port();
    let rt = runtime();
    let mut cfg = AppConfig::new("hello.js", apps_dir());
    cfg.port = Some(port);
    cfg.ready_path = Some("/health".into());
    let first = rt
        .block_on(AppProcess::start(&cfg))
        .expect("the first app starts");
    let (tx, rx) = std::sync::mpsc::channel();
    let second_cfg = cfg.clone();
    let second = std::thread::spawn(move || {
        runtime().block_on(async {
            let app = AppProcess::start(&second_cfg)
                .await
                .expect("the second app starts");
            tx.send(app.pid()).unwrap();
            app.shutdown().await.unwrap();
        });
    });
    // The second app waits for the port instead of failing with EADDRINUSE.
    assert!(rx.recv_timeout(Duration::from_secs(2)).is_err());
    let first_pid = first.pid();
    rt.block_on(first.shutdown()).unwrap();
    let second_pid = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("second ready");
    assert_ne!(first_pid, second_pid);
    second.join().unwrap();
}

#[test]
fn an_app_that_ignores_port_is_named_with_the_port_it_opened() {
    runtime().block_on(async {
        let mut cfg = AppConfig::new("ignores-port.js", apps_dir());
        cfg.ready_timeout = Duration::from_secs(2);
        let err = AppProcess::start(&cfg).await.expect_err("never ready");
        let text = err.to_string();
        assert!(
            matches!(err, AppError::NeverReady { hint: Some(_), .. }),
            "{text}"
        );
        // The app's own words come with the error, apart from its message.
        let opened = err
            .log_tail()
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("listening on "))
            .expect("the app's own line")
            .trim()
            .to_string();
        assert!(
            text.contains(&format!("The app listens on port {opened} but not on")),
            "{text}"
        );
        assert!(text.contains("process.env.PORT"), "{text}");
        assert!(text.contains(&format!("`app.port: {opened}`")), "{text}");
        assert!(text.contains("within 2s (`app.ready.timeout`)"), "{text}");
    });
}

#[test]
fn a_cluster_app_is_refused_with_the_reason() {
    runtime().block_on(async {
        let err = AppProcess::start(&node_command("node cluster.js"))
            .await
            .expect_err("refused");
        let text = err.to_string();
        assert!(matches!(err, AppError::Unmeasurable { .. }), "{text}");
        assert!(text.contains("runs 2 `cluster` workers"), "{text}");
    });
}
