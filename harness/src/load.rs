//! TODO: load
