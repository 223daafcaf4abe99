//! Waiting for a freshly started app: first for the inspector URL Node prints, then for the
//! app to accept connections or answer its readiness path, watching for an early exit.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::owner::{self, PortOwner};
use super::{AppConfig, AppError, AppProcess, ERROR_TAIL_LINES};

/// How long Node may take to print its inspector URL.
const INSPECTOR_URL_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause between readiness probes and exit checks.
const POLL: Duration = Duration::from_millis(50);
/// How long one readiness probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the stderr reader may lag behind a ready app with the serving process's
/// inspector URL (Node prints it before running any of the app's code).
const URL_LAG: Duration = Duration::from_secs(2);

impl AppProcess {
    /// Waits for the URL the stderr reader finds in "Debugger listening on ws://…".
    pub(super) async fn wait_for_inspector_url(
        &mut self,
        url_rx: tokio::sync::oneshot::Receiver<String>,
    ) -> Result<String, AppError> {
        let began = Instant::now();
        let mut url_rx = Some(url_rx);
        loop {
            match url_rx.as_mut() {
                Some(rx) => match tokio::time::timeout(POLL, rx).await {
                    Ok(Ok(url)) => return Ok(url),
                    // stderr closed without the URL; keep watching for the exit.
                    Ok(Err(_)) => url_rx = None,
                    Err(_) => {}
                },
                None => tokio::time::sleep(POLL).await,
            }
            if self.poll_exit()?.is_some() {
                self.drain_readers().await;
                // Node prints the URL before running the script, so a script that fails
                // at once still gets here with the URL on its way.
                let got_url = url_rx.as_mut().is_some_and(|rx| rx.try_recv().is_ok());
                return Err(if got_url {
                    self.exited_error(true)
                } else {
                    AppError::NoInspectorUrl {
                        waited: began.elapsed(),
                        exited: true,
                        log_tail: self.log_tail(ERROR_TAIL_LINES),
                    }
                });
            }
            if began.elapsed() >= INSPECTOR_URL_TIMEOUT {
                return Err(AppError::NoInspectorUrl {
                    waited: began.elapsed(),
                    exited: false,
                    log_tail: self.log_tail(ERROR_TAIL_LINES),
                });
            }
        }
    }

