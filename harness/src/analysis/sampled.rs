//! Where a leak's objects are allocated, from V8's sampling heap profiler in the measured run
//! itself.
//!
//! While the profiler runs (`HeapProfiler.startSampling`), V8 picks about one allocation per
//! `interval` bytes (a Poisson process over allocated bytes), records its stack, and keeps the
//! sample as long as the object lives. `HeapProfiler.getSamplingProfile` returns the live
//! samples: each with its object's size, the call-tree node of its stack and an `ordinal`,
//! a sample counter that only grows. Taken after the forced GC of each checkpoint, the
//! profiles work like the snapshots' ids (see [`super::diff`]): a sample alive at the last
//! checkpoint whose ordinal lies between the largest ordinals of profiles k-1 and k was
//! allocated in interval k and survived. The samples of the verified intervals are the
//! sampled survivors that prove a leak.
//!
//! An object of `size` bytes is sampled with probability `1 - exp(-size / interval)`, so each
//! sample stands for `count = round(1 / (1 - exp(-size / interval)))` objects, and the
//! inspector reports a sample's `size` as `size × count`: the bytes it stands for. Sums of
//! those are estimates of the surviving bytes per stack whatever the objects' sizes; the
//! object's own size is recovered by solving that product ([`object_sizes`]).
//!
//! A sample names no heap object: its `nodeId` is a node of the profile's own call tree and
//! its ordinal is not a heap-snapshot id, so it cannot be matched to a snapshot's object.
//! What ties samples to the suspect classes is the size: a sample of an object of `size`
//! bytes is shared among the suspect classes that have survivors of exactly that self size
//! (V8 allocates an object at its final size once slack tracking is over, which the warm-up
//! sees to). Several sizes can give the same reported bytes (at 2048, 32 × 65 = 40 × 52 = 2080:
//! a 32-byte string and a 40-byte object read alike), so a sample is shared in proportion to
//! how many samples each holder is expected to draw: its survivors of that size times the
//! chance `1 - exp(-size / interval)` that one of them is sampled. Samples of a size no
//! survivor has stay with the leak as a whole.
//!
//! Samples of V8's own classes and of classes that are no suspect count too: a sample is
//! shared among every survivor of the verified intervals that could have drawn it, so that a
//! suspect class is not credited with the compiled code or the parser's buffers whose sizes
//! merely read like its objects' (which, at the coarser intervals of apps that allocate a lot,
//! most small sizes do).
//!
//! Only JavaScript objects are matched to survivors a memento smaller (see
//! [`MEMENTO_SIZES`]).
//!
//! The site of a sample is chosen as for traced objects ([`super::allocations`]): the innermost
//! frame in the app's own code. Frames are functions, positioned where the function is
//! defined (V8's 0-based positions are made 1-based here, as the allocation tracker writes
//! them).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::allocations::{
    choose_site, display_file, fill_candidates, package_of, script_path, AllocationSite, AppRoots,
};
use super::series::Series;
use super::sourcemaps::SourceMaps;
use super::verdict::Suspect;

/// The sizes of the allocation memento V8 may allocate right behind an object made by a
/// literal (`{…}`, `[…]`) in the young generation, to track where it was allocated: the
/// sampling profiler sees the object and its memento as one allocation. Two tagged fields:
/// 16 bytes in Node, which does not compress pointers, 8 where pointers are compressed.
pub const MEMENTO_SIZES: [u64; 2] = [16, 8];

/// A profile that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("allocation profile {path}: {reason}")]
pub struct ProfileError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

#[derive(Debug, Deserialize)]
struct RawFile {
    profile: RawProfile,
}

