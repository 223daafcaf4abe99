//! Allocation sites of leaking objects, from real runs of the sample apps: from the sampling
//! heap profiler of the measured run itself (the default), and from an extra run with V8's
//! allocation tracking on (`explain: runs`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use leakgate::analysis::AllocationSite;
use leakgate::explain::allocations::SiteMethod;
use leakgate::explain::allocations::{sites_of as sites_in, tracked_plan, SuspectSites};
use leakgate::runner::{run_plan, run_spec, RunOptions};
use leakgate::spec::{load_spec, Spec};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate is in a workspace")
        .to_path_buf()
}

fn sites_of(spec: &Spec, classes: &[&str]) -> Vec<SuspectSites> {
    let classes: Vec<String> = classes.iter().map(|c| c.to_string()).collect();
    let started = Instant::now();
    let series =
        run_plan(spec, &tracked_plan(spec), &RunOptions::default()).expect("the tracked run");
    let found = sites_in(spec, &series, &classes);
    eprintln!(
        "{}: tracked run took {:.1} s",
        spec.name,
        started.elapsed().as_secs_f64()
    );
    for s in &found {
        for site in &s.sites {
            eprintln!(
                "  {}: {}:{}:{} {} ({} objects, {} bytes)",
                s.class, site.file, site.line, site.column, site.function, site.count, site.bytes
            );
        }
    }
    assert_eq!(
        found.iter().map(|s| s.class.as_str()).collect::<Vec<_>>(),
        classes
    );
    found
}

