#!/usr/bin/env bash
# Runs every test of the project on a fresh machine: Rust unit, integration and doc tests of every crate,
# the incumbent conformance test (titan-rdm-sdk 2.0.0, unchanged, against the emulator), then the Python
# package's tests, SparkSync on a real local PySpark 4 session included, and the Spark lanes (Delta Lake,
# Unity Catalog, Spark 3.5, Spark Connect from Python and from the CLI's Rust catalog). First of all, the house rules (scripts/lint.sh).
# Installs what it needs itself: the Rust toolchain is the machine's; Python packages go into a venv under
# the cargo target directory; the object-store emulators (moto from PyPI, Azurite from npm) likewise.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

need() {
    command -v "$1" >/dev/null 2>&1 || { echo "error: $1 is required ($2)" >&2; exit 2; }
}
need cargo "install Rust 1.95 with rustup"
need python3 "install Python 3.10 or newer"
python3 -c 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
    || { echo "error: python3 >= 3.10 with the venv module is required" >&2; exit 2; }
need java "install a Java 17 (or newer) runtime: PySpark 4 runs on it"
need mvn "install Maven 3.8 or newer: the Spark lanes fetch Delta Lake and Unity Catalog jars with it"
need npm "install Node.js and npm: the Azure storage emulator (Azurite) comes from npm"
java_major="$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1)"
[[ "${java_major:-0}" -ge 17 ]] \
    || { echo "error: Java 17 or newer is required for PySpark 4 (found: ${java_major:-none})" >&2; exit 2; }

target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"

echo "== house rules (rustfmt, clippy, ruff, mypy)"
CARGO_TARGET_DIR="$target_dir" scripts/lint.sh

echo "== object stores (moto's S3, Azurite) for the warehouse tests"
stores="$target_dir/object-stores/run"
rm -rf "$stores"
store_env="$(CARGO_TARGET_DIR="$target_dir" scripts/object-stores.sh start "$stores")"
trap 'CARGO_TARGET_DIR="$target_dir" scripts/object-stores.sh stop "$stores"' EXIT

echo "== cargo test (workspace)"
cargo build --locked -p trdm-cli
# The stores' variables only for the Rust tests, which write warehouses into them (and must find them).
(eval "$store_env" && TRDM_REQUIRE_OBJECT_STORES=1 cargo test --locked --workspace)

echo "== incumbent conformance (titan-rdm-sdk 2.0.0 against trdm emulator)"
TRDM_BIN="$target_dir/debug/trdm" INCUMBENT_VENV="$target_dir/incumbent-venv" scripts/incumbent-conformance.sh

echo "== Python package (titan_rdm_sdk over the Rust core; SparkSync on local PySpark)"
TRDM_REQUIRE_SPARK=1 TRDM_BIN="$target_dir/debug/trdm" CARGO_TARGET_DIR="$target_dir" python/scripts/dev.sh -q

echo "== Spark lanes (Delta + Unity Catalog on PySpark 4.2, classic and Spark Connect; Delta on PySpark 3.5;"
echo "   the CLI's Rust Spark Connect catalog against a standalone Connect server)"
TRDM_BIN="$target_dir/debug/trdm" CARGO_TARGET_DIR="$target_dir" python/scripts/lanes.sh
