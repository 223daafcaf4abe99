//! What identifies a leak from one run to the next and from one machine to another: its
//! *fingerprint*.
//!
//! Heap ids, sizes, counts and ports change on every run; what a developer wrote does not. A
//! leaking object is held by a variable, a module binding or a global property (the *holder*
//! of its retainer path, see [`super::retainers`]), it has a class, and it was allocated by a
//! function of the app. The fingerprint is those three, the holder first: it is the name a
//! developer fixes, and it stays the same when the code around it moves. The allocation site
//! (`file:line` of the allocating function) is kept for people and for `assert.allow` entries
//! that ask for it, but it moves with every edit above it, so comparing two revisions
//! (`leakgate compare`) matches leaks by holder and class only.
//!
//! One leak usually shows as several classes (an `Object` per request, the `Date` and strings
//! inside it) with one holder: the holder is what groups them into one leak ([`Fingerprint::leak`]).

use serde::{Deserialize, Serialize};

use super::allocations::AllocationSite;
use super::retainers::{retainer_clusters, Holder, RootPaths};
use super::{Diff, Suspect};
use crate::snapshot::HeapGraph;

/// V8's string representations: which one a string gets is the engine's choice, so a leak of
/// strings may show under any of them from one run to the next.
pub const STRING_CLASSES: [&str; 3] = ["(string)", "(concatenated string)", "(sliced string)"];

/// What identifies one suspect class of a leak across runs and machines.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Fingerprint {
    /// The variable, module binding or global property that holds most of the class's leaking
    /// objects; `None` when no path goes through one (only V8's own objects hold them).
    pub holder: Option<String>,
    /// DevTools class name.
    pub class: String,
    /// Where most of them were allocated, `file:line` of the allocating function relative to
    /// the app's folder; `None` when not known (no tracked run, or no recorded stack).
    pub site: Option<String>,
}

impl Fingerprint {
    /// The fingerprint of a class held by `holders` (objects per holder, most first) and
    /// allocated at `sites` (most survivors first).
    pub fn of(class: &str, holders: &[(Holder, u64)], sites: &[AllocationSite]) -> Fingerprint {
        Fingerprint {
            holder: main_holder(holders).map(str::to_string),
            class: class.to_string(),
            site: sites.first().map(|s| format!("{}:{}", s.file, s.line)),
        }
    }

    /// The leak this class belongs to: its holder, or the class itself when nothing a developer
    /// wrote holds it (`class Date`).
    pub fn leak(&self) -> String {
        match &self.holder {
            Some(holder) => holder.clone(),
            None => format!("class {}", self.class),
        }
    }
}

/// Whether two class names are the same class for matching: equal, or both string
/// representations.
pub fn same_class(a: &str, b: &str) -> bool {
    a == b || (STRING_CLASSES.contains(&a) && STRING_CLASSES.contains(&b))
}

/// The holder a developer wrote that holds the most objects, when one holds at least
/// 40% as many as the main holder of any kind (so that a class held mostly by V8's own
/// structures is not pinned on a variable that holds a few of them).
fn main_holder(holders: &[(Holder, u64)]) -> Option<&str> {
    let top = holders.iter().map(|(_, n)| *n).max().unwrap_or(0);
    holders
        .iter()
        .filter(|(h, n)| h.variable().is_some() && n * 10 >= top * 4)
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .and_then(|(h, _)| h.variable())
}

/// The fingerprints of `suspects`, in their order. `known_holders` gives the holders already
/// computed for a class (the explained suspects); the others are computed here from the last
/// snapshot `graph` of `diff`, so that every suspect has a fingerprint, not only the
/// explained ones. `sites` gives a class's allocation sites, when known.
pub fn fingerprints<'a>(
    graph: &HeapGraph,
    diff: &Diff,
    suspects: &[Suspect],
    known_holders: impl Fn(&str) -> Option<&'a [(Holder, u64)]>,
    sites: impl Fn(&str) -> Option<&'a [AllocationSite]>,
) -> Vec<Fingerprint> {
    let mut paths: Option<RootPaths> = None;
    suspects
        .iter()
        .map(|s| {
            let sites = sites(&s.class).unwrap_or(&[]);
            if let Some(holders) = known_holders(&s.class) {
                return Fingerprint::of(&s.class, holders, sites);
            }
            let paths = paths.get_or_insert_with(|| RootPaths::new(graph));
            let nodes = diff.survivors_of(graph, &s.class);
            let mut holders: Vec<(Holder, u64)> = Vec::new();
            for c in retainer_clusters(graph, paths, None, &nodes, usize::MAX) {
                match holders.iter_mut().find(|(h, _)| *h == c.holder) {
                    Some((_, n)) => *n += c.count,
                    None => holders.push((c.holder, c.count)),
                }
            }
            Fingerprint::of(&s.class, &holders, sites)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(name: &str) -> Holder {
        Holder::ClosureVariable { name: name.into() }
    }

    #[test]
    fn the_holder_is_the_variable_holding_most() {
        let holders = [
            (
                Holder::Object {
                    text: "(GC roots)[]".into(),
                },
                100,
            ),
            (var("cache"), 60),
            (var("log"), 10),
        ];
        let fp = Fingerprint::of("Object", &holders, &[]);
        assert_eq!(fp.holder.as_deref(), Some("cache"));
        assert_eq!(fp.leak(), "cache");
        // A variable holding a few of many objects held by V8 is not the holder.
        let holders = [
            (
                Holder::Object {
                    text: "(GC roots)[]".into(),
                },
                100,
            ),
            (var("log"), 10),
        ];
        let fp = Fingerprint::of("Date", &holders, &[]);
        assert_eq!(fp.holder, None);
        assert_eq!(fp.leak(), "class Date");
    }

    #[test]
    fn string_representations_are_one_class() {
        assert!(same_class("(string)", "(concatenated string)"));
        assert!(same_class("Date", "Date"));
        assert!(!same_class("Date", "(string)"));
    }
}
