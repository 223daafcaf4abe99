//! Allocation sites of leaking objects (being written).
