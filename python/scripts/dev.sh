#!/usr/bin/env bash
# Builds the Python package into a venv and runs its tests against the emulator.
#
#   python/scripts/dev.sh            # venv + `pip install ./python` + pytest python/tests
#   python/scripts/dev.sh -k auth    # extra arguments go to pytest
#
# Everything lands under the root target directory: the venv in target/python-venv, the Rust build in
# target/python (its own directory, so it never invalidates the root workspace's build).
set -euo pipefail

# One build-and-test at a time per target directory: the venv and the installed package are shared.
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
# What the tests need (maturin is not among them: pip brings it into the package's isolated build, below).
# deltalake: the tests read the `trdm sync download` warehouse with it (and with polars.read_delta, which
# needs it); polars 2.1 accepts deltalake >= 1.0 except 1.5.*.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check pytest pyarrow 'pandas<3' \
    'pyspark[connect]==4.3.0' polars 'deltalake==1.6.6'

# The tests start the emulator through the trdm binary.
if [[ ! -x "$target/debug/trdm" ]]; then
    (cd "$root" && CARGO_TARGET_DIR="$target" cargo build -p trdm-cli)
fi

# The package under test is installed the way users install it, `pip install ./python`: maturin's PEP 517
# backend in pip's isolated build environment (so pyproject.toml's build requirements are proven too), a
# wheel, a regular install. MATURIN_PEP517_ARGS adds options to that build: the `dev` profile (PEP 517
# builds default to release, which would take minutes after every change), Cargo.lock as is, and an
# uncompressed wheel (it is only unpacked again, and deflating the debug library costs a second).
# CARGO_TARGET_DIR (target/python, above) keeps the Rust build incremental. --force-reinstall: the version
# number does not change between builds, so without it pip could keep a previously installed wheel.
MATURIN_PEP517_ARGS="--profile dev --locked --compression-method stored" \
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall "$root/python"
# What the tests import must be that install, not the source tree (nor an editable install left by an
# earlier `maturin develop`).
(cd "$root" && "$venv/bin/python" - <<'PY'
import importlib.util, pathlib, sys, sysconfig
origin = pathlib.Path(importlib.util.find_spec("titan_rdm_sdk").origin).resolve()
site = pathlib.Path(sysconfig.get_paths()["platlib"]).resolve()
if site not in origin.parents:
    sys.exit(f"error: titan_rdm_sdk is imported from {origin}, not from the wheel installed in {site}")
PY
)

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
