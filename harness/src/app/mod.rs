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
//! * `SIGINT` and `SIGTERM` of leakgate: [`lifetime::exit_on_signals`] kills every app tree and
//!   removes the temporary folders before leakgate exits;
//! * `SIGKILL` of leakgate itself: the child is spawned with
//!   `prctl(PR_SET_PDEATHSIG, SIGKILL)`, so the kernel kills it when leakgate dies, even when no
//!   destructor gets to run.
//!
//! Each of these kills the whole tree the app started, also children that left its process
//! group (`detached`), which leakgate finds as a child subreaper (see [`lifetime`]).
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
//! # Scripts and commands
//! A script runs as `node --inspect=127.0.0.1:0 --inspect-publish-uid=stderr [node_args]
//! SCRIPT`, and the inspector is the child's own. A command (`npm start`, `[node, --import,
//! tsx, src/server.ts]`) may start several node processes, npm itself among them, so the inspector is enabled for all of them
//! with `NODE_OPTIONS` and the one measured is the process that holds the port's listening
//! socket (`owner.rs`): its inspector URL is the one, of those printed on stderr, whose port
//! that process also listens on. Readiness also checks ownership for scripts, so a port
//! answered by someone else is never measured; a fixed port is held exclusively while the app
//! runs (`port_lock.rs`).
//!
//! # The inspector's reach
//! Every node process gets [`INSPECT_FLAGS`]: the inspector on a random loopback port, with
//! the session's id published on stderr only. Node accepts any number of WebSocket sessions
//! (a second client attaches beside leakgate's on Node 20, 22 and 24), so holding the session
//! does not keep others out; what does is the id: the WebSocket path must carry it, and
//! without `/json/list` (which answers 404 under `--inspect-publish-uid=stderr`) another
//! process learns it only from the app's stderr, which leakgate reads through a pipe and
//! keeps in a 0600 log.
//!
//! # Preparing the folder
//! [`prepare()`] runs `npm ci` when the app's `package-lock.json` is newer than what is installed.
//! Tests often run in parallel, in many threads or (under cargo-nextest) in many processes, and
//! two concurrent `npm ci` runs in one folder wreck each other's `node_modules`. So the install
//! runs under an exclusive `flock` on a lock file in this user's `0700` lock folder, named from
//! a hash of the canonical folder path, and freshness is checked again once the lock is held
//! (`prepare.rs`).

pub mod lifetime;
mod log;
mod owner;
mod port_lock;
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

pub use log::tail_of_file;
use log::{spawn_reader, LineLog};
pub use prepare::{prepare, PrepareOutcome, NPM_LOCK_TIMEOUT};

/// Grace period between `SIGTERM` and `SIGKILL` in [`AppProcess::shutdown`].
const TERM_GRACE: Duration = Duration::from_secs(3);
/// How long to wait for the output readers to reach the end once the child has exited.
const DRAIN_TIMEOUT: Duration = Duration::from_millis(500);
/// How often [`AppProcess::check_alive`] records the app's descendants.
const DESCENDANT_SCAN: Duration = Duration::from_millis(500);
/// Lines of output quoted in error messages.
const ERROR_TAIL_LINES: usize = 40;

/// A command that starts the app as its team does (`app.command` in a spec).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppCommand {
    /// A line run by `sh -c`, e.g. `npm start`.
    Shell(String),
    /// A program and its arguments, e.g. `[node, --import, tsx, src/server.ts]`; the program
    /// is looked up on `PATH`.
    Argv(Vec<String>),
}

impl std::fmt::Display for AppCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppCommand::Shell(line) => f.write_str(line),
            AppCommand::Argv(argv) => f.write_str(&argv.join(" ")),
        }
    }
}

/// How to boot the app.
#[derive(Debug, Clone, PartialEq)]
pub struct AppConfig {
    /// The script given to `node`; a relative path is relative to `cwd`. Exactly one of
    /// `script` and `command` is set.
    pub script: Option<PathBuf>,
    /// A command to run instead of `node SCRIPT`. The inspector reaches every node process it
    /// starts through `NODE_OPTIONS=--inspect=127.0.0.1:0`, and the one that listens on the
    /// port is the one measured. `node_args` do not apply.
    pub command: Option<AppCommand>,
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
            script: Some(script.into()),
            command: None,
            cwd: cwd.into(),
            env: BTreeMap::new(),
            node_args: Vec::new(),
            port: None,
            ready_path: None,
            ready_timeout: Duration::from_secs(30),
            log_path: None,
        }
    }

    /// Like [`new`](Self::new), but the app is started by `command`.
    pub fn command(command: AppCommand, cwd: impl Into<PathBuf>) -> AppConfig {
        AppConfig {
            script: None,
            command: Some(command),
            ..AppConfig::new("", cwd)
        }
    }
}

