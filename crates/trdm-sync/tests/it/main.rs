//! End-to-end tests of the sync engine against the emulator over real HTTP, with the in-memory catalog
//! (the Delta backend has its own conformance tests and is exercised end to end by the CLI tests).

mod common;

mod download;
mod soak;
mod upload;
