#!/usr/bin/env bash
# Runs SparkSync's tests on the Spark set-ups Databricks users run, one lane per venv and JVM:
#
#   delta-uc     PySpark 4.2 + Delta Lake 4.4 + a real Unity Catalog OSS 0.6 server, catalog `dev` (classic)
#   connect-uc   the same over Spark Connect (SparkSession.builder.remote("local[2]"))
#   delta3       PySpark 3.5 + Delta Lake 3.3 in spark_catalog, Delta the default format, session time
#                zone not UTC
#   connect-rust the CLI's Rust Spark Connect catalog (trdm-catalog-spark-connect) against a standalone
#                Spark Connect server (PySpark 4.2's, Delta 4.4, Unity Catalog catalog `dev`), started by
#                python/lanes/connect_server.py: the tests in modules `connect_lane` (that crate's, the CLI's
#                test `spark_connect`) with TRDM_SPARK_CONNECT_URL set and TRDM_REQUIRE_SPARK_CONNECT=1 (so
#                nothing skips)
#
#   python/scripts/lanes.sh                    # every lane
#   python/scripts/lanes.sh delta3             # one lane (extra arguments after `--` go to pytest)
#   python/scripts/lanes.sh delta-uc -- -k merge
#   python/scripts/lanes.sh connect-rust -- --nocapture      # arguments after `--` go to the test binaries
#   python/scripts/lanes.sh --print-jars spark42 [PYSPARK_JARS_DIR]   # only builds a jar set, prints its dir
#
# (The PySpark 4.3 parquet lane is python/scripts/dev.sh.) Needs Java 17 and Maven: jars come from the
# registry through the small POMs in python/lanes/ (`mvn dependency:copy-dependencies`, minus every jar the
# lane's PySpark already ships). The registry serves no Unity Catalog server or Spark connector jar, so
# those two are built from Unity Catalog 0.6.0's source, kept unchanged in python/lanes/unitycatalog/.
# Everything built or downloaded lives under the cargo target directory, keyed by a hash of its inputs:
#   $T/lanes/wheel/              the trdm wheel (built once; abi3, so every venv takes the same file)
#   $T/lanes/jars/<set>-<hash>/  jar sets: spark42 (Delta 4.4 + UC connector), delta33, uc-server
#   $T/lanes/venv-<spark>/       the venvs: spark42 (delta-uc and connect-uc), spark35 (delta3)
# where T is $CARGO_TARGET_DIR (default: target/). Maven's own cache is ~/.m2.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
lanes_dir="$target/lanes"
mkdir -p "$lanes_dir"

# One run at a time per target directory: the wheel, the jar sets and the venvs are shared.
if [[ -z "${TRDM_LANES_LOCKED:-}" ]] && command -v flock >/dev/null 2>&1; then
    TRDM_LANES_LOCKED=1 exec flock "$lanes_dir/lanes.lock" "$0" "$@"
fi

all_lanes=(delta-uc delta3 connect-uc connect-rust)
selected=()
pytest_args=()
print_jars=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --print-jars) [[ $# -ge 2 ]] || { echo "error: --print-jars SET [PYSPARK_JARS_DIR]" >&2; exit 2; }
            print_jars=("${@:2}"); break ;;
        --) shift; pytest_args=("$@"); break ;;
        delta-uc|connect-uc|delta3|connect-rust) selected+=("$1"); shift ;;
        -*) pytest_args=("$@"); break ;;
        *) echo "error: unknown lane '$1' (lanes: ${all_lanes[*]})" >&2; exit 2 ;;
    esac
