#!/usr/bin/env bash
# Builds the Python package into a venv and runs its tests against the emulator.
#
#   python/scripts/dev.sh            # venv + maturin develop + pytest python/tests
#   python/scripts/dev.sh -k auth    # extra arguments go to pytest
#
# Everything lands under the root target directory: the venv in target/python-venv, the Rust build in
# target/python (its own directory, so it never invalidates the root workspace's build).
set -euo pipefail

# One build-and-test at a time per target directory: the venv and the editable install are shared.
if [[ -z "${TRDM_DEV_LOCKED:-}" ]] && command -v flock >/dev/null 2>&1; then
    lock="${CARGO_TARGET_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/target}/python-dev.lock"
    mkdir -p "$(dirname "$lock")"
    TRDM_DEV_LOCKED=1 exec flock "$lock" "$0" "$@"
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
venv="$target/python-venv"
export CARGO_TARGET_DIR="$target/python"

if [[ ! -x "$venv/bin/python" ]]; then
    "${PYTHON:-python3}" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check 'maturin==1.16.*' pytest pyarrow 'pandas<3' 'pyspark[connect]==4.3.0' polars

# The tests start the emulator through the trdm binary.
if [[ ! -x "$target/debug/trdm" ]]; then
    (cd "$root" && CARGO_TARGET_DIR="$target" cargo build -p trdm-cli)
fi

# `maturin develop` installs the package in editable mode into the active venv.
(cd "$root/python" && VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" maturin develop --locked --quiet)

cd "$root"
# PySpark allows one kind of session per process: a classic (JVM) one or a Spark Connect one. The Connect
# tests therefore run in a second pytest process. Exit status 5 means the arguments selected no test there.
run_pytest() {
    local status=0
    TRDM_BIN="$target/debug/trdm" "$venv/bin/python" -m pytest python/tests "$@" || status=$?
    [[ $status -eq 0 || $status -eq 5 ]] || exit "$status"
}
run_pytest -m "not spark_connect" "$@"
run_pytest -m spark_connect "$@"
