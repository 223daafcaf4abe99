//! The `leakgate` command line: `run` specs, `summary` one snapshot, `diff` a series.
//!
//! Exit codes: 0 when all is well, 1 when a spec did not meet its `expect`, 2 for bad input
//! (a spec, a snapshot file, an app that cannot start), with one paragraph on stderr.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use leakgate::analysis::{summarize, DiffBuilder};
use leakgate::report::{render_diff, render_summary, DiffJson};
use leakgate::snapshot;

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
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot encode JSON: {0}")]
    Json(#[from] serde_json::Error),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Summary { file, json, top } => summary(&file, json.as_deref(), top),
        Command::Diff {
            files,
            json,
            top,
            min_survivors,
        } => diff(&files, json.as_deref(), top, min_survivors),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("leakgate: {e}");
            ExitCode::from(2)
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
    std::fs::write(out, text).map_err(|source| CliError::Write {
        path: out.to_path_buf(),
        source,
    })
}

fn summary(file: &Path, json: Option<&Path>, top: usize) -> Result<ExitCode, CliError> {
    let graph = read(file)?;
    let summary = summarize(&graph);
    drop(graph);
    match json {
        Some(out) if out == Path::new("-") => write_json(out, &summary)?,
        Some(out) => {
            write_json(out, &summary)?;
            print!("{}", render_summary(&summary, top));
        }
        None => print!("{}", render_summary(&summary, top)),
    }
    Ok(ExitCode::SUCCESS)
}

fn diff(
    files: &[PathBuf],
    json: Option<&Path>,
    top: usize,
    min_survivors: u64,
) -> Result<ExitCode, CliError> {
    let mut builder = DiffBuilder::new();
    let (last, earlier) = files.split_last().expect("clap requires two files");
    for file in earlier {
        let graph = read(file)?;
        builder.add_earlier(&graph);
    }
    let last_graph = read(last)?;
    let diff = builder.finish(&last_graph);
    let growing = diff.growing_classes(min_survivors);
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let report = DiffJson {
        files: names.clone(),
        snapshots: &diff.snapshots,
        growing: &growing,
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
    }
    Ok(ExitCode::SUCCESS)
}