/// The 1-based line and column of the first occurrence of `needle` in `text`.
fn position_of(text: &str, needle: &str) -> (u32, u32) {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` is not in the file"));
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = at - before.rfind('\n').map_or(0, |nl| nl + 1) + 1;
    (line as u32, column as u32)
}

/// Requests whose survivors are verified: those up to the next-to-last checkpoint.
/// Requests of the verified intervals of the tracked run, whose checkpoints are half the
/// spec's.
fn verified_requests(spec: &Spec) -> u64 {
    spec.checkpoints[spec.checkpoints.len() - 2] / 2
}

#[test]
fn request_log_sites_are_the_request_handler_in_server_js() {
    let spec = load_spec(&repo().join("specs/request-log.yaml")).expect("spec");
    let source = std::fs::read_to_string(spec.app.cwd.join("server.js")).expect("server.js");
    let found = sites_of(&spec, &["Date", "Object"]);

    // V8 places a stack frame at the function, not the statement: the handler passed to
    // `http.createServer` is an arrow function that starts at the `(` of its parameters.
    let handler = position_of(&source, "(req, res) => {");
    let date = position_of(&source, "new Date()");
    let literal = position_of(&source, "{ url: req.url");
    let end = position_of(&source, "\n});");
    for (class, statement) in [("Date", date), ("Object", literal)] {
        assert!(handler < statement && statement < end);
        let sites = &found
            .iter()
            .find(|s| s.class == class)
            .expect("class")
            .sites;
        let top: &AllocationSite = sites
            .first()
            .unwrap_or_else(|| panic!("no site for {class}"));
        assert_eq!(top.file, "server.js", "{class}: {top:?}");
        assert_eq!((top.line, top.column), handler, "{class}: {top:?}");
        assert_eq!(top.function, "(anonymous)", "{class}: {top:?}");
        // One object per request is retained. V8 records a stack for most of them, not
        // always all (see `SuspectSites::traced`), so the count is bounded, not exact.
        let expected = verified_requests(&spec) as f64;
        let count = top.count as f64;
        assert!(
            count >= expected * 0.1 && count <= expected * 1.05,
            "{class}: {count} survivors at the site, {expected} expected"
        );
        assert!(top.bytes >= top.count * 8, "{class}: {top:?}");
        // Nothing else comes close.
        let rest: u64 = sites[1..].iter().map(|s| s.count).sum();
        assert!(rest * 20 < top.count, "{class}: {sites:?}");
        // The parser finds the allocating expressions in the handler's source: the one
        // `new Date()` for Date; for Object, every object literal of the handler (there are
        // several, so none is chosen), the leaking one among them.
        if class == "Date" {
            let st = top.statement.as_ref().expect("statement found");
            assert_eq!((st.line, st.column), date, "{top:?}");
            assert_eq!(st.call, "new Date(…)");
        } else {
            assert_eq!(top.statement, None, "{top:?}");
            assert!(
                top.candidates
                    .iter()
                    .any(|c| (c.line, c.column) == literal && c.call == "{…}"),
                "{top:?}"
            );
        }
    }
}

/// The sampled sites of the main run of `spec`, which must find a leak.
fn sampled_sites_of(spec: &Spec) -> Vec<SuspectSites> {
    sampled_run_of(spec).1
}

/// The sampling interval and the sampled sites of the main run of `spec`, which must find a
/// leak.
fn sampled_run_of(spec: &Spec) -> (Option<u64>, Vec<SuspectSites>) {
    let run = run_spec(spec, &RunOptions::default());
    let m = run.outcome.expect("a verdict");
    assert!(m.explanation.error.is_none(), "{:?}", m.explanation.error);
    let leak = m
        .explanation
        .leak_sites
        .as_ref()
        .expect("the leak's sampled sites");
    assert!(!leak.sites.is_empty(), "{leak:?}");
    for s in &m.explanation.allocation_sites {
        assert_eq!(s.method, SiteMethod::Sampling);
        for site in &s.sites {
            eprintln!(
                "  {}: {}:{}:{} {} (≈{} objects, ≈{} bytes, {:?} samples)",
                s.class,
                site.file,
                site.line,
                site.column,
                site.function,
                site.count,
                site.bytes,
                site.samples
            );
        }
    }
    let interval = m.session.sampling.as_ref().map(|s| s.interval);
    (interval, m.explanation.allocation_sites.clone())
}

#[test]
fn request_log_sampled_sites_are_the_request_handler_with_the_date_statement() {
    let spec = load_spec(&repo().join("specs/request-log.yaml")).expect("spec");
    let source = std::fs::read_to_string(spec.app.cwd.join("server.js")).expect("server.js");
    let found = sampled_sites_of(&spec);
    let handler = position_of(&source, "(req, res) => {");
    let date = position_of(&source, "new Date()");
    // The spec's verified intervals: requests up to the next-to-last checkpoint.
    let verified = spec.checkpoints[spec.checkpoints.len() - 2] as f64;
    for class in ["Date", "Object"] {
        let s = found.iter().find(|s| s.class == class).expect("class");
        let top = s
            .sites
            .first()
            .unwrap_or_else(|| panic!("no site for {class}"));
        assert_eq!(top.file, "server.js", "{class}: {top:?}");
        assert_eq!((top.line, top.column), handler, "{class}: {top:?}");
        assert!(top.script.ends_with("server.js"), "{top:?}");
        // A sample stands for about interval / size objects: the estimate of one object per
        // request is within a factor of two of the truth.
        let count = top.count as f64;
        assert!(
            count >= verified * 0.3 && count <= verified * 2.0,
            "{class}: ≈{count} survivors at the site, {verified} expected"
        );
        let share = s.share_of_bytes.expect("a share");
        assert!(
            share > 0.25,
            "{class}: the sites stand for {share} of its bytes"
        );
        // The site holds most of what was sampled for the class.
        let rest: u64 = s.sites[1..].iter().map(|x| x.bytes).sum();
        assert!(rest * 3 < top.bytes, "{class}: {:?}", s.sites);
    }
    let date_site = &found
        .iter()
        .find(|s| s.class == "Date")
        .expect("Date")
        .sites[0];
    let st = date_site.statement.as_ref().expect("statement found");
    assert_eq!((st.line, st.column), date, "{date_site:?}");
}

#[test]
fn sessions_sites_name_a_real_file_and_line() {
    let spec = load_spec(&repo().join("specs/sessions.yaml")).expect("spec");
    let found = sites_of(&spec, &["(string)", "(concatenated string)"]);
    let strings = &found[0].sites;
    // The stored session strings are allocated inside express-session (MemoryStore#set), called
    // from `res.end` in `res.json` in the app's `GET /` handler: the app's frame is the site.
    // V8 leaves most of these strings without an allocation trace, so the count is a lower
    // bound, not the survivors' number.
    let top = strings.first().expect("a site for (string)");
    let file = spec.app.cwd.join(&top.file);
    assert!(file.is_file(), "{top:?}");
    let lines = std::fs::read_to_string(&file)
        .expect("readable")
        .lines()
        .count() as u32;
    assert!(top.line >= 1 && top.line <= lines, "{top:?}");
    assert!(top.column >= 1, "{top:?}");
    assert!(top.count > 0 && top.bytes > 0, "{top:?}");
    let source = std::fs::read_to_string(spec.app.cwd.join("server.js")).expect("server.js");
    let handler = position_of(&source, "app.get('/', (req, res) => {");
    assert_eq!(top.file, "server.js", "{strings:?}");
    assert_eq!(
        (top.line, top.column),
        (handler.0, handler.1 + 13),
        "{top:?}"
    );
}

/// A spec expecting a leak of the test app `app` under `request`, with a 200-request warm-up
/// and checkpoints at 1000, 2000 and 3000 requests, named after the app and written into a
/// folder kept as long as the returned guard.
fn leak_spec_of(app: &std::path::Path, request: &str) -> (Spec, tempfile::TempDir) {
    let text = format!(
        "app:\n  script: {}\n  ready: {{path: /health, timeout: 20s}}\n\
         load:\n  warmup: 200\n  requests:\n    - \"{request}\"\n\
         checkpoints: [1000, 2000, 3000]\nexpect: leak\n",
        app.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let name = app.file_stem().expect("a file").to_string_lossy();
    let file = dir.path().join(format!("{name}.yaml"));
    std::fs::write(&file, &text).unwrap();
    (load_spec(&file).expect("spec"), dir)
}

#[test]
fn a_leak_allocated_a_hundred_frames_deep_gets_its_site() {
    // The profile of these stacks nests deeper than serde_json's default limit, which used to
    // fail the whole run at the first checkpoint.
    let app = repo().join("harness/tests/apps/deep-stack.js");
    let (spec, _dir) = leak_spec_of(&app, "GET /deep/{i}");
    let source = std::fs::read_to_string(&app).expect("the app");
    let found = sampled_sites_of(&spec);
    let date = found.iter().find(|s| s.class == "Date").expect("Date");
    let top = date.sites.first().expect("a site for Date");
    assert_eq!(top.file, "deep-stack.js", "{top:?}");
    assert_eq!(top.function, "keep", "{top:?}");
    assert_eq!((top.line, top.column), position_of(&source, "(url) {"));
}

#[test]
fn an_app_that_allocates_a_lot_per_request_gets_its_leaks_bytes_right_at_a_coarse_interval() {
    // ~200 KB allocated a request makes the run sample every 8 KiB, where most small sizes
    // read alike, and the functions it compiles leave survivors of V8's own classes. Their
    // samples used to be pinned on the suspect classes: 150-170% of `Entry`'s bytes and 250-300%
    // of the strings', where each sample is now shared with every survivor that could have
    // drawn it.
    let app = repo().join("harness/tests/apps/heavy-alloc.js");
    let (spec, _dir) = leak_spec_of(&app, "GET /h/{i}");
    let (interval, found) = sampled_run_of(&spec);
    assert!(interval.is_some_and(|i| i > 2048), "{interval:?}");
    for (class, most) in [("Entry", 1.4), ("(string)", 1.5)] {
        let s = found.iter().find(|s| s.class == class).expect(class);
        let share = s.share_of_bytes.expect("a share");
        assert!(
            (0.6..=most).contains(&share),
            "{class}: the sites stand for {share} of its bytes: {:?}",
            s.sites
        );
    }
    let entry = found.iter().find(|s| s.class == "Entry").expect("Entry");
    assert_eq!(entry.sites[0].function, "handle", "{:?}", entry.sites);
}