#[derive(Debug, Deserialize)]
struct RawProfile {
    head: RawNode,
    #[serde(default)]
    samples: Vec<RawSample>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawNode {
    call_frame: RawFrame,
    id: u64,
    #[serde(default)]
    children: Vec<RawNode>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFrame {
    function_name: String,
    url: String,
    line_number: i64,
    column_number: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSample {
    size: f64,
    node_id: u64,
    ordinal: f64,
}

/// One function of a sampled stack.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// The function's name (empty for anonymous functions).
    pub function: String,
    /// The script's URL or path as V8 names it (empty for native code).
    pub script: String,
    /// 1-based line of the function's definition (0 when unknown).
    pub line: u32,
    /// 1-based column of the function's definition (0 when unknown).
    pub column: u32,
}

/// A live sampled allocation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// The object's size in bytes.
    pub size: u64,
    /// Its stack: an index into [`Profile::stacks`].
    pub stack: usize,
    /// The sample counter when it was taken.
    pub ordinal: u64,
}

/// The live samples of one `getSamplingProfile`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    /// Every stack of the call tree that holds a sample, innermost frame first.
    pub stacks: Vec<Vec<Frame>>,
    /// The samples.
    pub samples: Vec<Sample>,
}

impl Profile {
    /// Reads a profile written as `getSamplingProfile`'s result.
    pub fn read(path: &Path) -> Result<Profile, ProfileError> {
        let fail = |reason: String| ProfileError {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        let raw: RawFile = crate::json::parse_slice(&text).map_err(|e| fail(e.to_string()))?;
        Ok(Profile::from_raw(raw.profile))
    }

    fn from_raw(raw: RawProfile) -> Profile {
        let mut stack_of: HashMap<u64, usize> = HashMap::new();
        let mut stacks = Vec::new();
        // Depth first, carrying the path from the root (outermost first).
        let mut todo: Vec<(&RawNode, Vec<Frame>)> = vec![(&raw.head, Vec::new())];
        while let Some((node, mut path)) = todo.pop() {
            let f = &node.call_frame;
            // The root is `(root)`; V8 also leaves nodes for its own states, such as
            // `(V8 API)`, with no script.
            path.push(Frame {
                function: f.function_name.clone(),
                script: f.url.clone(),
                line: u32::try_from(f.line_number + 1).unwrap_or(0),
                column: u32::try_from(f.column_number + 1).unwrap_or(0),
            });
            stack_of.insert(node.id, stacks.len());
            stacks.push(path.iter().rev().cloned().collect());
            for child in &node.children {
                todo.push((child, path.clone()));
            }
        }
        let samples = raw
            .samples
            .iter()
            .filter_map(|s| {
                Some(Sample {
                    size: s.size.max(0.0) as u64,
                    stack: *stack_of.get(&s.node_id)?,
                    ordinal: s.ordinal.max(0.0) as u64,
                })
            })
            .collect();
        Profile { stacks, samples }
    }

    /// The largest ordinal among the live samples (0 when there is none).
    pub fn max_ordinal(&self) -> u64 {
        self.samples.iter().map(|s| s.ordinal).max().unwrap_or(0)
    }
}

/// How many objects one sample of an object of `size` bytes stands for, as V8 rounds it.
pub fn count_of(size: u64, interval: u64) -> u64 {
    (1.0 / sampling_chance(size, interval) + 0.5) as u64
}

/// The chance that an object of `size` bytes is sampled at `interval`.
fn sampling_chance(size: u64, interval: u64) -> f64 {
    1.0 - (-(size.max(1) as f64) / interval.max(1) as f64).exp()
}

/// The object sizes (multiples of 4, the smallest heap alignment) whose sample V8 reports as
/// `reported` bytes at `interval`: those with `size × count_of(size) == reported`.
pub fn object_sizes(reported: u64, interval: u64) -> Vec<u64> {
    // At or above about 1.44 intervals an object is its own count of one.
    let mut out: Vec<u64> = (1..=reported / 4)
        .map(|k| k * 4)
        .take_while(|&s| s <= reported && s <= interval.saturating_mul(2))
        .filter(|&s| s * count_of(s, interval) == reported)
        .collect();
    if reported > interval.saturating_mul(2) {
        out.push(reported);
    }
    out
}

/// The sampled sites of a leak.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampledSites {
    /// Bytes per sample the profiler ran with.
    pub interval: u64,
    /// Sites of the suspect classes' sampled survivors together (or, with no suspect class,
    /// of every sampled survivor), most bytes first.
    pub sites: Vec<AllocationSite>,
    /// Surviving bytes per request the samples stand for, over the verified intervals.
    pub bytes_per_request: f64,
    /// What the listed sites account for, as a share of the leak's bytes per request (the
    /// suspects' survivors' bytes; the JS heap's growth when no class is a suspect).
    pub share_of_bytes: f64,
    /// Per suspect class: its sites (from the samples whose size it has), most bytes first.
    pub classes: Vec<ClassSites>,
}