    /// Probes the app every [`POLL`] until it is ready, has exited, or `cfg.ready_timeout`
    /// passed. Ready means answering *and* the listening socket held by a process leakgate
    /// started; returns that process's id.
    pub(super) async fn wait_until_ready(&mut self, cfg: &AppConfig) -> Result<u32, AppError> {
        let port = self.port;
        let ready_path = cfg.ready_path.as_deref().map(|p| {
            if p.starts_with('/') {
                p.to_string()
            } else {
                format!("/{p}")
            }
        });
        let waiting_for = match &ready_path {
            Some(path) => format!("GET http://127.0.0.1:{port}{path} to answer 2xx"),
            None => format!("127.0.0.1:{port} to accept TCP connections"),
        };
        let began = Instant::now();
        loop {
            if self.poll_exit()?.is_some() {
                self.drain_readers().await;
                return Err(self.exited_error(true));
            }
            // Apps that listen on `localhost` may be on either loopback address.
            let last_attempt =
                match probe(Ipv4Addr::LOCALHOST.into(), port, ready_path.as_deref()).await {
                    Ok(()) => {
                        self.host = Ipv4Addr::LOCALHOST.into();
                        return self.owner_of_port(cfg);
                    }
                    Err(why) => {
                        match probe(Ipv6Addr::LOCALHOST.into(), port, ready_path.as_deref()).await {
                            Ok(()) => {
                                self.host = Ipv6Addr::LOCALHOST.into();
                                return self.owner_of_port(cfg);
                            }
                            Err(_) => why,
                        }
                    }
                };
            if began.elapsed() >= cfg.ready_timeout {
                return Err(AppError::NeverReady {
                    hint: self.listening_elsewhere(cfg),
                    timeout: cfg.ready_timeout,
                    waiting_for,
                    last_attempt,
                    log_tail: self.log_tail(ERROR_TAIL_LINES),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

impl AppProcess {
    /// The process of ours that holds the port's listening socket, or why it is not ours.
    fn owner_of_port(&self, cfg: &AppConfig) -> Result<u32, AppError> {
        let ours = owner::descendants(self.pid);
        match owner::port_owner(self.port, &ours) {
            PortOwner::Ours(pid) => Ok(pid),
            // `/proc` cannot tell (not Linux, or another network namespace): trust the probe.
            PortOwner::Nobody => Ok(self.pid),
            PortOwner::Foreign(pid) => Err(AppError::PortTaken {
                port: self.port,
                pid,
                command: pid.and_then(owner::command_line),
                fixed: cfg.port.is_some(),
                log_tail: self.log_tail(ERROR_TAIL_LINES),
            }),
        }
    }

    /// The ports the app listens on instead of its own, as advice; `None` when it listens on
    /// none (besides its inspectors).
    fn listening_elsewhere(&self, cfg: &AppConfig) -> Option<String> {
        let sockets = owner::listening_sockets();
        let inspectors: Vec<u16> = self
            .log
            .inner()
            .inspector_urls
            .iter()
            .filter_map(|url| url_port(url))
            .collect();
        let mut ports: Vec<u16> = owner::descendants(self.pid)
            .into_iter()
            .flat_map(|pid| owner::listening_ports(pid, &sockets))
            .filter(|p| *p != self.port && !inspectors.contains(p))
            .collect();
        ports.sort_unstable();
        ports.dedup();
        let first = *ports.first()?;
        let list: Vec<String> = ports.iter().map(u16::to_string).collect();
        let given = if cfg.port.is_some() {
            "the spec's `app.port`, also given to it in PORT"
        } else {
            "the free port leakgate gave it in PORT"
        };
        Some(format!(
            "The app listens on port {} but not on {}, {given}: make it read the port from \
             process.env.PORT (e.g. `server.listen(process.env.PORT || {first})`), or set \
             `app.port: {first}` in the spec",
            list.join(", "),
            self.port
        ))
    }

    /// Refuses what cannot be measured as one process, and for a command picks the inspector
    /// of the process that serves the port.
    pub(super) async fn check_measurable(&mut self, command: bool) -> Result<(), AppError> {
        let serving = self.serving_pid;
        let workers: Vec<u32> = owner::descendants(serving)
            .into_iter()
            .filter(|pid| *pid != serving && owner::is_cluster_worker(*pid))
            .collect();
        if !workers.is_empty() {
            return Err(AppError::Unmeasurable {
                reason: format!(
                    "the app runs {} `cluster` workers (pids {}): the primary (pid {serving}) \
                     holds the port and the workers serve the requests, each in its own heap, \
                     and leakgate measures one process. Run the app as one process for the \
                     test, e.g. with a variable it reads for its worker count set in `app.env`",
                    workers.len(),
                    workers
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                log_tail: self.log_tail(ERROR_TAIL_LINES),
            });
        }
        if !command {
            if serving != self.pid {
                return Err(AppError::Unmeasurable {
                    reason: format!(
                        "port {} is served by a child process of the script (pid {serving}{}), \
                         which the inspector of `node SCRIPT` does not reach; start the app \
                         with `app.command` instead (e.g. `command: [node, SCRIPT]`), so that \
                         every node process it starts can be inspected",
                        self.port,
                        owner::command_line(serving)
                            .map(|c| format!(": `{c}`"))
                            .unwrap_or_default()
                    ),
                    log_tail: self.log_tail(ERROR_TAIL_LINES),
                });
            }
            return Ok(());
        }
        let began = Instant::now();
        loop {
            let ports = owner::listening_ports(serving, &owner::listening_sockets());
            let url = self
                .log
                .inner()
                .inspector_urls
                .iter()
                .find(|url| url_port(url).is_some_and(|p| ports.contains(&p)))
                .cloned();
            if let Some(url) = url {
                self.inspector_url = url;
                return Ok(());
            }
            if began.elapsed() >= URL_LAG {
                let cmd = owner::command_line(serving).unwrap_or_default();
                return Err(AppError::Unmeasurable {
                    reason: format!(
                        "the process serving port {} (pid {serving}: `{cmd}`) has no inspector \
                         leakgate can find: leakgate enables it with \
                         NODE_OPTIONS=--inspect=127.0.0.1:0 and reads its URL from stderr, so \
                         the command must pass NODE_OPTIONS and stderr on to node (is it run \
                         by a launcher that clears them, or is it not node?)",
                        self.port
                    ),
                    log_tail: self.log_tail(ERROR_TAIL_LINES),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// The port of an inspector URL, `ws://127.0.0.1:PORT/UUID`.
fn url_port(url: &str) -> Option<u16> {
    let rest = url.strip_prefix("ws://")?;
    let host_port = rest.split('/').next()?;
    host_port.rsplit(':').next()?.parse().ok()
}

/// One probe of the app's readiness; `Err` tells what happened instead.
async fn probe(host: IpAddr, port: u16, ready_path: Option<&str>) -> Result<(), String> {
    let attempt = async {
        let mut stream = TcpStream::connect((host, port))
            .await
            .map_err(|e| format!("connecting failed: {e}"))?;
        let Some(path) = ready_path else {
            return Ok(());
        };
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: leakgate\r\n\
             Connection: close\r\n\r\n",
            std::net::SocketAddr::from((host, port))
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("sending the request failed: {e}"))?;
        let mut head = Vec::new();
        let mut buf = [0u8; 512];
        while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 4096 {
            let n = stream
                .read(&mut buf)
                .await
                .map_err(|e| format!("reading the answer failed: {e}"))?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        let head = String::from_utf8_lossy(&head);
        let status_line = head.lines().next().unwrap_or("").to_string();
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok());
        match status {
            Some(code) if (200..300).contains(&code) => Ok(()),
            Some(_) => Err(format!("the answer `{status_line}`")),
            None if status_line.is_empty() => Err("the connection closed without an answer".into()),
            None => Err(format!("an answer that is not HTTP: `{status_line}`")),
        }
    };
    match tokio::time::timeout(PROBE_TIMEOUT, attempt).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {PROBE_TIMEOUT:?}")),
    }
}
