//! CSV and plot output (being written).