/// Sampled sites of one suspect class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassSites {
    /// DevTools class name.
    pub class: String,
    /// Its sites, most bytes first.
    pub sites: Vec<AllocationSite>,
    /// Samples given to this class.
    pub samples: u64,
    /// The share of the class's surviving bytes (verified intervals) its listed sites stand
    /// for; an estimate, so it can exceed 1 a little.
    pub share_of_bytes: f64,
}

/// The sampled sites of `suspects` in `series`, whose snapshots each have `profiles[k]`.
/// `heap_bytes_per_request` is the leak's size when no class is a suspect. `None` when the
/// series has no verified interval.
pub fn sampled_sites(
    series: &Series,
    profiles: &[Profile],
    suspects: &[Suspect],
    heap_bytes_per_request: f64,
    interval: u64,
    app_root: &Path,
    max_sites: usize,
) -> Option<SampledSites> {
    // Positions in code run through a source map are reported in the original source.
    let mut source_maps: SourceMaps = series.source_maps.clone();
    let verified = series.verified();
    if verified.is_empty() || profiles.len() != series.len() {
        return None;
    }
    // Ordinal bounds, kept monotonic like the heap ids.
    let mut bounds = Vec::with_capacity(profiles.len());
    for p in profiles {
        let prev = bounds.last().copied().unwrap_or(0);
        bounds.push(p.max_ordinal().max(prev));
    }
    let (low, high) = (bounds[verified.start - 1], bounds[verified.end - 1]);
    let last = profiles.last()?;
    let requests = series.verified_requests().max(1) as f64;

    // Self sizes of each suspect's survivors (size → how many), and of every other survivor:
    // a sample is shared among all the objects that could have drawn it, so that a sample of
    // V8's compiled code or of a class that is no suspect is not pinned on a suspect class
    // whose objects merely have a size that reads alike.
    let wanted: Vec<&str> = suspects.iter().map(|s| s.class.as_str()).collect();
    let survivor_sizes = series.survivor_sizes(&wanted);
    let sizes = &survivor_sizes.of_class;
    let others = &survivor_sizes.others;

    let roots = AppRoots::new(app_root);
    let mut site_of_stack: HashMap<usize, Option<usize>> = HashMap::new();
    let mut keys: HashMap<(String, u32, u32, String), usize> = HashMap::new();
    let mut places: Vec<AllocationSite> = Vec::new();
    // Original sources carried by source maps, by displayed file.
    let mut contents: HashMap<String, std::sync::Arc<str>> = HashMap::new();
    // Per place: estimated objects and bytes and samples, overall and per class.
    let mut overall: Vec<(f64, f64, u64)> = Vec::new();
    let mut per_class: Vec<Vec<(f64, f64, u64)>> = vec![Vec::new(); suspects.len()];
    let mut class_samples = vec![0u64; suspects.len()];
    for s in last
        .samples
        .iter()
        .filter(|s| s.ordinal > low && s.ordinal <= high)
    {
        let place = *site_of_stack.entry(s.stack).or_insert_with(|| {
            let stack = &last.stacks[s.stack];
            let frame = choose_site(stack, |f: &Frame| f.script.as_str(), &roots)?;
            let file = display_file(&frame.script, &roots);
            let key = (
                file.clone(),
                frame.line,
                frame.column,
                frame.function.clone(),
            );
            Some(*keys.entry(key).or_insert_with(|| {
                // Code run through a source map (TypeScript, a bundle) is reported at the line
                // the developer wrote, the generated position kept beside it.
                let original = script_path(&frame.script)
                    .and_then(|p| source_maps.original(&p, frame.line, frame.column));
                let (file, line, column, generated) = match original {
                    Some(o) => {
                        let shown = display_file(&o.file.to_string_lossy(), &roots);
                        if let Some(text) = o.content {
                            contents.insert(shown.clone(), text);
                        }
                        let generated = format!("{file}:{}:{}", frame.line, frame.column);
                        (shown, o.line, o.column, Some(generated))
                    }
                    None => (file, frame.line, frame.column, None),
                };
                places.push(AllocationSite {
                    package: package_of(&file),
                    generated,
                    candidates: Vec::new(),
                    function: if frame.function.is_empty() {
                        "(anonymous)".to_string()
                    } else {
                        frame.function.clone()
                    },
                    file,
                    line,
                    column,
                    count: 0,
                    bytes: 0,
                    script: frame.script.clone(),
                    samples: Some(0),
                    statement: None,
                });
                overall.push((0.0, 0.0, 0));
                for c in &mut per_class {
                    c.push((0.0, 0.0, 0));
                }
                places.len() - 1
            }))
        });
        // `s.size` is the bytes this sample stands for; its objects' size is one of these.
        let candidates = object_sizes(s.size, interval);
        let bytes = s.size as f64;
        // (holder, its survivors' size, the sampled size, how many survivors of that size),
        // the holder being a suspect class or, at `suspects.len()`, any other survivor.
        let tables = || sizes.iter().chain(std::iter::once(others)).enumerate();
        let mut holders: Vec<(usize, u64, u64, u64)> = tables()
            .flat_map(|(c, m)| {
                candidates
                    .iter()
                    .filter_map(move |size| m.get(size).map(|&n| (c, *size, *size, n)))
            })
            .collect();
        if holders.iter().all(|h| h.0 >= suspects.len()) {
            // An object made by a literal can be sampled with its allocation memento, so a
            // memento larger than in the snapshot: when no suspect has the size exactly, the
            // sample is shared with the suspects' survivors a memento smaller too (the other
            // survivors of the exact size still take their part). Only JavaScript objects have
            // mementos: strings, numbers and V8's other internal kinds (the classes in
            // parentheses) are sampled at their own size.
            holders.extend(
                tables()
                    .filter(|(c, _)| suspects.get(*c).is_some_and(|s| !s.class.starts_with('(')))
                    .flat_map(|(c, m)| {
                        candidates.iter().flat_map(move |&sampled| {
                            MEMENTO_SIZES.iter().filter_map(move |&memento| {
                                let size = sampled.checked_sub(memento)?;
                                m.get(&size).map(|&n| (c, size, sampled, n))
                            })
                        })
                    }),
            );
        }
        // Each holder's weight: the samples it is expected to draw at this size.
        let weight = |sampled: u64, n: u64| n as f64 * sampling_chance(sampled, interval);
        let total: f64 = holders.iter().map(|h| weight(h.2, h.3)).sum();
        let Some(place) = place else {
            continue;
        };
        if holders.is_empty() {
            // A size no survivor has (a backing store trimmed since, say): it stays with the
            // leak as a whole, at its smallest reading.
            let o = &mut overall[place];
            o.0 += candidates.first().map_or(1.0, |&c| bytes / c as f64);
            o.1 += bytes;
            o.2 += 1;
            continue;
        }
        let mut counted = false;
        for (c, size, sampled, n) in holders {
            let objects = weight(sampled, n) / total * bytes / sampled as f64;
            // The leak as a whole is its suspects' objects; with no suspect class, every
            // survivor's.
            if c < suspects.len() || suspects.is_empty() {
                let o = &mut overall[place];
                o.0 += objects;
                o.1 += objects * size as f64;
                counted = true;
            }
            let Some(e) = per_class.get_mut(c).map(|p| &mut p[place]) else {
                continue;
            };
            // Counted at the survivors' size.
            e.0 += objects;
            e.1 += objects * size as f64;
            e.2 += 1;
            class_samples[c] += 1;
        }
        if counted {
            overall[place].2 += 1;
        }
    }
    let ranked = |totals: &[(f64, f64, u64)]| -> Vec<AllocationSite> {
        let mut out: Vec<AllocationSite> = totals
            .iter()
            .enumerate()
            // A site must stand for one object at least: slivers of shared samples are not sites.
            .filter(|(_, t)| t.2 > 0 && t.0 >= 0.5)
            .map(|(i, t)| AllocationSite {
                count: t.0.round() as u64,
                bytes: t.1.round() as u64,
                samples: Some(t.2),
                ..places[i].clone()
            })
            .collect();
        out.sort_by(|a, b| {
            b.bytes
                .cmp(&a.bytes)
                .then_with(|| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)))
        });
        out.truncate(max_sites);
        out
    };
    let per_request = |sites: &[AllocationSite]| -> f64 {
        sites.iter().map(|s| s.bytes as f64).sum::<f64>() / requests
    };

    let sites = ranked(&overall);
    let leak_bytes: f64 = if suspects.is_empty() {
        heap_bytes_per_request
    } else {
        suspects.iter().map(|s| s.bytes_per_request).sum()
    };
    let classes = suspects
        .iter()
        .enumerate()
        .map(|(c, suspect)| {
            let mut sites = ranked(&per_class[c]);
            for site in &mut sites {
                fill_candidates(site, &contents, app_root, &suspect.class);
            }
            ClassSites {
                class: suspect.class.clone(),
                share_of_bytes: ratio(per_request(&sites), suspect.bytes_per_request),
                samples: class_samples[c],
                sites,
            }
        })
        .collect();
    Some(SampledSites {
        interval,
        bytes_per_request: overall.iter().map(|t| t.1).sum::<f64>() / requests,
        share_of_bytes: ratio(per_request(&sites), leak_bytes),
        sites,
        classes,
    })
}

