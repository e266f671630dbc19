//! Trace readers and generators (being written).
