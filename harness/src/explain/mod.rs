//! Explaining a found leak: *what* keeps the memory (retainer paths, from the last snapshot),
//! *where* it was allocated (a second run with V8's allocation tracking), and *which* request
//! kind leaks (each kind run alone).
//!
//! These cost extra runs, so they happen only when a leak is found (or when the spec asks for
//! them with `explain: always`); a passing clean run pays nothing.

pub mod allocations;
