//! Every spec under the workspace's `specs/` as a test: `cargo test -- NAME` runs one,
//! `cargo test -- --list` lists them, `cargo test -- --ignored` runs the slow ones.

fn main() -> std::process::ExitCode {
    let specs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs");
    leakgate::testing::main(&specs)
}
