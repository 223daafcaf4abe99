//! The load generator against a real Node HTTP server.
//!
//! Each test starts its own server (a small script in a temp dir, listening on port 0) that
//! counts what it sees and reports it at `GET /__stats`; the counts must match exactly.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use leakgate::load::{
    BodyTemplate, LoadConfig, LoadError, LoadGenerator, LoadStats, RequestTemplate, StatusPattern,
};
use serde_json::{json, Value};

const SERVER: &str = r#"
const http = require('http');
const stats = { counts: {}, inflight: 0, maxInflight: 0, withCookie: 0, sessions: 0, sockets: 0, log: [] };
let nextSession = 0;
const keepAlive = Number(process.env.KEEP_ALIVE_MS || 5000);
const server = http.createServer((req, res) => {
  if (req.url === '/__stats') {
    res.setHeader('content-type', 'application/json');
    res.setHeader('connection', 'close');
    res.end(JSON.stringify(stats));
    return;
  }
  if (!req.socket.counted) { req.socket.counted = true; stats.sockets++; }
  clearTimeout(req.socket.idleTimer);
  stats.inflight++;
  stats.maxInflight = Math.max(stats.maxInflight, stats.inflight);
  const url = new URL(req.url, 'http://x');
  const key = req.method + ' ' + url.pathname;
  stats.counts[key] = (stats.counts[key] || 0) + 1;
  // The second request on a socket is read and its socket closed unanswered, as a server
  // whose keep-alive timer fires while the request is on its way would.
  if (url.pathname === '/hangup' && req.socket.answered) { stats.inflight--; req.socket.destroy(); return; }
  req.socket.answered = true;
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString();
    if (url.pathname.startsWith('/echo')) {
      stats.log.push({ url: req.url, id: req.headers['x-id'] || null, body, type: req.headers['content-type'] || null });
    }
    const cookie = req.headers.cookie || '';
    if (/(^|; )sid=/.test(cookie)) stats.withCookie++;
    else if (url.pathname === '/session') res.setHeader('set-cookie', 'sid=' + (nextSession++) + '; Path=/; HttpOnly');
    if (url.pathname === '/session') stats.sessions = nextSession;
    if (url.pathname === '/close') res.setHeader('connection', 'close');
    const status = Number(url.searchParams.get('status') || 200);
    const delay = Number(url.searchParams.get('delay') || 0);
    res.on('finish', () => {
      stats.inflight--;
      // Node's own keepAliveTimeout fires up to a second late; this closes on time.
      req.socket.idleTimer = setTimeout(() => req.socket.destroy(), keepAlive);
    });
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.write('part one,');
    setTimeout(() => res.end(' part two'), delay);
  });
});
server.keepAliveTimeout = keepAlive;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
"#;

