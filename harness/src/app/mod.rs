//! The Node child process: preparing its folder (`npm ci`), booting it under the V8 inspector,
//! waiting until it serves, keeping its output, and making sure it never outlives leakgate.
//!
//! # Why so much care about ending the child
//! A leak test that leaves a Node process behind poisons what comes next: the port stays
//! taken, orphans pile up on the machine, and a CI job can hang on pipes an orphan still holds.
//! So the child is ended on every path out of leakgate:
//!
//! * normal end: [`AppProcess::shutdown`] sends `SIGTERM` to the child's process group, waits up
//!   to 3 s, then sends `SIGKILL`;
//! * errors, panics and plain drops: `Drop` sends `SIGKILL` to the process group and reaps the
//!   child synchronously, so no zombie is left either;
//! * Ctrl-C and `SIGKILL` of leakgate itself: the child is spawned with
//!   `prctl(PR_SET_PDEATHSIG, SIGKILL)`, so the kernel kills it when leakgate dies, even when no
//!   destructor gets to run.
//!
//! The child runs in its own process group (`process_group(0)`): a Ctrl-C in the terminal goes to
//! leakgate alone (which then ends the child in order), and the group signal also reaches
//! anything Node spawned itself, such as `cluster` workers.
//!
//! # Caveat: the spawning thread
//! `PR_SET_PDEATHSIG` fires when the *thread* that forked the child exits, not only when the
//! whole process does. [`AppProcess::start`] forks on the thread that polls it, so it must be
//! driven from a thread that outlives the child: a current-thread runtime on the caller's
//! thread, or a worker of a multi-thread runtime that lives as long as the child. Never call it
//! inside `spawn_blocking`: idle blocking-pool threads exit after a few seconds, and the kernel
//! would then kill the app in the middle of a run.
//!
//! # Preparing the folder
//! [`prepare()`] runs `npm ci` when the app's `package-lock.json` is newer than what is installed.
//! Tests often run in parallel, in many threads or (under cargo-nextest) in many processes, and
//! two concurrent `npm ci` runs in one folder wreck each other's `node_modules`. So the install
//! runs under an exclusive `flock` on a lock file in the system temp folder, named from a hash
//! of the canonical folder path, and freshness is checked again once the lock is held.

mod log;
mod prepare;
mod ready;

use std::collections::BTreeMap;
use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use log::{spawn_reader, LineLog};
pub use prepare::{prepare, PrepareOutcome};

/// Grace period between `SIGTERM` and `SIGKILL` in [`AppProcess::shutdown`].
const TERM_GRACE: Duration = Duration::from_secs(3);
/// How long to wait for the output readers to reach the end once the child has exited.
const DRAIN_TIMEOUT: Duration = Duration::from_millis(500);
/// Lines of output quoted in error messages.
const ERROR_TAIL_LINES: usize = 40;

/// How to boot the app.
#[derive(Debug, Clone, PartialEq)]
pub struct AppConfig {
    /// The script given to `node`; a relative path is relative to `cwd`.
    pub script: PathBuf,
    /// The folder the app runs in.
    pub cwd: PathBuf,
    /// Variables added to leakgate's own environment for the app. `PORT` is always set by
    /// leakgate and wins over a `PORT` given here.
    pub env: BTreeMap<String, String>,
    /// Extra `node` options, placed between `--inspect=…` and the script.
    pub node_args: Vec<String>,
    /// The port the app is told to listen on (`PORT`); `None` picks a free loopback port.
    pub port: Option<u16>,
    /// When set, the app is ready once `GET http://127.0.0.1:PORT{ready_path}` answers 2xx;
    /// otherwise once the port accepts TCP connections.
    pub ready_path: Option<String>,
    /// How long the app may take to become ready.
    pub ready_timeout: Duration,
    /// When set, every line the app prints is appended to this file.
    pub log_path: Option<PathBuf>,
}

