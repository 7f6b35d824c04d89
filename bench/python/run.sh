#!/usr/bin/env bash
# SparkSync benchmark: incumbent titan-rdm-sdk==2.0.0 vs trdm (ours), same PySpark, same emulator, one run.
#
#   bench/python/run.sh                 # install everything, then 3 alternating rounds of (a), (b), (c) and one of (d)
#   bench/python/run.sh --quick         # small sizes, one round (checks the harness in a few minutes)
#   bench/python/run.sh --scenarios b --rounds 5
#   BENCH_OURS=incumbent bench/python/run.sh --quick   # incumbent on both sides (validates the harness)
#   BENCH_SKIP_INSTALL=1 bench/python/run.sh            # reuse the venvs, wheel and binary as they are
#   BENCH_WHEEL_REV=HEAD bench/python/run.sh            # build our wheel from a commit, not the work tree
#   bench/python/run.sh --quick --lane delta-uc         # PySpark 4.2.1 + Delta 4.4 + Unity Catalog, catalog dev
#
# Every worker makes its SparkSync call twice in one process: cold (a fresh JVM, as a notebook's first sync)
# and warm (what later syncs cost); the report has both. Lanes: `parquet` (the default: PySpark 4.3, parquet
# tables in spark_catalog) and `delta-uc` (PySpark 4.2.1, Delta Lake 4.4, a real Unity Catalog OSS server,
# managed Delta tables in dev.rdmin / dev.rdmout), the set-up of the lane tests, whose machinery it reuses:
# python/scripts/lanes.sh --print-jars builds the jar sets, python/lanes/lane_session.py starts the server.
#
# Arguments go to bench/python/spark_bench.py (see --help). Everything it installs lives under the cargo
# target directory, never in the work tree:
#   $T/release/trdm                the emulator (cargo build --release -p trdm-cli)
#   $T/bench-venvs/incumbent       titan-rdm-sdk==2.0.0 'pandas<3' pyspark==4.3.0 pyarrow
#   $T/bench-venvs/ours            'pandas<3' pyspark==4.3.0 pyarrow + the trdm wheel
#   $T/bench-venvs/incumbent-4.2   delta-uc only: titan-rdm-sdk==2.0.0 'pandas<3' pyspark==4.2.1 pyarrow
#   $T/bench-venvs/ours-4.2        delta-uc only: 'pandas<3' pyspark==4.2.1 pyarrow + the trdm wheel
#   $T/lanes/jars/<set>-<hash>/    delta-uc only: jar sets spark42 and uc-server (python/scripts/lanes.sh)
#   $T/bench-venvs/build           maturin, which builds the wheel into $T/bench-venvs/wheels
#   $T/python-release              cargo target directory of the release wheel build
#   $T/bench-python                scratch: fixtures, seed CSVs, emulator databases, one log per run
#                                  (bench-python-delta-uc on that lane; the Unity Catalog server's home too)
# where T is ${CARGO_TARGET_DIR:-target}. Needs python3 >= 3.10, Java 17+ (PySpark 4) and Rust; delta-uc also
# Maven (the first run builds the jars, the Unity Catalog server from source).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
venvs="$target/bench-venvs"
py="${PYTHON:-python3}"
pip_quiet=(--quiet --disable-pip-version-check)

venv() { [[ -x "$1/bin/python" ]] || "$py" -m venv "$1"; }

# The lane (spark_bench.py parses --lane too; here it picks the venvs and jars).
lane=parquet
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[i]}" in
        --lane) lane="${args[i + 1]:-}" ;;
        --lane=*) lane="${args[i]#--lane=}" ;;
    esac
done
case "$lane" in
    parquet) pyspark='pyspark==4.3.0'; suffix='' ;;
    delta-uc) pyspark='pyspark==4.2.1'; suffix='-4.2' ;;
    *) echo "error: unknown lane '$lane' (lanes: parquet, delta-uc)" >&2; exit 2 ;;
esac
incumbent="$venvs/incumbent$suffix"
ours="$venvs/ours$suffix"

if [[ -z "${BENCH_SKIP_INSTALL:-}" ]]; then
    command -v java >/dev/null || { echo "PySpark needs Java 17+ (apt-get install openjdk-17-jre-headless)" >&2; exit 2; }

    echo "== emulator: cargo build --release -p trdm-cli" >&2
    (cd "$root" && CARGO_TARGET_DIR="$target" cargo build --release --locked -p trdm-cli)

    echo "== venv: $(basename "$incumbent")" >&2
    venv "$incumbent"
    "$incumbent/bin/python" -m pip install "${pip_quiet[@]}" 'titan-rdm-sdk==2.0.0' 'pandas<3' "$pyspark" pyarrow

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

        echo "== venv: $(basename "$ours")" >&2
        venv "$ours"
        "$ours/bin/python" -m pip install "${pip_quiet[@]}" 'pandas<3' "$pyspark" pyarrow
        wheel=("$venvs"/wheels/trdm-*.whl)
        "$ours/bin/python" -m pip install "${pip_quiet[@]}" --no-deps --force-reinstall "${wheel[0]}"
    fi
fi

ours_args=(--ours-python "$ours/bin/python")
if [[ "${BENCH_OURS:-}" == "incumbent" ]]; then
    ours_args=(--ours-python "$incumbent/bin/python" --ours-label incumbent-B)
fi

lane_args=()
if [[ "$lane" == delta-uc ]]; then
    # The lane tests' jar sets, built once per change of their POMs (also with BENCH_SKIP_INSTALL: a no-op
    # then): Delta 4.4 + the UC connector, less the jars PySpark 4.2.1 ships, and the UC server's classpath.
    echo "== jars: python/scripts/lanes.sh --print-jars spark42, uc-server" >&2
    pyspark_jars="$("$incumbent/bin/python" -c \
        'import pathlib, pyspark; print(pathlib.Path(pyspark.__file__).parent / "jars")')"
    spark_jars="$(CARGO_TARGET_DIR="$target" "$root/python/scripts/lanes.sh" --print-jars spark42 "$pyspark_jars")"
    server_jars="$(CARGO_TARGET_DIR="$target" "$root/python/scripts/lanes.sh" --print-jars uc-server)"
    lane_args=(--lane-jars "$spark_jars" --uc-server-jars "$server_jars")
fi

exec "$py" "$root/bench/python/spark_bench.py" \
    --incumbent-python "$incumbent/bin/python" \
    --trdm "$target/release/trdm" \
    --work "$target/bench-python$([[ "$lane" == parquet ]] || echo "-$lane")" \
    "${ours_args[@]}" ${lane_args[@]+"${lane_args[@]}"} "$@"
