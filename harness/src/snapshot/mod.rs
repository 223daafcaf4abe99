//! Heap snapshot reading.
