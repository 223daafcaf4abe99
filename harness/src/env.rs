//! TODO: env