done
[[ ${#selected[@]} -gt 0 ]] || selected=("${all_lanes[@]}")

command -v java >/dev/null 2>&1 || { echo "error: the Spark lanes need Java 17 (apt-get install openjdk-17-jdk-headless)" >&2; exit 2; }
command -v mvn >/dev/null 2>&1 || { echo "error: the Spark lanes need Maven to fetch Delta Lake and Unity Catalog jars (apt-get install maven)" >&2; exit 2; }

py="${PYTHON:-python3}"
pip_quiet=(--quiet --disable-pip-version-check)
mvn_quiet=(-q -B)

# The hash of a directory's files (paths and contents): a jar set is rebuilt when its POM or source changes.
tree_hash() {
    (cd "$1" && find . -type f ! -path './target/*' -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-12
}

# Drops from directory $1 every jar whose artifact name is among the jars of the PySpark at $2: Spark's own
# Scala, Hadoop, Jackson, Parquet, ... must be the versions Spark was built with.
drop_pyspark_jars() {
    local dir="$1" pyspark_jars="$2" names
    names="$(ls "$pyspark_jars" | sed -E 's/-[0-9][^-]*(-[A-Za-z0-9.]+)?\.jar$//' | sort -u)"
    for jar in "$dir"/*.jar; do
        local name
        name="$(basename "$jar" | sed -E 's/-[0-9][^-]*(-[A-Za-z0-9.]+)?\.jar$//')"
        if grep -qxF "$name" <<<"$names"; then rm -f "$jar"; fi
    done
}

# jar_set NAME POM_DIR... : builds (once) the jars of the POMs into $lanes_dir/jars/NAME-<hash> and prints
# that directory. A POM of packaging `jar` is built (`package`) and its own jar added.
jar_set() {
    local name="$1"; shift
    local key="" dir
    for pom_dir in "$@"; do key+="$(tree_hash "$pom_dir")"; done
    key="$(sha256sum <<<"$key" | cut -c1-12)"
    dir="$lanes_dir/jars/$name-$key"
    if [[ ! -f "$dir/.complete" ]]; then
        rm -rf "$dir" "$lanes_dir/build/$name"
        mkdir -p "$dir"
        for pom_dir in "$@"; do
            local build="$lanes_dir/build/$name/$(basename "$pom_dir")"
            echo "   mvn: $(realpath --relative-to="$root" "$pom_dir") -> $(realpath --relative-to="$target" "$dir")" >&2
            if grep -q '<packaging>jar</packaging>' "$pom_dir/pom.xml"; then
                (cd "$pom_dir" && mvn "${mvn_quiet[@]}" package -DskipTests -Dlane.build="$build" \
                    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$dir") >&2
                cp "$build"/*.jar "$dir/"
            else
                (cd "$pom_dir" && mvn "${mvn_quiet[@]}" dependency:copy-dependencies -DoutputDirectory="$dir") >&2
            fi
        done
        touch "$dir/.complete"
    fi
    echo "$dir"
}

lane_jar_set() {  # lane_jar_set SET : jar_set with the POMs of SET (spark42, delta33, uc-server)
    case "$1" in
        spark42) jar_set spark42 "$root/python/lanes/delta-4.4" "$root/python/lanes/unitycatalog/spark" ;;
        delta33) jar_set delta33 "$root/python/lanes/delta-3.3" ;;
        uc-server) jar_set uc-server "$root/python/lanes/unitycatalog/server" ;;
        *) echo "error: unknown jar set '$1' (spark42, delta33, uc-server)" >&2; return 2 ;;
    esac
}

# --print-jars SET [PYSPARK_JARS_DIR]: builds only that jar set (less the jars of the PySpark whose jars/ is
# given) and prints its directory, running no test; for bench/python/run.sh, whose lanes need the same jars.
if [[ ${#print_jars[@]} -gt 0 ]]; then
    dir="$(lane_jar_set "${print_jars[0]}")"
    [[ -z "${print_jars[1]:-}" ]] || drop_pyspark_jars "$dir" "${print_jars[1]}"
    echo "$dir"
    exit 0
fi

# The wheel: the same build as dev.sh's `pip install ./python` (its target directory, so nothing is
# compiled again when dev.sh ran first), kept as a file to install into every lane's venv. The connect-rust
# lane tests no Python and needs none.
wheel=()
if [[ " ${selected[*]} " != " connect-rust " ]]; then
    echo "== lanes: trdm wheel" >&2
    wheel_dir="$lanes_dir/wheel"
    builder="$lanes_dir/build-venv"
    [[ -x "$builder/bin/python" ]] || "$py" -m venv "$builder"
    rm -rf "$wheel_dir" && mkdir -p "$wheel_dir"
    CARGO_TARGET_DIR="$target/python" MATURIN_PEP517_ARGS="--profile dev --locked --compression-method stored" \
        "$builder/bin/python" -m pip wheel "${pip_quiet[@]}" --no-deps -w "$wheel_dir" "$root/python"
    wheel=("$wheel_dir"/trdm-*.whl)
fi

# The trdm binary (the tests start the emulator with it).
if [[ -z "${TRDM_BIN:-}" ]]; then
    [[ -x "$target/debug/trdm" ]] || (cd "$root" && CARGO_TARGET_DIR="$target" cargo build -p trdm-cli)
    export TRDM_BIN="$target/debug/trdm"
fi

lane_venv() {  # lane_venv NAME PIP_REQUIREMENT... : a venv with these and the wheel; prints it
    local name="$1"; shift
    local venv="$lanes_dir/venv-$name"
    [[ -x "$venv/bin/python" ]] || "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install "${pip_quiet[@]}" pytest pyarrow 'pandas<3' "$@" >&2
    [[ ${#wheel[@]} -eq 0 ]] \
        || "$venv/bin/python" -m pip install "${pip_quiet[@]}" --no-deps --force-reinstall "${wheel[0]}" >&2
    echo "$venv"
}

pyspark_jars() { "$1/bin/python" -c 'import pathlib, pyspark; print(pathlib.Path(pyspark.__file__).parent / "jars")'; }

run_lane() {
    local lane="$1" venv jars server="" start status=0
    start=$(date +%s)
    echo "== lane $lane" >&2
    case "$lane" in
        delta-uc|connect-uc|connect-rust)
            venv="$(lane_venv spark42 'pyspark[connect]==4.2.1')"  # one venv for all: the same PySpark
            jars="$(lane_jar_set spark42)"
            drop_pyspark_jars "$jars" "$(pyspark_jars "$venv")"
            server="$(lane_jar_set uc-server)"
            ;;
        delta3)
            venv="$(lane_venv spark35 'pyspark==3.5.3' 'numpy>=2')"
            jars="$(lane_jar_set delta33)"
            drop_pyspark_jars "$jars" "$(pyspark_jars "$venv")"
            ;;
    esac
    local jar_list
    jar_list="$(ls "$jars"/*.jar | paste -sd, -)"
    if [[ "$lane" == connect-rust ]]; then
        # The tests that need the server live in modules named `connect_lane` (the catalog crate's and the
        # CLI's test `spark_connect`). Selected by that name from the whole workspace's test binaries, which
        # are the ones `cargo test --workspace` built (same packages, same features): nothing is rebuilt.
        (cd "$root" && CARGO_TARGET_DIR="$target" "$venv/bin/python" python/lanes/connect_server.py \
            --jars "$jar_list" --uc-server-jars "$server" --home "$lanes_dir/connect-rust" -- \
            env TRDM_REQUIRE_SPARK_CONNECT=1 cargo test --locked --workspace --tests -- connect_lane:: \
            ${pytest_args[@]+"${pytest_args[@]}"}) || status=$?
        echo "== lane $lane: $(( $(date +%s) - start )) s, exit $status" >&2
        [[ $status -eq 0 ]] || failed+=("$lane")
        return 0
    fi
    (cd "$root" && TRDM_LANE="$lane" TRDM_LANE_JARS="$jar_list" TRDM_UC_SERVER_JARS="$server" \
        TRDM_REQUIRE_SPARK=1 "$venv/bin/python" -m pytest python/lanes/tests -q -p no:cacheprovider \
        ${pytest_args[@]+"${pytest_args[@]}"}) || status=$?
    echo "== lane $lane: $(( $(date +%s) - start )) s, exit $status" >&2
    # Exit status 5 (no test selected) is fine only when arguments chose the tests.
    [[ $status -eq 0 || ( $status -eq 5 && ${#pytest_args[@]} -gt 0 ) ]] || failed+=("$lane")
}

failed=()
for lane in "${selected[@]}"; do run_lane "$lane"; done
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "error: lanes failed: ${failed[*]}" >&2
    exit 1
fi
