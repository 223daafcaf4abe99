//! Drives the built-in load generator at an address and prints its throughput.
//!
//! `cargo run --release --example loadgen -- --addr 127.0.0.1:3000 --requests 50000 --concurrency 16`

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use leakgate::load::{LoadConfig, LoadGenerator, RequestTemplate};

#[derive(Parser)]
#[command(about = "Measure the built-in load generator's requests per second")]
struct Args {
    /// Address of the HTTP server.
    #[arg(long)]
    addr: SocketAddr,
    /// Number of requests to issue.
    #[arg(long, default_value_t = 50_000)]
    requests: u64,
    /// Keep-alive connections, one request in flight on each.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Path to request with GET; `{i}` becomes the request index.
    #[arg(long, default_value = "/")]
    path: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let config = LoadConfig {
        concurrency: args.concurrency,
        requests: vec![RequestTemplate::new("GET", args.path)],
        cookies: false,
        flow: false,
        script: None,
        request_timeout: Duration::from_secs(10),
        max_failure_rate: leakgate::load::DEFAULT_MAX_FAILURE_RATE,
    };
    let mut load = match LoadGenerator::new(args.addr, config) {
        Ok(load) => load,
        Err(error) => {
            eprintln!("loadgen: {error}");
            return ExitCode::FAILURE;
        }
    };
    let stats = match load.run(args.requests).await {
        Ok(stats) => stats,
        Err(error) => {
            eprintln!("loadgen: {error}");
            return ExitCode::FAILURE;
        }
    };
    load.close().await;
    println!(
        "requests: {}  ok: {}  non-2xx: {}  errors: {}  elapsed: {:.3}s  requests/s: {:.0}",
        stats.requests,
        stats.ok,
        stats.non_2xx,
        stats.errors,
        stats.elapsed.as_secs_f64(),
        stats.requests_per_second()
    );
    for sample in &stats.error_samples {
        eprintln!("  error: {sample}");
    }
    if stats.failures() > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
