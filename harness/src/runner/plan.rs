//! What one live session drives, decided before anything starts.
//!
//! A [`Plan`] is plain data: the load, the warm-up, the checkpoints and the inspector features
//! to turn on. The spec gives the main plan ([`Plan::of`]); the explanations that need runs of
//! their own (see [`crate::explain`]) describe them as plans too, so the runner only ever
//! executes plans and never needs to know why.

use crate::load::LoadConfig;
use crate::spec::Spec;

/// One session's work.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The load to drive.
    pub load: LoadConfig,
    /// Requests before the first snapshot, never measured.
    pub warmup: u64,
    /// Measured requests at which to snapshot (a snapshot is also taken right after the
    /// warm-up).
    pub checkpoints: Vec<u64>,
    /// Turn on V8's allocation tracking before the warm-up, so that the snapshots record an
    /// allocation stack for objects allocated while measured. Costly; off by default.
    pub track_allocations: bool,
    /// A suffix for the working folder, so that the sessions of one spec do not collide
    /// (empty for the main session).
    pub label: String,
}

impl Plan {
    /// The main plan of a spec: its own load, warm-up and checkpoints.
    pub fn of(spec: &Spec) -> Plan {
        Plan {
            load: spec.load.clone(),
            warmup: spec.warmup,
            checkpoints: spec.checkpoints.clone(),
            track_allocations: false,
            label: String::new(),
        }
    }
}
