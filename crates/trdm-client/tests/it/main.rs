//! End-to-end tests of trdm-client against trdm-emulator over real HTTP on loopback. One test binary with a
//! module per area; shared plumbing is in `common`.

// Test modules share helpers with `pub`; in a test binary nothing is reachable from outside anyway.
#![allow(unreachable_pub)]

mod common;

mod auth;
mod exports;
mod imports;
mod metadata;
mod redaction;
mod resilience;
mod transfer;
