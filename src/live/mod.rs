//! The live runtime's executor layer: the same decisions that drive the
//! simulation drive real Xen hosts through a thin [`executor::Executor`].
//!
//! * [`executor`]: the [`Executor`](executor::Executor) trait, its data
//!   types and [`ExecError`](executor::ExecError);
//! * [`xen`]: [`XenExecutor`](xen::XenExecutor), which maps each operation
//!   to `xl` commands, classifies failures and reconciles failed
//!   migrations;
//! * [`transport`]: how commands reach a host (local process, ssh, the
//!   in-memory emulator, a recording dry run);
//! * [`setup`]: builds the executor `slivers live` asks for, with the
//!   emulated hosts and their modelled delays.
//!
//! The emulated `xl` (in memory, and the `slivers-xl-emu` binary's
//! directory-backed hosts) is the crate [`slivers_xl_emu`].
//!
//! See `docs/live.md`.

pub mod consolidate;
pub mod driver;
pub mod executor;
pub mod journal;
pub mod setup;
pub mod transport;
pub mod xen;