/// A Node server, killed when dropped (also when a test fails).
struct Server {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        Server::start_with_keep_alive(Duration::from_secs(5))
    }

    /// A server that closes connections idle for `keep_alive`.
    fn start_with_keep_alive(keep_alive: Duration) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let script = dir.path().join("server.js");
        std::fs::write(&script, SERVER).expect("write server script");
        let mut child = Command::new("node")
            .arg(&script)
            .env("KEEP_ALIVE_MS", keep_alive.as_millis().to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start node");
        let stdout = child.stdout.take().expect("node stdout");
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            _dir: dir,
        };
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read port");
        let port: u16 = line.trim().parse().expect("server printed its port");
        server.addr.set_port(port);
        server
    }

    /// What the server saw, from `GET /__stats` on a connection of its own.
    fn stats(&self) -> Value {
        let mut stream = TcpStream::connect(self.addr).expect("connect for stats");
        stream
            .write_all(b"GET /__stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .expect("send stats request");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("read stats");
        let (_, body) = answer.split_once("\r\n\r\n").expect("http answer");
        serde_json::from_str(body).expect("stats json")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn template(method: &str, path: &str) -> RequestTemplate {
    RequestTemplate::new(method, path)
}

fn config(concurrency: usize, requests: Vec<RequestTemplate>) -> LoadConfig {
    LoadConfig {
        concurrency,
        requests,
        cookies: false,
        flow: false,
        script: None,
        request_timeout: Duration::from_secs(10),
        max_failure_rate: leakgate::load::DEFAULT_MAX_FAILURE_RATE,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_counts_per_template_across_runs() {
    let server = Server::start();
    let mut post = template("POST", "/b");
    post.body = Some(BodyTemplate::Json(json!({"n": "{i}"})));
    let mut put = template("PUT", "/c");
    put.body = Some(BodyTemplate::Text("text {i}".to_owned()));
    let templates = vec![template("GET", "/a"), post, put];
    let mut load = LoadGenerator::new(server.addr, config(8, templates)).expect("valid config");
    fn assert_send<T: Send>(_: &T) {}
    assert_send(&load.run(0)); // a run can be spawned on a multi-thread runtime

    let warmup = load.run(10).await.expect("warm-up");
    assert_eq!(warmup.requests, 10);
    assert_eq!(load.issued(), 10);
    let stats = load.run(1000).await.expect("run");
    assert_eq!(load.issued(), 1010);
    assert_eq!(
        (stats.requests, stats.ok, stats.failures()),
        (1000, 1000, 0)
    );
    assert_eq!(stats.status_counts.get(&200), Some(&1000));
    // Indexes 10..1010: index 10 is template 1, so /b and /c get the extra one.
    let per: Vec<(String, u64)> = stats
        .per_template
        .iter()
        .map(|t| (t.label.clone(), t.requests))
        .collect();
    assert_eq!(
        per,
        vec![
            ("GET /a".to_owned(), 333),
            ("POST /b".to_owned(), 334),
            ("PUT /c".to_owned(), 333)
        ]
    );

    let seen = server.stats();
    assert_eq!(
        seen["counts"],
        json!({"GET /a": 337, "POST /b": 337, "PUT /c": 336})
    );
    // Keep-alive: the same 8 sockets served both runs.
    assert_eq!(seen["sockets"], json!(8));
    load.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_is_substituted_in_path_header_and_body() {
    let server = Server::start();
    let mut t = template("POST", "/echo/{i}?q=x{i}");
    t.headers = vec![("X-Id".to_owned(), "id-{i}".to_owned())];
    t.body = Some(BodyTemplate::Json(
        json!({"name": "user {i}", "tags": ["t{i}", 7], "{i}": true}),
    ));
    let mut text = template("PUT", "/echo-text");
    text.body = Some(BodyTemplate::Text("line {i}".to_owned()));
    let mut load = LoadGenerator::new(server.addr, config(1, vec![t, text])).expect("valid");
    let stats = load.run(4).await.expect("run");
    assert_eq!(stats.ok, 4);

    let log = server.stats()["log"].clone();
    let log = log.as_array().expect("log array");
    assert_eq!(log.len(), 4);
    for (i, entry) in log.iter().enumerate() {
        if i % 2 == 0 {
            assert_eq!(entry["url"], json!(format!("/echo/{i}?q=x{i}")));
            assert_eq!(entry["id"], json!(format!("id-{i}")));
            assert_eq!(entry["type"], json!("application/json"));
            let body: Value =
                serde_json::from_str(entry["body"].as_str().expect("body")).expect("json body");
            let expected = json!({"name": format!("user {i}"), "tags": [format!("t{i}"), 7], i.to_string(): true});
            assert_eq!(body, expected);
        } else {
            assert_eq!(entry["url"], json!("/echo-text"));
            assert_eq!(entry["body"], json!(format!("line {i}")));
            assert_eq!(entry["type"], json!("text/plain"));
        }
    }
    load.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_is_bounded_and_runs_drain() {
    let server = Server::start();
    let mut load = LoadGenerator::new(
        server.addr,
        config(4, vec![template("GET", "/slow?delay=5")]),
    )
    .expect("valid");
    let stats = load.run(120).await.expect("run");
    assert_eq!(stats.ok, 120);
    let seen = server.stats();
    assert_eq!(seen["inflight"], json!(0), "drained on return");
    let max = seen["maxInflight"].as_u64().expect("max in flight");
    assert!((2..=4).contains(&max), "max in flight {max}");
    load.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_2xx_answers_are_counted() {
    let server = Server::start();
    let templates = vec![
        template("GET", "/ok"),
        template("GET", "/missing?status=404"),
        template("GET", "/broken?status=500"),
        template("GET", "/ok"),
    ];
    let mut load = LoadGenerator::new(server.addr, config(3, templates)).expect("valid");
    let stats = load.run(100).await.expect("run");
    assert_eq!((stats.ok, stats.non_2xx, stats.errors), (50, 50, 0));
    let statuses: Vec<(u16, u64)> = stats.status_counts.iter().map(|(s, n)| (*s, *n)).collect();
    assert_eq!(statuses, vec![(200, 50), (404, 25), (500, 25)]);
    assert_eq!(stats.failure_rate(), 0.5);
    let failures: Vec<u64> = stats.per_template.iter().map(|t| t.failures).collect();
    assert_eq!(failures, vec![0, 25, 25, 0]);
    load.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expected_statuses_are_not_failures() {
    let server = Server::start();
    let mut missing = template("GET", "/missing?status=404");
    missing.status = vec![StatusPattern::Class(4)];
    let mut broken = template("GET", "/broken?status=500");
    broken.status = vec![StatusPattern::Code(200), StatusPattern::Code(404)];
    let templates = vec![template("GET", "/ok"), missing, broken];
    let mut load = LoadGenerator::new(server.addr, config(3, templates)).expect("valid");
    let stats = load.run(90).await.expect("run");
    assert_eq!((stats.ok, stats.non_2xx, stats.unexpected), (30, 60, 30));
    let unexpected: Vec<(u16, u64)> = stats
        .unexpected_status_counts
        .iter()
        .map(|(s, n)| (*s, *n))
        .collect();
    assert_eq!(unexpected, vec![(500, 30)]);
    let failures: Vec<u64> = stats.per_template.iter().map(|t| t.failures).collect();
    assert_eq!(failures, vec![0, 0, 30]);
    load.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_jar_per_connection_or_none() {
    for cookies in [true, false] {
        let server = Server::start();
        let mut cfg = config(2, vec![template("GET", "/session")]);
        cfg.cookies = cookies;
        let mut load = LoadGenerator::new(server.addr, cfg).expect("valid");
        let stats = load.run(100).await.expect("run");
        assert_eq!(stats.ok, 100);
        let seen = server.stats();
        if cookies {
            // One session per connection, sent back on every later request.
            assert_eq!(seen["sessions"], json!(2));
            assert_eq!(seen["withCookie"], json!(98));
        } else {
            assert_eq!(seen["sessions"], json!(100));
            assert_eq!(seen["withCookie"], json!(0));
        }
        load.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_closed_by_the_server_are_reopened() {
    let server = Server::start();
    let mut load =
        LoadGenerator::new(server.addr, config(2, vec![template("GET", "/close")])).expect("valid");
    let stats = load.run(50).await.expect("run");
    assert_eq!(
        (stats.ok, stats.errors),
        (50, 0),
        "{:?}",
        stats.error_samples
    );
    let seen = server.stats();
    assert_eq!(seen["counts"]["GET /close"], json!(50));
    assert_eq!(seen["sockets"], json!(50));
    load.close().await;
}

/// Two runs of `count` requests each, with the load idle for `pause` between them.
async fn run_pause_run(
    load: &mut LoadGenerator,
    count: u64,
    pause: Duration,
) -> (LoadStats, LoadStats) {
    let first = load.run(count).await.expect("first run");
    tokio::time::sleep(pause).await;
    let second = load.run(count).await.expect("second run");
    (first, second)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_closed_between_runs_are_reopened() {
    let server = Server::start_with_keep_alive(Duration::from_millis(100));
    let mut load =
        LoadGenerator::new(server.addr, config(4, vec![template("GET", "/a")])).expect("valid");
    // Past the server's 100 ms, but not so long that leakgate would have replaced the
    // connections itself (after 1 s idle).
    let (first, second) = run_pause_run(&mut load, 40, Duration::from_millis(700)).await;
    assert_eq!(
        (first.ok, second.ok, second.errors),
        (40, 40, 0),
        "{second:?}"
    );
    let seen = server.stats();
    assert_eq!(seen["counts"]["GET /a"], json!(80));
    assert_eq!(seen["sockets"], json!(8));
    load.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_idle_for_over_a_second_are_not_reused() {
    // The server would keep them (5 s), but a checkpoint's pause can end just as the server's
    // timer fires: leakgate opens new ones instead.
    let server = Server::start();
    let mut load =
        LoadGenerator::new(server.addr, config(4, vec![template("GET", "/a")])).expect("valid");
    let (first, second) = run_pause_run(&mut load, 40, Duration::from_millis(1300)).await;
    assert_eq!((first.ok, second.ok, second.errors), (40, 40, 0));
    let seen = server.stats();
    assert_eq!(seen["sockets"], json!(8));
    load.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_requests_lost_with_an_idle_connection_are_resent_once() {
    let server = Server::start();
    let mut load = LoadGenerator::new(server.addr, config(1, vec![template("GET", "/hangup")]))
        .expect("valid");
    // Idle long enough that the server may have been closing it, not so long it is dropped.
    let (first, again) = run_pause_run(&mut load, 1, Duration::from_millis(300)).await;
    assert_eq!(first.ok, 1);
    assert_eq!(
        (again.ok, again.errors),
        (1, 0),
        "{:?}",
        again.error_samples
    );
    let seen = server.stats();
    // Sent twice (the lost one and its resend), on two sockets.
    assert_eq!(seen["counts"]["GET /hangup"], json!(3));
    assert_eq!(seen["sockets"], json!(2));
    load.close().await;

    // A POST may have had its effect: it is not sent again, and counts as an error.
    let mut load = LoadGenerator::new(server.addr, config(1, vec![template("POST", "/hangup")]))
        .expect("valid");
    let (first, again) = run_pause_run(&mut load, 1, Duration::from_millis(300)).await;
    assert_eq!(first.ok, 1);
    assert_eq!((again.ok, again.errors), (0, 1));
    assert!(
        again.error_samples[0].contains("connection closed before message completed"),
        "{:?}",
        again.error_samples
    );
    assert_eq!(server.stats()["counts"]["POST /hangup"], json!(2));
    load.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timed_out_requests_count_as_errors_and_drop_the_connection() {
    let server = Server::start();
    let mut cfg = config(
        1,
        vec![template("GET", "/slow?delay=2000"), template("GET", "/ok")],
    );
    cfg.request_timeout = Duration::from_millis(200);
    let mut load = LoadGenerator::new(server.addr, cfg).expect("valid");
    let stats = load.run(4).await.expect("run");
    assert_eq!((stats.ok, stats.errors), (2, 2));
    assert!(
        stats.error_samples[0].contains("timed out"),
        "{:?}",
        stats.error_samples
    );
    // Each /ok after a timeout needed a new socket.
    assert_eq!(server.stats()["sockets"], json!(3));
    load.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_that_is_not_listening_is_a_connect_error() {
    let addr = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let mut load = LoadGenerator::new(addr, config(4, vec![template("GET", "/")])).expect("valid");
    let started = Instant::now();
    let result = load.run(100_000).await;
    assert!(
        matches!(result, Err(LoadError::Connect { addr: a, .. }) if a == addr),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn invalid_templates_are_rejected_up_front() {
    let addr = SocketAddr::from(([127, 0, 0, 1], 1));
    let bad_method = config(1, vec![template("GE T", "/")]);
    assert!(matches!(
        LoadGenerator::new(addr, bad_method),
        Err(LoadError::InvalidMethod { index: 0, .. })
    ));
    let mut bad_header = template("GET", "/");
    bad_header.headers = vec![("Content-Length".to_owned(), "3".to_owned())];
    assert!(matches!(
        LoadGenerator::new(addr, config(1, vec![template("GET", "/"), bad_header])),
        Err(LoadError::InvalidHeader { index: 1, .. })
    ));
    assert!(matches!(
        LoadGenerator::new(addr, config(1, vec![template("GET", "no-slash")])),
        Err(LoadError::InvalidPath { .. })
    ));
    assert!(matches!(
        LoadGenerator::new(addr, config(0, vec![template("GET", "/")])),
        Err(LoadError::InvalidConfig(_))
    ));
}

fn script_config(script: &std::path::Path) -> LoadConfig {
    let mut cfg = config(4, Vec::new());
    cfg.script = Some(script.to_path_buf());
    cfg.request_timeout = Duration::from_secs(2);
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_script_runs_exact_iterations_and_counts_thrown_errors() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("load.mjs");
    std::fs::write(
        &script,
        "export default async function ({ url, i }) {\n\
           const res = await fetch(`${url}/ok?i=${i}`); await res.text();\n\
           if (i % 4 === 3) throw new Error(`odd one ${i % 4}`);\n\
           if (i === 10) await new Promise((r) => setTimeout(r, 5000));\n\
         }\n",
    )
    .unwrap();
    let mut load = LoadGenerator::new(server.addr, script_config(&script)).expect("valid");
    let first = load.run(8).await.expect("run");
    assert_eq!((first.requests, first.failures()), (8, 2));
    assert_eq!(first.error_samples, vec!["odd one 3".to_string()]);
    let second = load.run(12).await.expect("run");
    // Iterations 8..20: 11, 15, 19 throw; 10 times out.
    assert_eq!((second.requests, second.failures()), (12, 4));
    assert!(second
        .error_samples
        .iter()
        .any(|e| e.contains("timed out after 2000 ms")));
    assert_eq!(load.issued(), 20);
    assert_eq!(server.stats()["counts"]["GET /ok"].as_u64(), Some(20));
    load.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_script_without_a_default_function_is_an_error() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("load.mjs");
    std::fs::write(&script, "console.log('hi'); export const run = 1;\n").unwrap();
    let mut load = LoadGenerator::new(server.addr, script_config(&script)).expect("valid");
    let err = load.run(5).await.expect_err("no iteration function");
    let text = err.to_string();
    assert!(matches!(err, LoadError::Script { .. }), "{text}");
    assert!(
        text.contains("its default export is undefined, not a function"),
        "{text}"
    );
    assert!(text.contains("its last output:\nhi"), "{text}");
}
