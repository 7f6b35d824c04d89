//! What the workspace's tests share, written once: the fixtures ([`fixture`]), an emulator to talk to, in
//! process ([`TestEmulator`], feature `emulator`) or as a `trdm emulator` child process ([`process`]), and
//! throwaway warehouses with byte snapshots ([`warehouse`]).
//!
//! A dev-dependency of every crate whose tests need one of these, and a dependency of the benchmarks, which
//! drive the same wide fixture and child process. Helpers panic on failure: they serve tests.

#[cfg(feature = "emulator")]
mod emulator;
pub mod fixture;
pub mod process;
pub mod warehouse;

#[cfg(feature = "emulator")]
pub use emulator::TestEmulator;
pub use fixture::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET};
pub use process::EmulatorProcess;
pub use warehouse::TempWarehouse;
