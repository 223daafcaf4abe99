//! Explanations a developer can act on, on real Node apps of the repo: the allocating line
//! among several allocations of one handler, the `.ts` line of a TypeScript app under tsx,
//! and, for objects a dependency allocated, the app's own storing line.

mod common;

use common::{retainers_of, run_leak as run};
use leakgate::runner::Measured;

/// The site of `class` in the app's `file` (V8 records stacks for part of the objects only, so
/// sites in Node's internals may come first): (file, line of its one allocating expression,
/// the expression).
fn site(m: &Measured, class: &str, file: &str) -> (String, Option<u32>, String) {
    let sites = m
        .explanation
        .allocation_sites
        .iter()
        .find(|s| s.class == class)
        .unwrap_or_else(|| panic!("{class} has allocation sites"));
    let top = sites
        .sites
        .iter()
        .find(|s| s.file == file)
        .unwrap_or_else(|| panic!("a site in {file}: {:?}", sites.sites));
    let st = top.statement.as_ref();
    (
        top.file.clone(),
        st.map(|s| s.line),
        st.map_or(String::new(), |s| s.call.clone()),
    )
}

#[test]
fn a_handler_with_three_allocations_is_blamed_on_the_listener_line() {
    let m = run("three-allocs");
    // Line 10 builds an object, line 11 a string, line 12 the listener that leaks.
    assert_eq!(
        site(&m, "(closure)", "server.js"),
        ("server.js".to_string(), Some(12), "(…) => …".to_string())
    );
}

#[test]
fn typescript_under_tsx_is_reported_at_its_ts_line() {
    let m = run("ts-app");
    let kept = retainers_of(&m, "Visit").clusters[0]
        .kept_at
        .as_ref()
        .expect("kept");
    let declared = kept.declared_at.as_ref().expect("declared");
    assert_eq!((declared.file.as_str(), declared.line), ("server.ts", 24));
    assert_eq!(kept.stored_at[0].line, 29);
    // The sampled allocation site, by default, goes through tsx's source map too: the `.ts`
    // line of `new Visit(`, with the position tsx generated beside it.
    assert_eq!(
        site(&m, "Visit", "server.ts"),
        (
            "server.ts".to_string(),
            Some(29),
            "new Visit(…)".to_string()
        )
    );
    let sites = m
        .explanation
        .allocation_sites
        .iter()
        .find(|s| s.class == "Visit")
        .expect("Visit sites");
    assert_eq!(
        sites.method,
        leakgate::explain::allocations::SiteMethod::Sampling
    );
    let top = sites
        .sites
        .iter()
        .find(|s| s.file == "server.ts")
        .expect("site");
    assert!(top.generated.is_some(), "{top:?}");
}

#[test]
fn a_parsed_body_is_blamed_on_the_line_that_stores_it() {
    let m = run("express-body");
    let object = retainers_of(&m, "Object");
    let kept = object.clusters[0]
        .kept_at
        .as_ref()
        .unwrap_or_else(|| panic!("kept: {:?}", object.clusters));
    assert_eq!(kept.variable, "recent");
    let declared = kept.declared_at.as_ref().expect("declared");
    assert_eq!((declared.file.as_str(), declared.line), ("server.js", 15));
    let stores: Vec<(u32, &str)> = kept
        .stored_at
        .iter()
        .map(|p| (p.line, p.code.as_str()))
        .collect();
    assert_eq!(stores, vec![(26, "recent.set(…)")]);
    // The parsed body was made by a dependency, and is said to be.
    let sites = m
        .explanation
        .allocation_sites
        .iter()
        .find(|s| s.class == "Object")
        .expect("Object sites");
    if let Some(top) = sites.sites.first() {
        assert!(
            top.package.is_some() || !top.file.contains("node_modules"),
            "{top:?}"
        );
    }
}
