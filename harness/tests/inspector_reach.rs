//! Who else can attach to the app's inspector while leakgate measures it.
//!
//! The inspector's port is no secret: any local user sees the listening socket (`ss -ltn`,
//! `/proc/net/tcp`). Node accepts any number of WebSocket sessions, so what keeps a second
//! client out is the session's id in the WebSocket path. These tests play that second client
//! against a real app booted by leakgate, with leakgate's own session attached, and check the
//! same attack succeeds against a node started with a plain `--inspect`, so that they can fail.

mod common;

use common::{apps_dir, runtime};

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use leakgate::app::{AppCommand, AppConfig, AppProcess};
use leakgate::inspector::Inspector;

/// The port of a `ws://127.0.0.1:PORT/ID` URL.
fn port_of(url: &str) -> u16 {
    let rest = url.strip_prefix("ws://127.0.0.1:").expect(url);
    rest.split('/').next().unwrap().parse().expect(url)
}

/// `GET path` on the inspector's HTTP side: the status line and body.
fn http_get(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("inspector port");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

/// What a second local client gets: the WebSocket URLs `/json/list` gives away, and whether
/// it could run code in the app through any URL it can find or guess.
async fn second_client(port: u16) -> (Vec<String>, bool) {
    let mut found = Vec::new();
    for path in ["/json/list", "/json", "/json/version"] {
        let answer = http_get(port, path);
        for part in answer.split('"') {
            if part.starts_with("ws://") && !found.contains(&part.to_string()) {
                found.push(part.to_string());
            }
        }
    }
    let mut tried = found.clone();
    tried.push(format!("ws://127.0.0.1:{port}/"));
    tried.push(format!(
        "ws://127.0.0.1:{port}/00000000-0000-0000-0000-000000000000"
    ));
    let mut ran_code = false;
    for url in tried {
        if let Ok(mut session) = Inspector::connect(&url).await {
            ran_code |= session.evaluate("40 + 2").await.is_ok();
        }
    }
    (found, ran_code)
}

async fn assert_locked(app: &AppProcess) {
    let url = app.inspector_url().to_string();
    let mut own = Inspector::connect(&url).await.expect("leakgate's session");
    own.evaluate("1").await.expect("leakgate's session works");
    let port = port_of(&url);
    let listing = http_get(port, "/json/list");
    let status = listing.split_whitespace().nth(1);
    assert_eq!(status, Some("404"), "/json/list must not answer: {listing}");
    let (found, ran_code) = second_client(port).await;
    assert!(found.is_empty(), "the session was advertised: {found:?}");
    assert!(!ran_code, "a second client ran code in the app");
    // leakgate's own session is unharmed by the attempts.
    own.evaluate("2")
        .await
        .expect("leakgate's session still works");
}

#[test]
fn a_second_local_client_cannot_attach_to_a_script() {
    runtime().block_on(async {
        let app = AppProcess::start(&AppConfig::new("hello.js", apps_dir()))
            .await
            .expect("hello starts");
        assert_locked(&app).await;
    });
}

#[test]
fn a_second_local_client_cannot_attach_to_a_command() {
    runtime().block_on(async {
        let mut cfg = AppConfig::new("hello.js", apps_dir());
        cfg.script = None;
        cfg.command = Some(AppCommand::Argv(vec!["node".into(), "hello.js".into()]));
        let app = AppProcess::start(&cfg).await.expect("hello starts");
        assert_locked(&app).await;
    });
}

/// The same attack against `node --inspect=127.0.0.1:0` without leakgate's flags succeeds:
/// the test above would see an open inspector.
#[test]
fn the_attack_works_on_a_plain_inspector() {
    runtime().block_on(async {
        let mut child = tokio::process::Command::new("node")
            .args(["--inspect=127.0.0.1:0", "-e", "setInterval(() => {}, 1000)"])
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node starts");
        let mut stderr = child.stderr.take().unwrap();
        let mut text = String::new();
        let mut buf = [0u8; 4096];
        let url = loop {
            use tokio::io::AsyncReadExt;
            let n = tokio::time::timeout(Duration::from_secs(20), stderr.read(&mut buf))
                .await
                .expect("inspector URL in time")
                .unwrap();
            assert!(n > 0, "node ended: {text}");
            text.push_str(&String::from_utf8_lossy(&buf[..n]));
            if let Some(at) = text.find("ws://") {
                if let Some(url) = text[at..]
                    .split_whitespace()
                    .next()
                    .filter(|_| text[at..].contains('\n'))
                {
                    break url.to_string();
                }
            }
        };
        let (found, ran_code) = second_client(port_of(&url)).await;
        assert_eq!(found, [url], "/json/list lists the session");
        assert!(
            ran_code,
            "a second client runs code in a plainly inspected node"
        );
        child.kill().await.unwrap();
    });
}
