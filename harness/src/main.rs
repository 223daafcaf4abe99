//! The `leakgate` command line: `run` specs, `summary` one snapshot, `diff` a series, `compare`
//! two runs.
//!
//! Exit codes: 0 when all is well, 1 when a spec did not meet its `expect`, 2 for bad input
//! (a spec, a snapshot file, an app that cannot start), with one paragraph on stderr. Under
//! `run --detailed-exit-codes` a spec that could not run exits by whose failure it was
//! ([`ErrorKind::exit_code`]): scripts can tell a broken app from a broken machine.
//!
//! `run` also writes reports for CI: a folder of per-spec JSON and SVG charts plus JUnit XML
//! (`--report-dir`), JUnit XML alone (`--junit`), and under GitHub Actions `::error`
//! annotations on stdout and a table in the step summary.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use leakgate::analysis::retainers::{top_retainers as top_retainers_of, TopRetainer};
use leakgate::analysis::verdict::ENGINE_CLASSES;
use leakgate::analysis::{summarize, DiffBuilder};
use leakgate::explain::{retainers_of, GraphIndex, MAX_EXPLAINED_SUSPECTS};
use leakgate::report::github::{annotations_allowed, count_annotations, MAX_ERRORS_PER_STEP};
use leakgate::report::stable::render_stable;
use leakgate::report::{
    annotations, overflow_summary, render_diff, render_junit, render_retainers, render_run,
    render_summary, render_top_retainers, step_summary, DiffJson, RunJson, SpecJson,
};
use leakgate::report_files::{append_file, write_file, write_report_dir};
use leakgate::runner::{run_spec, ErrorKind, KeepSnapshots, RunOptions, SpecRun};
use leakgate::settings::{Choices, Settings};
use leakgate::snapshot;
use leakgate::spec::{discover, load_spec, Spec, SpecError};
use leakgate::stored_reports::{accept_pending, store};

