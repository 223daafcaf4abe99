//! `leakgate run --suggest-allow`: for each leak a run found, the `assert.allow` entry that
//! would allow it, ready to paste into the spec (see [`crate::analysis::allow`]).

use std::fmt::Write as _;

use crate::analysis::allow::{suggest_allow, suggest_for};
use crate::analysis::isolates::IsolateKind;
use crate::runner::SpecRun;

/// The entries to paste for `run`, as YAML under a comment naming the spec; empty when the run
/// found nothing to allow.
pub fn render_suggestions(run: &SpecRun) -> String {
    let Ok(m) = &run.outcome else {
        return String::new();
    };
    let mut out = String::new();
    let mut entries = suggest_allow(&m.analysis, &m.fingerprints);
    let mut unheld: Vec<String> = m
        .analysis
        .suspects
        .iter()
        .zip(&m.fingerprints)
        .filter(|(_, fp)| fp.holder.is_none())
        .map(|(s, _)| s.class.clone())
        .collect();
    // A worker's leaks, named by the worker's script under `thread`.
    for i in m.isolates.iter().filter(|i| i.kind == IsolateKind::Worker) {
        let open: Vec<_> = i
            .suspects
            .iter()
            .filter(|s| s.allow != Some(crate::analysis::Allowance::Allowed))
            .filter_map(|s| s.fingerprint.as_ref().map(|fp| (&s.suspect, fp)))
            .collect();
        entries.extend(suggest_for(open.iter().copied(), i.script.as_deref()));
        unheld.extend(
            open.iter()
                .filter(|(_, fp)| fp.holder.is_none())
                .map(|(s, _)| format!("{} in {}", s.class, i.label)),
        );
    }
    if entries.is_empty() && unheld.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "# {} ({}): under `assert:`",
        run.name,
        run.file.display()
    );
    if !entries.is_empty() {
        let _ = writeln!(out, "allow:");
        for e in &entries {
            for line in e.yaml().lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
    if !unheld.is_empty() {
        let _ = writeln!(
            out,
            "# not held by a variable, so not allowable by fingerprint: {}",
            unheld.join(", ")
        );
    }
    out
}
