//! The emulator's request parsers, called directly (no HTTP): collection query strings (`page`, `per_page`,
//! the `q` grammar `field:op:value`), table-data grid bodies (`filterModel`, `sortModel`, `startRow`/`endRow`),
//! typed JSON body fields, path ids and presigned-URL query strings; plus the CLI's durations
//! (`--max-wait`, `--export-delay`, …; `parse_duration` is copied out of crates/trdm-cli/src/args.rs by
//! build.rs, as the CLI is a binary). None may panic, whatever the input.
//!
//! Input: byte 0 picks the parser, the rest (as UTF-8 where the parser takes text) is its input.
#![no_main]

use std::sync::LazyLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use serde_json::{Value as Json, json};
use trdm_emulator::fuzzing;

include!(concat!(env!("OUT_DIR"), "/parse_duration.rs"));

static ITEMS: LazyLock<Vec<Json>> = LazyLock::new(|| {
    (0..7)
        .map(|i| json!({"id": i, "name": format!("Näme:{i}"), "flag": i % 2 == 0, "key": null, "x": [i]}))
        .collect()
});

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let text = std::str::from_utf8(rest).ok();
    match which % 6 {
        0 => {
            if let Some(query) = text {
                let _ =
                    fuzzing::list_query(query, ITEMS.clone(), &["id", "name", "flag", "key", "x"]);
            }
        }
        1 => {
            if let Ok((filters, sort)) = fuzzing::grid_request(rest) {
                assert!(filters + sort <= rest.len());
            }
        }
        2 => {
            let _ = fuzzing::body_fields(rest);
        }
        3 => {
            if let Some(raw) = text {
                if let Ok(id) = fuzzing::path_segment(raw) {
                    assert_eq!(raw.parse::<i64>().ok(), Some(id));
                }
            }
        }
        4 => {
            if let Some(query) = text {
                let now = i64::from_le_bytes(
                    rest.get(..8)
                        .and_then(|b| b.try_into().ok())
                        .unwrap_or([0; 8]),
                );
                assert!(
                    !fuzzing::presigned(query, "GET", "/_s3/exports/1", now),
                    "a forged signature passed"
                );
            }
        }
        _ => {
            if let Some(raw) = text {
                if let Ok(d) = parse_duration(raw) {
                    let _: Duration = d;
                }
                let _ = raw.parse::<trdm_emulator::FaultKind>();
                let _ = raw.parse::<trdm_emulator::EndpointGroup>();
            }
        }
    }
});
