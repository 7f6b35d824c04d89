//! End-to-end tests of the emulator: real HTTP on loopback, real SQLite files. One test binary with a module
//! per area; shared plumbing is in `common`.

mod common;

mod auth;
mod bad_input;
mod exports;
mod imports;
mod job_failures;
mod metadata;
mod resilience;
mod scd2_model;
mod uploads;
