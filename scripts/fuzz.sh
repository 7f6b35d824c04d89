#!/usr/bin/env bash
# Fuzzes trdm's parsers with cargo-fuzz (libFuzzer): each target in fuzz/fuzz_targets/ runs for a fixed time,
# one libFuzzer job at a time, at low priority. Not part of .ci/run. See fuzz/README.md.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]        default 60
#   TARGETS="csv_reader values" scripts/fuzz.sh 600
#
# Corpora and crash artifacts are kept outside the clone, in $TRDM_FUZZ_DIR (default ~/.cache/trdm/fuzz),
# so they grow across runs; build output goes to $FUZZ_TARGET_DIR (default ~/.cache/trdm/fuzz-target).
# Exits 1 when a target found a crash (its input is named in the output), 2 on a usage or build error.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds="${1:-60}"
[[ "$seconds" =~ ^[0-9]+$ && "$seconds" -gt 0 ]] || { echo "usage: $0 [SECONDS_PER_TARGET]" >&2; exit 2; }
targets=(${TARGETS:-csv_reader values arrow_decoder requests})
fuzz_dir="${TRDM_FUZZ_DIR:-$HOME/.cache/trdm/fuzz}"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/trdm/fuzz-target}"
# libFuzzer's flags are nightly-only; the pinned stable toolchain accepts them with RUSTC_BOOTSTRAP (no
# nightly toolchain can be installed here). Safe Rust needs no ASan; FUZZ_SANITIZER=address turns it on.
export RUSTC_BOOTSTRAP=1
sanitizer="${FUZZ_SANITIZER:-none}"

command -v python3 >/dev/null || { echo "error: python3 is required (seed corpus)" >&2; exit 2; }
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install --locked cargo-fuzz --version 0.13.2
fi

echo "== building ${targets[*]} (sanitizer: $sanitizer)"
for t in "${targets[@]}"; do
    nice -n 10 cargo fuzz build --sanitizer "$sanitizer" "$t"
done
bin_dir="$CARGO_TARGET_DIR/$(rustc -vV | sed -n 's/^host: //p')/release"

seeds="$(mktemp -d)"
trap 'rm -rf "$seeds"' EXIT
python3 fuzz/seeds.py "$seeds"

found=0
for t in "${targets[@]}"; do
    corpus="$fuzz_dir/corpus/$t" artifacts="$fuzz_dir/artifacts/$t"
    mkdir -p "$corpus" "$artifacts"
    before="$(find "$artifacts" -type f | wc -l)"
    echo "== $t: ${seconds}s, corpus $corpus"
    # The first directory is the corpus libFuzzer adds to; the seeds are read once.
    status=0
    nice -n 10 "$bin_dir/$t" "$corpus" "$seeds/$t" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 -artifact_prefix="$artifacts/" \
        >"$fuzz_dir/$t.log" 2>&1 || status=$?
    grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::new_units_added)' "$fuzz_dir/$t.log" || true
    after="$(find "$artifacts" -type f | wc -l)"
    if [[ "$status" -ne 0 || "$after" -gt "$before" ]]; then
        found=1
        echo "!! $t failed (exit $status); log: $fuzz_dir/$t.log" >&2
        grep -E -m 5 'panicked at|^SUMMARY|Test unit written to' "$fuzz_dir/$t.log" >&2 || true
        echo "   minimise with: $bin_dir/$t -minimize_crash=1 -runs=100000 <artifact>" >&2
    fi
done
exit "$found"