#[derive(Parser)]
#[command(
    name = "leakgate",
    version,
    about = "Leak regression tests for Node.js services"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run specs (files or folders of `*.yaml`) against their apps and judge each.
    Run {
        /// Spec files or folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Also write the results as JSON to this file (`-` for stdout).
        #[arg(long, value_name = "OUT")]
        json: Option<PathBuf>,
        /// Keep heap snapshots: never, on-failure or always (they go under --artifacts).
        #[arg(long, value_name = "WHEN", value_parser = parse_keep)]
        keep_snapshots: Option<KeepSnapshots>,
        /// Folder for kept snapshots and app logs (default: ./leakgate-artifacts when kept).
        #[arg(long, value_name = "DIR")]
        artifacts: Option<PathBuf>,
        /// Specs run at once (default: the number of CPUs). Verdicts count objects, not time,
        /// so runs sharing the CPUs judge alike.
        #[arg(long, value_parser = parse_jobs)]
        jobs: Option<usize>,
        /// Write reports to this folder: `NAME.json` and an `NAME.svg` chart per spec, and
        /// `junit.xml` for all.
        #[arg(long, value_name = "DIR")]
        report_dir: Option<PathBuf>,
        /// Also write a JUnit XML report of all specs to this file.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Store each passing spec's stable report as its snapshot (`snapshots/NAME.snap`
        /// beside the spec) when it is new or changed.
        #[arg(long)]
        accept: bool,
        /// Print, for each leak found, the `assert.allow` entry that would allow it.
        #[arg(long)]
        suggest_allow: bool,
        /// When a spec could not run, exit by whose failure it was: 2 the spec, 3 the app,
        /// 4 the environment, 5 leakgate (the highest when several). Without it, 2.
        #[arg(long)]
        detailed_exit_codes: bool,
    },
    /// Write a starter spec for the Node project in DIR (default: the current folder) to
    /// DIR/specs/NAME.yaml, and say what to check in it.
    Init {
        /// The project's folder (with its package.json).
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Accept the reports waiting for review (`snapshots/NAME.snap.new`, written by a test run
    /// whose report was new or changed) of the specs under PATH (default: specs).
    Accept {
        /// Spec files or folders.
        #[arg(default_value = "specs")]
        paths: Vec<PathBuf>,
    },
    /// Node and edge counts and the per-class table of one heap snapshot.
    Summary {
        /// A `.heapsnapshot` file (gzipped is fine).
        file: PathBuf,
        /// Also write the summary as JSON to this file (`-` for stdout).
        #[arg(long, value_name = "OUT")]
        json: Option<PathBuf>,
        /// How many classes the text table shows.
        #[arg(long, default_value_t = 25)]
        top: usize,
        /// Also compute the dominator tree and list the N objects that retain the most memory,
        /// with how each is held.
        #[arg(long, value_name = "N")]
        top_retainers: Option<usize>,
    },
    /// Compare the reports of two runs of the same specs (base and head revisions), leak by
    /// leak: new, grown, fixed, unchanged. Exit 1 on a new or grown leak.
    Compare {
        /// BASE: a `leakgate run --json` file or a `--report-dir` folder.
        base: PathBuf,
        /// HEAD: the same, for the revision under review.
        head: PathBuf,
        /// Also write the comparison as JSON to this file (`-` for stdout).
        #[arg(long, value_name = "OUT")]
        json: Option<PathBuf>,
    },
    /// Compare snapshots of one process, in time order: counts, survivors by id, growth.
    Diff {
        /// Two or more `.heapsnapshot` files of one process, oldest first.
        #[arg(required = true, num_args = 2..)]
        files: Vec<PathBuf>,
        /// Also write the comparison as JSON to this file (`-` for stdout).
        #[arg(long, value_name = "OUT")]
        json: Option<PathBuf>,
        /// How many classes each text table shows.
        #[arg(long, default_value_t = 25)]
        top: usize,
        /// Survivors a class must leave in every interval to be listed as growing.
        #[arg(long, default_value_t = 1)]
        min_survivors: u64,
    },
}

/// A failure that ends the command with exit code 2.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("{path}: {source}")]
    Snapshot {
        path: PathBuf,
        source: snapshot::SnapshotError,
    },
    #[error("cannot write {path}: {reason}")]
    Output { path: PathBuf, reason: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot encode JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Spec(#[from] SpecError),
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Specs(Vec<SpecError>),
    #[error("{0}")]
    Env(#[from] leakgate::env::EnvError),
    #[error("{0}")]
    Report(#[from] leakgate::report_files::WriteError),
    #[error("{0}")]
    Init(#[from] leakgate::init::InitError),
    #[error("{0}")]
    Compare(#[from] leakgate::compare::CompareError),
}

impl CliError {
    /// Whose failure this is, for `run --detailed-exit-codes`: a report that cannot be written
    /// is the machine's, what leakgate cannot encode its own, and everything else is bad input
    /// found before anything ran (a spec file, an output path, an environment variable).
    fn kind(&self) -> ErrorKind {
        match self {
            CliError::Write { .. } | CliError::Report(_) => ErrorKind::Environment,
            CliError::Json(_) => ErrorKind::Leakgate,
            _ => ErrorKind::Spec,
        }
    }
}

fn parse_jobs(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(0) => Err("must be at least 1 (leave --jobs out for one per CPU)".to_string()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{value}` is not a whole number")),
    }
}

/// Checks before the run that an output file can be written: its folder exists (or can be
/// made) and it is not a folder, so that a typo costs a second, not a whole run.
fn check_output(path: &Path, makes_folder: bool) -> Result<(), CliError> {
    if path == Path::new("-") {
        return Ok(());
    }
    let fail = |message: &str| CliError::Output {
        path: path.to_path_buf(),
        reason: message.to_string(),
    };
    if path.is_dir() {
        return Err(fail("it is a folder"));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if parent.exists() && !parent.is_dir() {
            return Err(fail("its parent is not a folder"));
        }
        if !makes_folder && !parent.is_dir() {
            return Err(fail(&format!(
                "the folder {} does not exist",
                parent.display()
            )));
        }
        let mut ancestor = parent;
        while !ancestor.exists() {
            match ancestor.parent() {
                Some(up) if !up.as_os_str().is_empty() => ancestor = up,
                _ => break,
            }
        }
        let probe =
            std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(ancestor.as_os_str()))
                .map_err(|_| fail("the path holds a NUL byte"))?;
        // SAFETY: access() reads a NUL-terminated path.
        if ancestor.exists() && unsafe { libc::access(probe.as_ptr(), libc::W_OK) } != 0 {
            return Err(fail(&format!("{} is not writable", ancestor.display())));
        }
    }
    Ok(())
}

fn parse_keep(value: &str) -> Result<KeepSnapshots, String> {
    leakgate::env::parse_keep(value)
        .ok_or_else(|| format!("`{value}` is not one of: never, on-failure, always"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let detailed = matches!(
        cli.command,
        Command::Run {
            detailed_exit_codes: true,
            ..
        }
    );
    let result = match cli.command {
        Command::Run {
            paths,
            json,
            keep_snapshots,
            artifacts,
            jobs,
            report_dir,
            junit,
            accept,
            suggest_allow,
            detailed_exit_codes,
        } => run(
            &paths,
            &Outputs {
                json: json.as_deref(),
                report_dir: report_dir.as_deref(),
                junit: junit.as_deref(),
                accept,
                suggest_allow,
                detailed_exit_codes,
            },
            keep_snapshots,
            artifacts,
            jobs,
        ),
        Command::Summary {
            file,
            json,
            top,
            top_retainers,
        } => summary(&file, json.as_deref(), top, top_retainers),
        Command::Diff {
            files,
            json,
            top,
            min_survivors,
        } => diff(&files, json.as_deref(), top, min_survivors),
        Command::Accept { paths } => accept(&paths),
        Command::Init { dir } => init(&dir),
        Command::Compare { base, head, json } => compare(&base, &head, json.as_deref()),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("leakgate: {e}");
            ExitCode::from(if detailed { e.kind().exit_code() } else { 2 })
        }
    }
}

fn read(path: &Path) -> Result<snapshot::HeapGraph, CliError> {
    snapshot::read_file(path).map_err(|source| CliError::Snapshot {
        path: path.to_path_buf(),
        source,
    })
}

fn write_json<T: serde::Serialize>(out: &Path, value: &T) -> Result<(), CliError> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    if out == Path::new("-") {
        print!("{text}");
        return Ok(());
    }
    Ok(write_file(out, &text)?)
}

fn summary(
    file: &Path,
    json: Option<&Path>,
    top: usize,
    top_retainers: Option<usize>,
) -> Result<ExitCode, CliError> {
    // The class table needs no edges; the retainers do.
    let graph = if top_retainers.is_some() {
        read(file)?
    } else {
        snapshot::read_file_without_edges(file).map_err(|source| CliError::Snapshot {
            path: file.to_path_buf(),
            source,
        })?
    };
    let summary = summarize(&graph);
    let retainers = top_retainers.map(|n| {
        let index = GraphIndex::new(&graph);
        top_retainers_of(&graph, &index.paths, &index.dominators, n)
    });
    drop(graph);
    let report = SummaryJson {
        summary: &summary,
        top_retainers: retainers.as_deref(),
    };
    if let Some(out) = json {
        write_json(out, &report)?;
    }
    if json != Some(Path::new("-")) {
        print!("{}", render_summary(&summary, top));
        if let Some(list) = &retainers {
            print!("{}", render_top_retainers(list));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The JSON of `leakgate summary`: the summary's fields, plus `top_retainers` when asked.
#[derive(serde::Serialize)]
struct SummaryJson<'a> {
    #[serde(flatten)]
    summary: &'a leakgate::analysis::Summary,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_retainers: Option<&'a [TopRetainer]>,
}

fn diff(
    files: &[PathBuf],
    json: Option<&Path>,
    top: usize,
    min_survivors: u64,
) -> Result<ExitCode, CliError> {
    let mut builder = DiffBuilder::new();
    // clap requires two files; an empty list is still an error, not a panic.
    let Some((last, earlier)) = files.split_last() else {
        eprintln!("leakgate: diff needs at least two snapshot files");
        return Ok(ExitCode::from(2));
    };
    for file in earlier {
        let graph = read(file)?;
        builder.add_earlier(&graph);
    }
    let last_graph = read(last)?;
    let diff = builder.finish(&last_graph);
    let growing = diff.growing_classes(min_survivors);
    let retainers = if growing.is_empty() {
        Vec::new()
    } else {
        let index = GraphIndex::new(&last_graph);
        let classes: Vec<&str> = growing
            .iter()
            .filter(|g| !ENGINE_CLASSES.contains(&g.class.as_str()))
            .take(MAX_EXPLAINED_SUSPECTS)
            .map(|g| g.class.as_str())
            .collect();
        retainers_of(&last_graph, &diff, &index, &classes)
    };
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let report = DiffJson {
        files: names.clone(),
        snapshots: &diff.snapshots,
        growing: &growing,
        retainers: &retainers,
        classes: diff
            .classes
            .iter()
            .filter(|c| {
                c.survivors.iter().skip(1).any(|&s| s > 0)
                    || c.counts.windows(2).any(|w| w[0] != w[1])
            })
            .collect(),
    };
    if let Some(out) = json {
        write_json(out, &report)?;
    }
    if json != Some(Path::new("-")) {
        print!("{}", render_diff(&names, &diff, &growing, top));
        print!("{}", render_retainers(&retainers));
    }
    Ok(ExitCode::SUCCESS)
}

fn compare(base: &Path, head: &Path, json: Option<&Path>) -> Result<ExitCode, CliError> {
    use leakgate::compare::render;
    let settings = leakgate::env::settings()?;
    let base = leakgate::compare::load_reports(base)?;
    let head = leakgate::compare::load_reports(head)?;
    let comparison = leakgate::compare::compare(&base, &head);
    if let Some(out) = json {
        write_json(out, &comparison)?;
    }
    if json != Some(Path::new("-")) {
        print!("{}", render::render_text(&comparison));
    }
    if settings.github_actions {
        let cwd = std::env::current_dir().unwrap_or_default();
        eprint!("{}", render::render_annotations(&comparison, &cwd));
    }
    if let Some(summary) = &settings.github_step_summary {
        append_file(summary, &render::render_step_summary(&comparison))?;
    }
    Ok(ExitCode::from(comparison.exit_code()))
}

/// Where `run` writes its reports besides the text on stderr.
struct Outputs<'a> {
    /// `--json`.
    json: Option<&'a Path>,
    /// `--report-dir`.
    report_dir: Option<&'a Path>,
    /// `--junit`.
    junit: Option<&'a Path>,
    /// `--accept`.
    accept: bool,
    /// `--suggest-allow`.
    suggest_allow: bool,
    /// `--detailed-exit-codes`.
    detailed_exit_codes: bool,
}

/// Loads every spec under `paths`; all errors together.
fn load_specs(paths: &[PathBuf]) -> Result<Vec<Spec>, CliError> {
    let files = discover(paths)?;
    let mut specs: Vec<Spec> = Vec::new();
    let mut errors = Vec::new();
    for file in &files {
        match load_spec(file) {
            Ok(spec) => specs.push(spec),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(specs)
    } else {
        Err(CliError::Specs(errors))
    }
}

/// `leakgate init`: a starter spec and what to check.
fn init(dir: &Path) -> Result<ExitCode, CliError> {
    let written = leakgate::init::init(dir)?;
    eprintln!("leakgate: wrote {}", written.file.display());
    eprintln!("check before trusting a verdict:");
    for note in &written.notes {
        eprintln!("  - {note}");
    }
    eprintln!("then run it: leakgate run {}", written.file.display());
    Ok(ExitCode::SUCCESS)
}

/// `leakgate accept`: pending reports become the stored ones.
fn accept(paths: &[PathBuf]) -> Result<ExitCode, CliError> {
    let specs = load_specs(paths)?;
    let accepted = accept_pending(&specs).map_err(|source| CliError::Write {
        path: paths.first().cloned().unwrap_or_default(),
        source,
    })?;
    if accepted.is_empty() {
        eprintln!("leakgate: no report waits for review (no snapshots/NAME.snap.new)");
    }
    for file in &accepted {
        eprintln!("leakgate: accepted {}", file.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `leakgate run --accept`: stores the stable report of each spec that met its `expect`.
fn store_reports(pairs: &[(&Spec, &SpecRun)]) -> Result<(), CliError> {
    for (spec, run) in pairs {
        if !spec.report_snapshot {
            continue;
        }
        if !run.passed() {
            eprintln!(
                "leakgate: not accepting the report of `{}`: the spec did not meet its expect",
                spec.name
            );
            continue;
        }
        let stored = store(spec, &render_stable(spec, run)).map_err(|source| CliError::Write {
            path: leakgate::stored_reports::snapshot_file(spec),
            source,
        })?;
        match stored {
            Some(file) => eprintln!("leakgate: stored {}", file.display()),
            None => eprintln!("leakgate: the report of `{}` is unchanged", spec.name),
        }
    }
    Ok(())
}

fn run(
    paths: &[PathBuf],
    outputs: &Outputs,
    keep: Option<KeepSnapshots>,
    artifacts: Option<PathBuf>,
    jobs: Option<usize>,
) -> Result<ExitCode, CliError> {
    let flags = Choices {
        keep_snapshots: keep,
        artifacts,
        jobs,
        specs: None,
    };
    let settings = Settings::from_env(&flags, &Choices::default())?;
    leakgate::app::lifetime::exit_on_signals();
    leakgate::app::lifetime::remove_stale_temp_dirs();
    // Every spec and output path is checked before anything runs.
    let specs = load_specs(paths)?;
    if let Some(out) = outputs.json {
        check_output(out, true)?;
    }
    if let Some(out) = outputs.junit {
        check_output(out, true)?;
    }
    let options = RunOptions {
        progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
        ..settings.run.clone()
    };
    let jobs = settings.jobs;
    let runs = run_all(&specs, &options, jobs);
    let pairs: Vec<(&Spec, &SpecRun)> = specs.iter().zip(&runs).collect();
    let json = outputs.json;
    let report = RunJson {
        specs: runs.iter().map(SpecJson::from_run).collect(),
    };
    if let Some(out) = json {
        write_json(out, &report)?;
    }
    if let Some(dir) = outputs.report_dir {
        write_report_dir(dir, &pairs)?;
    }
    if let Some(out) = outputs.junit {
        write_file(out, &render_junit(&pairs))?;
    }
    if outputs.accept {
        store_reports(&pairs)?;
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    let allowed = if settings.github_actions {
        annotations_allowed(settings.github_job_annotations.as_deref())
    } else {
        MAX_ERRORS_PER_STEP
    };
    if settings.github_actions {
        let lines = annotations(&pairs, &cwd, allowed);
        if let Some(count) = &settings.github_job_annotations {
            // The count is a courtesy to later steps: failing to keep it fails nothing.
            let _ = count_annotations(count, lines.lines().count());
        }
        // The runner reads workflow commands from stderr too, so JSON on stdout stays clean.
        if json == Some(Path::new("-")) {
            eprint!("{lines}");
        } else {
            print!("{lines}");
        }
    }
    if let Some(summary) = &settings.github_step_summary {
        let text = step_summary(&pairs) + &overflow_summary(&pairs, &cwd, allowed);
        append_file(summary, &text)?;
    }
    if outputs.suggest_allow {
        let text: String = runs
            .iter()
            .map(leakgate::report::suggest::render_suggestions)
            .collect();
        // On stdout with the summary line, unless stdout carries the JSON.
        if json == Some(Path::new("-")) {
            eprint!("{text}");
        } else {
            print!("{text}");
        }
    }
    let errors = runs.iter().filter(|r| r.outcome.is_err()).count();
    let failed = runs.iter().filter(|r| !r.passed()).count();
    if json != Some(Path::new("-")) {
        println!("{}", summary_line(runs.len(), failed, errors));
    }
    let kinds = runs
        .iter()
        .filter_map(|r| r.outcome.as_ref().err())
        .map(|e| e.kind());
    Ok(ExitCode::from(run_exit_code(
        kinds,
        failed > 0,
        outputs.detailed_exit_codes,
    )))
}

/// `run`'s exit code: 0 every spec met its `expect`, 1 one did not, and when any could not
/// run, 2, or under `--detailed-exit-codes` the highest of their kinds' codes.
fn run_exit_code(
    errors: impl IntoIterator<Item = ErrorKind>,
    any_failed: bool,
    detailed: bool,
) -> u8 {
    let worst = errors.into_iter().map(ErrorKind::exit_code).max();
    match worst {
        Some(code) if detailed => code,
        Some(_) => 2,
        None if any_failed => 1,
        None => 0,
    }
}

/// `3 specs: 1 passed, 1 failed, 1 error`: failures and errors counted apart, words in the
/// singular for one.
fn summary_line(total: usize, not_passed: usize, errors: usize) -> String {
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let failed = not_passed - errors;
    let mut line = format!(
        "{}: {} passed, {} failed",
        plural(total, "spec", "specs"),
        total - not_passed,
        failed
    );
    if errors > 0 {
        line.push_str(&format!(", {}", plural(errors, "error", "errors")));
    }
    line
}

/// Runs the specs on `jobs` threads, printing each report as it finishes; results in spec
/// order.
fn run_all(specs: &[Spec], options: &RunOptions, jobs: usize) -> Vec<SpecRun> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: std::sync::Mutex<Vec<Option<SpecRun>>> =
        std::sync::Mutex::new(specs.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(specs.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(spec) = specs.get(i) else { return };
                let run = run_spec(spec, options);
                eprint!("{}", render_run(&run));
                if let Ok(mut slots) = results.lock() {
                    slots[i] = Some(run);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{run_exit_code, summary_line, ErrorKind};

    #[test]
    fn the_exit_code_stays_2_unless_detailed_and_the_highest_kind_wins() {
        use ErrorKind::{App, Environment, Leakgate, Spec};
        assert_eq!(run_exit_code([], false, true), 0);
        assert_eq!(run_exit_code([], true, true), 1);
        assert_eq!(run_exit_code([], true, false), 1);
        for kind in [Spec, App, Environment, Leakgate] {
            assert_eq!(run_exit_code([kind], true, false), 2);
            assert_eq!(run_exit_code([kind], true, true), kind.exit_code());
        }
        assert_eq!(run_exit_code([App, Spec], false, true), 3);
        assert_eq!(run_exit_code([App, Environment, Spec], true, true), 4);
        assert_eq!(run_exit_code([Leakgate, Environment], false, true), 5);
        assert_eq!(run_exit_code([Leakgate, Environment], false, false), 2);
    }

    #[test]
    fn the_summary_line_counts_failures_and_errors_apart() {
        assert_eq!(summary_line(1, 1, 1), "1 spec: 0 passed, 0 failed, 1 error");
        assert_eq!(
            summary_line(3, 2, 1),
            "3 specs: 1 passed, 1 failed, 1 error"
        );
        assert_eq!(summary_line(2, 0, 0), "2 specs: 2 passed, 0 failed");
    }
}
