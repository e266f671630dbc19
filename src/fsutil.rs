//! Atomic file writes: the one implementation, in the crate
//! `slivers-fsutil` so that the emulated `xl` (`slivers-xl-emu`) writes its
//! state files with it too.

pub use slivers_fsutil::write_atomic;
