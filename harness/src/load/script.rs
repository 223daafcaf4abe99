//! The load script driver: `load.script` drives the app with whatever the app's own ecosystem
//! offers (fetch, a WebSocket client, a GraphQL client), for what request templates cannot
//! say. A node process leakgate starts imports the script and runs its default export once
//! per iteration when asked (`driver.mjs`), so iterations are counted, warmed up, stopped at
//! checkpoints and drained exactly as templated requests are: each `run` returns once every
//! iteration it started has settled.
//!
//! The driver is node, not an embedded engine, because a load script imports the app's
//! dependencies (`ws`, `graphql-request`) and must run them as the app's clients do. It is a
//! separate process from the app, so its heap is never measured.

use std::collections::VecDeque;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::{LoadError, LoadStats, TemplateStats};

/// The driver's source, run with `node --input-type=module -e`.
const DRIVER: &str = include_str!("driver.mjs");
/// The mark of the driver's replies among the script's own output.
const MARK: &str = "LEAKGATE-DRIVER ";
/// How long the driver may take to import the script.
const IMPORT_TIMEOUT: Duration = Duration::from_secs(30);
/// Lines of the script's own output kept for error messages.
const OUTPUT_LINES: usize = 20;

/// A running driver.
#[derive(Debug)]
pub(super) struct ScriptDriver {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    label: String,
    concurrency: usize,
    ready: bool,
    output: VecDeque<String>,
}

#[derive(serde::Deserialize)]
struct Reply {
    ready: Option<bool>,
    error: Option<String>,
    done: Option<u64>,
    failed: Option<u64>,
    errors: Option<Vec<String>>,
}

impl ScriptDriver {
    /// Starts the driver for `script` against the app at `url`. Must be called inside a Tokio
    /// runtime; the driver is killed when this is dropped.
    pub(super) fn start(
        script: &Path,
        url: &str,
        concurrency: usize,
        timeout: Duration,
    ) -> Result<ScriptDriver, LoadError> {
        let config = serde_json::json!({
            "script": script,
            "url": url,
            "timeout_ms": timeout.as_millis() as u64,
        });
        let mut cmd = Command::new("node");
        cmd.arg("--input-type=module")
            .arg("-e")
            .arg(DRIVER)
            .env("LEAKGATE_DRIVER", config.to_string())
            .current_dir(script.parent().unwrap_or(Path::new(".")))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        #[cfg(target_os = "linux")]
        // SAFETY: the closure runs between fork and exec and only calls prctl, which is
        // async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let fail = |message: String| LoadError::Script {
            message,
            output: String::new(),
        };
        let mut child = cmd
            .spawn()
            .map_err(|e| fail(format!("cannot start node for the load script: {e}")))?;
        let stdin = child.stdin.take().ok_or_else(|| fail("no stdin".into()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| fail("no stdout".into()))?;
        let name = script.file_name().map_or_else(
            || script.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        Ok(ScriptDriver {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
            label: format!("script {name}"),
            concurrency,
            ready: false,
            output: VecDeque::new(),
        })
    }

    /// The next reply; the script's own output lines are kept aside.
    async fn reply(&mut self, limit: Option<Duration>) -> Result<Reply, LoadError> {
        let began = Instant::now();
        loop {
            let next = match limit {
                Some(limit) => {
                    let left = limit.saturating_sub(began.elapsed());
                    match tokio::time::timeout(left, self.lines.next_line()).await {
                        Ok(line) => line,
                        Err(_) => {
                            return Err(self
                                .error(format!("the load script did not load within {limit:?}")))
                        }
                    }
                }
                None => self.lines.next_line().await,
            };
            let line = match next {
                Ok(Some(line)) => line,
                Ok(None) | Err(_) => {
                    let status = self.child.wait().await.ok();
                    let how = status.map_or("ended".to_string(), |s| s.to_string());
                    return Err(self.error(format!("the load script's driver {how}")));
                }
            };
            match line.strip_prefix(MARK) {
                Some(json) => {
                    return serde_json::from_str(json)
                        .map_err(|e| self.error(format!("unreadable driver reply: {e}")));
                }
                None => {
                    if self.output.len() == OUTPUT_LINES {
                        self.output.pop_front();
                    }
                    self.output.push_back(line);
                }
            }
        }
    }

    fn error(&self, message: String) -> LoadError {
        let output: Vec<&str> = self.output.iter().map(String::as_str).collect();
        LoadError::Script {
            message,
            output: output.join("\n"),
        }
    }

    /// Runs iterations `start..start + count`, stopping early once more than `max_failures`
    /// have failed; returns once all it started have settled.
    pub(super) async fn run(
        &mut self,
        start: u64,
        count: u64,
        max_failures: u64,
    ) -> Result<LoadStats, LoadError> {
        let began = Instant::now();
        if !self.ready {
            let reply = self.reply(Some(IMPORT_TIMEOUT)).await?;
            if let Some(error) = reply.error {
                return Err(self.error(error));
            }
            self.ready = reply.ready == Some(true);
        }
        let command = serde_json::json!({
            "start": start,
            "count": count,
            "concurrency": self.concurrency,
            "max_failures": max_failures,
        });
        let line = format!("{command}\n");
        if let Err(e) = self.stdin.write_all(line.as_bytes()).await {
            return Err(self.error(format!("cannot reach the load script's driver: {e}")));
        }
        let reply = self.reply(None).await?;
        if let Some(error) = reply.error {
            return Err(self.error(error));
        }
        let done = reply.done.unwrap_or(0);
        let failed = reply.failed.unwrap_or(0).min(done);
        let mut stats = LoadStats {
            requests: done,
            ok: done - failed,
            errors: failed,
            elapsed: began.elapsed(),
            per_template: vec![TemplateStats {
                label: self.label.clone(),
                requests: done,
                failures: failed,
            }],
            ..LoadStats::default()
        };
        for error in reply.errors.unwrap_or_default() {
            stats.add_error_sample(&error);
        }
        Ok(stats)
    }

    /// Ends the driver: closes its stdin and waits a little, then kills it.
    pub(super) async fn close(mut self) {
        let _ = self.stdin.shutdown().await;
        drop(self.stdin);
        if tokio::time::timeout(Duration::from_secs(2), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}