fn ratio(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        ((part / whole) * 100.0).round() / 100.0
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_stands_for_more_objects_the_smaller_they_are() {
        // Objects far larger than the interval are always sampled.
        assert_eq!(count_of(1 << 20, 1024), 1);
        // Small ones: about interval / size objects per sample.
        assert_eq!(count_of(96, 2048), 22);
        assert_eq!(count_of(16, 2048), 129);
    }

    #[test]
    fn object_sizes_are_recovered_from_reported_bytes() {
        // Reported by Node 20 at a 2048-byte interval for a Date (96 bytes), a heap number (16)
        // and a 56-byte object.
        assert!(object_sizes(2112, 2048).contains(&96));
        assert!(object_sizes(2064, 2048).contains(&16));
        assert!(object_sizes(2072, 2048).contains(&56));
        for size in object_sizes(2112, 2048) {
            assert_eq!(size * count_of(size, 2048), 2112);
        }
        // Large objects are reported as they are.
        assert_eq!(object_sizes(100_000, 2048), vec![100_000]);
    }

    #[test]
    fn stacks_are_innermost_first_with_one_based_positions() {
        let raw: RawFile = serde_json::from_value(serde_json::json!({"profile": {
            "head": {"callFrame": {"functionName": "(root)", "scriptId": "0", "url": "",
                                   "lineNumber": -1, "columnNumber": -1},
                     "selfSize": 0, "id": 1, "children": [
                {"callFrame": {"functionName": "outer", "scriptId": "5",
                               "url": "file:///app/server.js", "lineNumber": 9, "columnNumber": 4},
                 "selfSize": 0, "id": 2, "children": [
                    {"callFrame": {"functionName": "", "scriptId": "5",
                                   "url": "file:///app/server.js", "lineNumber": 19, "columnNumber": 33},
                     "selfSize": 64, "id": 3, "children": []}]}]},
            "samples": [{"size": 32, "nodeId": 3, "ordinal": 7},
                        {"size": 32, "nodeId": 3, "ordinal": 12}]}}))
        .expect("shape");
        let p = Profile::from_raw(raw.profile);
        assert_eq!(p.max_ordinal(), 12);
        let stack = &p.stacks[p.samples[0].stack];
        assert_eq!(stack.len(), 3);
        assert_eq!((stack[0].line, stack[0].column), (20, 34));
        assert_eq!(stack[1].function, "outer");
        assert_eq!((stack[2].line, stack[2].column), (0, 0));
    }
}
