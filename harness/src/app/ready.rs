//! Waiting for a freshly started app: first for the inspector URL Node prints, then for the
//! app to accept connections or answer its readiness path, watching for an early exit.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{AppConfig, AppError, AppProcess, ERROR_TAIL_LINES};

/// How long Node may take to print its inspector URL.
const INSPECTOR_URL_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause between readiness probes and exit checks.
const POLL: Duration = Duration::from_millis(50);
/// How long one readiness probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

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

    /// Probes the app every [`POLL`] until it is ready, has exited, or `cfg.ready_timeout` passed.
    pub(super) async fn wait_until_ready(&mut self, cfg: &AppConfig) -> Result<(), AppError> {
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
                        return Ok(());
                    }
                    Err(why) => {
                        match probe(Ipv6Addr::LOCALHOST.into(), port, ready_path.as_deref()).await {
                            Ok(()) => {
                                self.host = Ipv6Addr::LOCALHOST.into();
                                return Ok(());
                            }
                            Err(_) => why,
                        }
                    }
                };
            if began.elapsed() >= cfg.ready_timeout {
                return Err(AppError::NeverReady {
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
