#!/usr/bin/env bash
# SparkSync benchmark: incumbent titan-rdm-sdk==2.0.0 vs trdm (ours), same PySpark, same emulator, one run.
#
#   bench/python/run.sh                 # install everything, then 3 alternating rounds of (a), (b), (c)
#   bench/python/run.sh --quick         # small sizes, one round (checks the harness in a few minutes)
#   bench/python/run.sh --scenarios b --rounds 5
#   BENCH_OURS=incumbent bench/python/run.sh --quick   # incumbent on both sides (validates the harness)
#   BENCH_SKIP_INSTALL=1 bench/python/run.sh            # reuse the venvs, wheel and binary as they are
#   BENCH_WHEEL_REV=HEAD bench/python/run.sh            # build our wheel from a commit, not the work tree
#
# Arguments go to bench/python/spark_bench.py (see --help). Everything it installs lives under the cargo
# target directory, never in the work tree:
#   $T/release/trdm                the emulator (cargo build --release -p trdm-cli)
#   $T/bench-venvs/incumbent       titan-rdm-sdk==2.0.0 'pandas<3' pyspark==4.3.0 pyarrow
#   $T/bench-venvs/ours            'pandas<3' pyspark==4.3.0 pyarrow + the trdm wheel
#   $T/bench-venvs/build           maturin, which builds the wheel into $T/bench-venvs/wheels
#   $T/python-release              cargo target directory of the release wheel build
#   $T/bench-python                scratch: fixtures, seed CSVs, emulator databases, one log per run
# where T is ${CARGO_TARGET_DIR:-target}. Needs python3 >= 3.10, Java 17+ (PySpark 4) and Rust.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
venvs="$target/bench-venvs"
py="${PYTHON:-python3}"
pip_quiet=(--quiet --disable-pip-version-check)

venv() { [[ -x "$1/bin/python" ]] || "$py" -m venv "$1"; }

if [[ -z "${BENCH_SKIP_INSTALL:-}" ]]; then
    command -v java >/dev/null || { echo "PySpark needs Java 17+ (apt-get install openjdk-17-jre-headless)" >&2; exit 2; }

    echo "== emulator: cargo build --release -p trdm-cli" >&2
    (cd "$root" && CARGO_TARGET_DIR="$target" cargo build --release --locked -p trdm-cli)

    echo "== venv: incumbent" >&2
    venv "$venvs/incumbent"
    "$venvs/incumbent/bin/python" -m pip install "${pip_quiet[@]}" \
        'titan-rdm-sdk==2.0.0' 'pandas<3' 'pyspark==4.3.0' pyarrow

    if [[ "${BENCH_OURS:-}" != "incumbent" ]]; then
        echo "== wheel: maturin build --release (python/)" >&2
        venv "$venvs/build"
        "$venvs/build/bin/python" -m pip install "${pip_quiet[@]}" 'maturin==1.16.*'
        src="$root"
        if [[ -n "${BENCH_WHEEL_REV:-}" ]]; then
            # A clean snapshot of a commit, so edits in progress in the work tree stay out of the measurement.
            src="$target/bench-src"
            rm -rf "$src" && mkdir -p "$src"
            git -C "$root" archive "$BENCH_WHEEL_REV" | tar -x -C "$src"
            echo "   from $(git -C "$root" rev-parse --short "$BENCH_WHEEL_REV") ($BENCH_WHEEL_REV)" >&2
        fi
        rm -rf "$venvs/wheels"
        (cd "$src/python" && CARGO_TARGET_DIR="$target/python-release" \
            "$venvs/build/bin/maturin" build --release --locked --quiet -o "$venvs/wheels")

        echo "== venv: ours" >&2
        venv "$venvs/ours"
        "$venvs/ours/bin/python" -m pip install "${pip_quiet[@]}" 'pandas<3' 'pyspark==4.3.0' pyarrow
        wheel=("$venvs"/wheels/trdm-*.whl)
        "$venvs/ours/bin/python" -m pip install "${pip_quiet[@]}" --no-deps --force-reinstall "${wheel[0]}"
    fi
fi

ours_args=(--ours-python "$venvs/ours/bin/python")
if [[ "${BENCH_OURS:-}" == "incumbent" ]]; then
    ours_args=(--ours-python "$venvs/incumbent/bin/python" --ours-label incumbent-B)
fi

exec "$py" "$root/bench/python/spark_bench.py" \
    --incumbent-python "$venvs/incumbent/bin/python" \
    --trdm "$target/release/trdm" \
    --work "$target/bench-python" \
    "${ours_args[@]}" "$@"
