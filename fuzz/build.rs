//! Copies `parse_duration` out of the CLI's args.rs (a binary crate, so it cannot be a dependency) into
//! OUT_DIR, so the `requests` target fuzzes the function the CLI runs, not a copy that could drift.

use std::{env, fs, path::Path};

fn main() {
    let args = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/trdm-cli/src/args.rs");
    println!("cargo::rerun-if-changed={}", args.display());
    let source = fs::read_to_string(&args).expect("crates/trdm-cli/src/args.rs");
    let start = source
        .find("pub(crate) fn parse_duration(")
        .expect("args.rs defines parse_duration");
    let len = source[start..].find("\n}\n").expect("parse_duration ends") + 3;
    let function = source[start..start + len].replacen("pub(crate) fn", "fn", 1);
    let out = Path::new(&env::var("OUT_DIR").unwrap()).join("parse_duration.rs");
    fs::write(out, function).unwrap();
}