impl AppConfig {
    /// A config with no extra environment or node options, a free port, TCP readiness within
    /// 30 s and no log file.
    pub fn new(script: impl Into<PathBuf>, cwd: impl Into<PathBuf>) -> AppConfig {
        AppConfig {
            script: script.into(),
            cwd: cwd.into(),
            env: BTreeMap::new(),
            node_args: Vec::new(),
            port: None,
            ready_path: None,
            ready_timeout: Duration::from_secs(30),
            log_path: None,
        }
    }
}

/// Why the app could not be prepared, started or kept running.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// `node` is not on `PATH`.
    #[error(
        "the command `node` was not found on PATH; install Node.js or add the folder that \
         holds `node` to PATH"
    )]
    NodeNotFound,
    /// `npm` is not on `PATH`.
    #[error(
        "the command `npm` was not found on PATH; it ships with Node.js: add the folder that \
         holds `npm` to PATH, or install node_modules yourself"
    )]
    NpmNotFound,
    /// `npm ci` exited with a failure.
    #[error(
        "`npm ci` failed in {} ({}); last lines of its output:\n{log_tail}",
        cwd.display(),
        code.map_or("killed by a signal".to_string(), |c| format!("exit code {c}"))
    )]
    NpmFailed {
        /// The folder it ran in.
        cwd: PathBuf,
        /// npm's exit code, `None` when it was killed by a signal.
        code: Option<i32>,
        /// The last lines of its output.
        log_tail: String,
    },
    /// The child process could not be created.
    #[error("could not start `{program}` in {}: {source}", cwd.display())]
    Spawn {
        /// The program that was run.
        program: String,
        /// The folder it was to run in.
        cwd: PathBuf,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// Node never printed `Debugger listening on ws://…`.
    #[error(
        "node {} without printing its inspector URL (\"Debugger listening on ws://...\"); \
         is `--inspect` disabled or overridden (NODE_OPTIONS)? Last lines of its output:\n{log_tail}",
        if *exited { "exited".to_string() } else { format!("ran for {waited:?}") }
    )]
    NoInspectorUrl {
        /// How long leakgate waited.
        waited: Duration,
        /// `true` when node exited, `false` when it kept running silently.
        exited: bool,
        /// The last lines of its output.
        log_tail: String,
    },
    /// The app exited on its own.
    #[error(
        "the app {} {}; last lines of its output:\n{log_tail}",
        exit_text(*code, *signal),
        if *before_ready { "before it was ready" } else { "while under test" }
    )]
    Exited {
        /// Its exit code, when it exited normally.
        code: Option<i32>,
        /// The signal that ended it, when one did.
        signal: Option<i32>,
        /// `true` when it exited while leakgate was waiting for it to become ready.
        before_ready: bool,
        /// The last lines of its output.
        log_tail: String,
    },
    /// The app kept running but never became ready.
    #[error(
        "the app did not become ready within {timeout:?}: waited for {waiting_for}, the last \
         attempt gave: {last_attempt}; last lines of its output:\n{log_tail}"
    )]
    NeverReady {
        /// The configured readiness timeout.
        timeout: Duration,
        /// What readiness meant, e.g. `GET http://127.0.0.1:3000/health to answer 2xx`.
        waiting_for: String,
        /// The outcome of the last probe, e.g. `connection refused`.
        last_attempt: String,
        /// The last lines of its output.
        log_tail: String,
    },
    /// A file or system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What leakgate was doing.
        context: String,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
}

impl AppError {
    fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> AppError {
        let context = context.into();
        move |source| AppError::Io { context, source }
    }

    /// `Io` with the context "could not {action} {path}".
    fn io_at(action: &str, path: &Path) -> impl FnOnce(io::Error) -> AppError {
        AppError::io(format!("could not {action} {}", path.display()))
    }
}