/// Why the app could not be prepared, started or kept running.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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
        "`npm ci` failed in {} ({}); last lines of npm's output:\n{log_tail}",
        cwd.display(),
        code.map_or("killed by a signal".to_string(), |c| format!("exit code {c}"))
    )]
    NpmFailed {
        /// The folder it ran in.
        cwd: PathBuf,
        /// npm's exit code, `None` when it was killed by a signal.
        code: Option<i32>,
        /// The last lines of npm's output, part of the message.
        log_tail: String,
    },
    /// Another process held the folder's install lock for too long.
    #[error(
        "waited {}s for another `npm ci` in {} to finish: {holder} holds the lock {}; \
         stop it, or remove the lock file once no install runs",
        waited.as_secs(),
        cwd.display(),
        lock.display()
    )]
    NpmLockTimeout {
        /// The folder being prepared.
        cwd: PathBuf,
        /// The lock file.
        lock: PathBuf,
        /// How long leakgate waited.
        waited: Duration,
        /// Who holds it, as far as known.
        holder: String,
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
         is `--inspect` disabled or overridden (NODE_OPTIONS)?",
        if *exited { "exited".to_string() } else { format!("ran for {waited:?}") }
    )]
    NoInspectorUrl {
        /// How long leakgate waited.
        waited: Duration,
        /// `true` when node exited, `false` when it kept running silently.
        exited: bool,
        /// The last lines of its output (not in the message: see [`AppError::log_tail`]).
        log_tail: String,
    },
    /// The app exited on its own.
    #[error(
        "the app {} {}",
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
        /// The last lines of its output (not in the message: see [`AppError::log_tail`]).
        log_tail: String,
    },
    /// The app kept running but never became ready.
    #[error(
        "the app did not become ready within {timeout:?} (`app.ready.timeout`): waited for \
         {waiting_for}, the last attempt gave: {last_attempt}{}",
        hint.as_deref().map(|h| format!(". {h}")).unwrap_or_default()
    )]
    NeverReady {
        /// What the app did instead, and the fix (e.g. it listens on another port).
        hint: Option<String>,
        /// The configured readiness timeout.
        timeout: Duration,
        /// What readiness meant, e.g. `GET http://127.0.0.1:3000/health to answer 2xx`.
        waiting_for: String,
        /// The outcome of the last probe, e.g. `connection refused`.
        last_attempt: String,
        /// The last lines of its output (not in the message: see [`AppError::log_tail`]).
        log_tail: String,
    },
    /// Something other than the app answers on its port.
    #[error(
        "port {port} is answered by {}, not by the app leakgate started; {}",
        match (pid, command) {
            (Some(pid), Some(cmd)) => format!("another process (pid {pid}: `{cmd}`)"),
            (Some(pid), None) => format!("another process (pid {pid})"),
            _ => "another process (of another user, or gone)".to_string(),
        },
        if *fixed {
            "stop it, or leave `app.port` out of the spec so that leakgate gives the app a free \
             port in PORT"
        } else {
            "it took the free port leakgate chose for the app: run again"
        }
    )]
    PortTaken {
        /// The port.
        port: u16,
        /// The process that holds it, when it could be found.
        pid: Option<u32>,
        /// Its command line, when readable.
        command: Option<String>,
        /// `true` when the port is the spec's `app.port`.
        fixed: bool,
        /// The last lines of the app's output (not in the message: see
        /// [`AppError::log_tail`]).
        log_tail: String,
    },
    /// The app's port is served by a process leakgate cannot measure.
    #[error("{reason}")]
    Unmeasurable {
        /// Why, and what to do.
        reason: String,
        /// The last lines of the app's output (not in the message: see
        /// [`AppError::log_tail`]).
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
    /// The app's last lines of output when the app had started, kept apart from the message
    /// (which says what failed) so that a report prints them once. `npm ci`'s output is part
    /// of its failure's message instead: it is not the app's.
    pub fn log_tail(&self) -> Option<&str> {
        match self {
            AppError::NoInspectorUrl { log_tail, .. }
            | AppError::Exited { log_tail, .. }
            | AppError::NeverReady { log_tail, .. }
            | AppError::PortTaken { log_tail, .. }
            | AppError::Unmeasurable { log_tail, .. } => Some(log_tail),
            _ => None,
        }
    }

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

/// The flags that start each node process's inspector: on a random loopback port, and with
/// its session's id printed on stderr only, not listed at `/json/list` for any local process.
pub const INSPECT_FLAGS: [&str; 2] = ["--inspect=127.0.0.1:0", "--inspect-publish-uid=stderr"];

/// `NODE_OPTIONS` for a command: the app's own (from `app.env`, else leakgate's environment)
/// followed by the inspector on a free loopback port, so that every node process the command
/// starts can be inspected.
fn node_options(cfg: &AppConfig) -> String {
    let own = cfg
        .env
        .get("NODE_OPTIONS")
        .cloned()
        .or_else(|| std::env::var("NODE_OPTIONS").ok())
        .unwrap_or_default();
    let own = own.trim();
    let inspect = INSPECT_FLAGS.join(" ");
    if own.is_empty() {
        inspect
    } else {
        format!("{own} {inspect}")
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
    /// The process listening on the port (see [`AppProcess::serving_pid`]).
    serving_pid: u32,
    /// Held while the app runs on a fixed port.
    _port_lock: Option<port_lock::PortLock>,
    /// When the app's descendants were last recorded (see [`lifetime`]).
    last_scan: Instant,
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
    /// Boots `node INSPECT_FLAGS <node_args…> <script>` (or `cfg.command`) in
    /// `cfg.cwd`, waits until the app is ready (see [`AppConfig::ready_path`]) and the port is
    /// served by a process it started, and picks that process's inspector URL from stderr.
    /// With a fixed port, first waits until no other app of leakgate's runs on it.
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
        if lifetime::stopping() {
            return Err(AppError::Io {
                context: "leakgate is stopping (a signal asked it to)".to_string(),
                source: io::ErrorKind::Interrupted.into(),
            });
        }
        let node = find_on_path("node").ok_or(AppError::NodeNotFound)?;
        lifetime::become_subreaper();
        // Held until the app has ended: specs with the same fixed port never run at once.
        let port_lock = match cfg.port {
            Some(port) => Some(
                port_lock::lock_port(port, || {
                    eprintln!(
                        "leakgate: port {port} is in use by another spec's app; waiting for it to end"
                    );
                })
                .await
                .map_err(AppError::io(format!("could not lock port {port}")))?,
            ),
            None => None,
        };
        let port = match cfg.port {
            Some(port) => port,
            None => free_port()?,
        };
        let log = LineLog::new(cfg.log_path.as_deref())?;

        let (mut cmd, program) = match (&cfg.command, &cfg.script) {
            (Some(command), _) => {
                let mut cmd = match command {
                    AppCommand::Shell(line) => {
                        let mut cmd = Command::new("/bin/sh");
                        cmd.arg("-c").arg(line);
                        cmd
                    }
                    AppCommand::Argv(argv) => {
                        let mut cmd = Command::new(argv.first().map_or("", String::as_str));
                        cmd.args(argv.iter().skip(1));
                        cmd
                    }
                };
                cmd.envs(&cfg.env);
                cmd.env("NODE_OPTIONS", node_options(cfg));
                (cmd, command.to_string())
            }
            (None, Some(script)) => {
                let mut cmd = Command::new(&node);
                cmd.args(INSPECT_FLAGS)
                    .args(&cfg.node_args)
                    .arg(script)
                    .envs(&cfg.env);
                (cmd, node.display().to_string())
            }
            (None, None) => {
                return Err(AppError::Io {
                    context: "the app config names neither a script nor a command".to_string(),
                    source: io::Error::from(io::ErrorKind::InvalidInput),
                })
            }
        };
        cmd.current_dir(&cfg.cwd)
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
            program,
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
            serving_pid: 0,
            _port_lock: port_lock,
            last_scan: Instant::now(),
        };
        lifetime::register_app(app.pid);
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
        if cfg.command.is_none() {
            app.inspector_url = app.wait_for_inspector_url(url_rx).await?;
        }
        app.serving_pid = app.wait_until_ready(cfg).await?;
        app.check_measurable(cfg.command.is_some()).await?;
        lifetime::record_descendants(app.pid);
        Ok(app)
    }

    /// The process that serves the port: the one measured. For a script it is [`pid`](Self::pid);
    /// for a command, usually a descendant of it.
    pub fn serving_pid(&self) -> u32 {
        self.serving_pid
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
        if self.last_scan.elapsed() >= DESCENDANT_SCAN {
            self.last_scan = Instant::now();
            lifetime::record_descendants(self.pid);
        }
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
        lifetime::kill_tree(self.pid);
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
        // Also when the leader has exited: its group and tree may still hold processes.
        lifetime::kill_tree(self.pid);
        if self.exit.is_none() {
            let _ = self.child.wait();
        }
    }
}