/// `with code 3`, `killed by signal 9`, … for messages.
fn exit_text(code: Option<i32>, signal: Option<i32>) -> String {
    match (code, signal) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        // Only a process that has not really exited has neither.
        (None, None) => "has ended (Node holds the process until the inspector disconnects, \
                         so its exit code is not known yet)"
            .to_string(),
    }
}

/// The first executable file called `name` in a folder of `PATH`.
fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// A free TCP port on 127.0.0.1, found by binding port 0 and letting it go.
fn free_port() -> Result<u16, AppError> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(AppError::io("could not find a free port on 127.0.0.1"))
}

/// Sends `signal` to the process group led by `pid`.
fn signal_group(pid: u32, signal: libc::c_int) {
    // Never signal group 0 or 1 (our own group, or init's): only a real child's group.
    if let Ok(pgid) = libc::pid_t::try_from(pid) {
        if pgid > 1 {
            // SAFETY: killpg has no memory effects; errors (e.g. ESRCH) are fine to ignore.
            unsafe {
                libc::killpg(pgid, signal);
            }
        }
    }
}

/// A running Node app under the inspector. Dropping it kills the app (see the module docs).
pub struct AppProcess {
    child: Child,
    pid: u32,
    port: u16,
    /// The loopback address the app answered on (127.0.0.1, or ::1 for `localhost` apps).
    host: std::net::IpAddr,
    inspector_url: String,
    log: LineLog,
    readers: Vec<JoinHandle<()>>,
    exit: Option<ExitStatus>,
    /// `true` once the whole process group has been killed and the child reaped.
    finished: bool,
}

impl std::fmt::Debug for AppProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppProcess")
            .field("pid", &self.pid)
            .field("port", &self.port)
            .field("inspector_url", &self.inspector_url)
            .field("exit", &self.exit)
            .finish_non_exhaustive()
    }
}

impl AppProcess {
    /// Boots `node --inspect=127.0.0.1:0 <node_args…> <script>` in `cfg.cwd`, reads the inspector
    /// URL from its stderr and waits until the app is ready (see [`AppConfig::ready_path`]).
    ///
    /// Must be polled from a thread that outlives the app (see the module docs). On any error
    /// the child is killed before this returns.
    pub async fn start(cfg: &AppConfig) -> Result<AppProcess, AppError> {
        if !cfg.cwd.is_dir() {
            return Err(AppError::Io {
                context: format!("the app folder {} is not a folder", cfg.cwd.display()),
                source: io::Error::from(io::ErrorKind::NotFound),
            });
        }
        let node = find_on_path("node").ok_or(AppError::NodeNotFound)?;
        let port = match cfg.port {
            Some(port) => port,
            None => free_port()?,
        };
        let log = LineLog::new(cfg.log_path.as_deref())?;

        let mut cmd = Command::new(&node);
        cmd.arg("--inspect=127.0.0.1:0")
            .args(&cfg.node_args)
            .arg(&cfg.script)
            .current_dir(&cfg.cwd)
            .envs(&cfg.env)
            .env("PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let parent = std::process::id();
        // SAFETY: the closure runs between fork and exec and only makes async-signal-safe
        // system calls (prctl, getppid, _exit).
        unsafe {
            cmd.pre_exec(move || {
                #[cfg(target_os = "linux")]
                {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                    // leakgate may have died between fork and prctl.
                    if u32::try_from(libc::getppid()).ok() != Some(parent) {
                        libc::_exit(137);
                    }
                }
                #[cfg(not(target_os = "linux"))]
                let _ = parent;
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|source| AppError::Spawn {
            program: node.display().to_string(),
            cwd: cfg.cwd.clone(),
            source,
        })?;
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let mut app = AppProcess {
            host: Ipv4Addr::LOCALHOST.into(),
            pid: child.id(),
            child,
            port,
            inspector_url: String::new(),
            log,
            readers: Vec::new(),
            exit: None,
            finished: false,
        };
        // From here on, every early return drops `app`, which kills the child.
        let (url_tx, url_rx) = tokio::sync::oneshot::channel();
        if let Some(stdout) = stdout {
            let reader = spawn_reader("stdout", stdout, app.log.clone(), None)?;
            app.readers.push(reader);
        }
        if let Some(stderr) = stderr {
            let reader = spawn_reader("stderr", stderr, app.log.clone(), Some(url_tx))?;
            app.readers.push(reader);
        }
        app.inspector_url = app.wait_for_inspector_url(url_rx).await?;
        app.wait_until_ready(cfg).await?;
        Ok(app)
    }

    /// The port the app was told to listen on (`PORT`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where the app answers: its port on the loopback address readiness found it on.
    pub fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from((self.host, self.port))
    }

    /// The process id of `node` (also its process group id).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The inspector's WebSocket URL, `ws://127.0.0.1:PORT/UUID`.
    pub fn inspector_url(&self) -> &str {
        &self.inspector_url
    }

    /// The last `max_lines` lines of the app's stdout and stderr, interleaved in arrival order.
    pub fn log_tail(&self, max_lines: usize) -> String {
        self.log.tail(max_lines)
    }

    /// `Err(AppError::Exited)` when the app has exited, with the end of its output.
    ///
    /// A Node script that ends (or calls `process.exit`) while an inspector session is attached
    /// does not exit: Node prints "Waiting for the debugger to disconnect..." and holds the
    /// process until the session closes. That also counts as exited here, with neither code nor
    /// signal; once the inspector disconnects, the real exit code follows.
    pub fn check_alive(&mut self) -> Result<(), AppError> {
        if self.poll_exit()?.is_none() {
            if self.log.inner().held_by_debugger {
                return Err(self.exited_error(false));
            }
            return Ok(());
        }
        let began = Instant::now();
        while !self.readers_done() && began.elapsed() < DRAIN_TIMEOUT {
            std::thread::sleep(Duration::from_millis(10));
        }
        Err(self.exited_error(false))
    }

    /// Ends the app: `SIGTERM` to its process group, up to 3 s for it to exit, then `SIGKILL`
    /// (which also ends whatever it left running in its group).
    pub async fn shutdown(mut self) -> Result<(), AppError> {
        if self.poll_exit()?.is_none() {
            signal_group(self.pid, libc::SIGTERM);
            let began = Instant::now();
            while self.poll_exit()?.is_none() && began.elapsed() < TERM_GRACE {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        signal_group(self.pid, libc::SIGKILL);
        if self.exit.is_none() {
            let status = self
                .child
                .wait()
                .map_err(AppError::io("could not wait for the app to exit"))?;
            self.exit = Some(status);
        }
        self.finished = true;
        Ok(())
    }

    /// Reaps the child when it has exited, without blocking.
    fn poll_exit(&mut self) -> Result<Option<ExitStatus>, AppError> {
        if self.exit.is_none() {
            self.exit = self
                .child
                .try_wait()
                .map_err(AppError::io("could not check whether the app is running"))?;
        }
        Ok(self.exit)
    }

    fn readers_done(&self) -> bool {
        self.readers.iter().all(JoinHandle::is_finished)
    }

    /// Waits a little for the output readers to reach the end, so error messages quote the
    /// app's last words. Something the app left running may hold the pipes open: hence the cap.
    async fn drain_readers(&self) {
        let began = Instant::now();
        while !self.readers_done() && began.elapsed() < DRAIN_TIMEOUT {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn exited_error(&self, before_ready: bool) -> AppError {
        AppError::Exited {
            code: self.exit.and_then(|s| s.code()),
            signal: self.exit.and_then(|s| s.signal()),
            before_ready,
            log_tail: self.log_tail(ERROR_TAIL_LINES),
        }
    }
}

impl Drop for AppProcess {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // Also when the leader has exited: the group may still hold processes it started.
        signal_group(self.pid, libc::SIGKILL);
        if self.exit.is_none() {
            let _ = self.child.wait();
        }
    }
}
