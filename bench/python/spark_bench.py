#!/usr/bin/env python3
"""SparkSync benchmark: the incumbent ``titan-rdm-sdk==2.0.0`` against ``trdm`` (ours), side by side, one run.

Both packages import as ``titan_rdm_sdk``, so each side lives in its own venv and every measurement is a fresh
worker process (``worker.py``) in that venv: a local SparkSession (``local[2]``, Arrow on, UI off, warehouse in
a temporary directory, identical settings on both sides), then one documented SparkSync call made twice, each
timed alone: the first (cold) is what a fresh notebook's first sync costs, the second (warm, same session and
client) what every later one does, and a fresh JVM can make those differ by seconds. The sides alternate
A B A B … against ONE emulator per scenario, and the medians of both are compared:

  (a) ``download_sync_by_convention`` of a domain of 20 tables x 1,000 rows, emulator export delay 1 s
      (target: >= 10x faster);
  (b) ``download_sync_by_convention`` of one 1,000,000-row x 12-column table;
  (c) ``upload_sync_by_convention`` of the same table from a Spark table
      (targets for b and c: >= 3x faster, cold and warm, and <= 1/2 the peak RSS of the Python process);
  (d) ``download_sync_by_convention`` of a domain of 200 tables x 500 rows, emulator export delay 1 s
      (target: >= 25x faster). The incumbent moves one table after the other (minutes per call), so (d)
      runs one round whatever ``--rounds`` says, and the cold call only.

In (b) and (c) ours runs a third time as ``trdm-staged`` (``staging_location`` a temporary directory: tables
cross as Parquet files instead of through ``createDataFrame`` / ``toArrow``), and in (c) a fourth as
``trdm-no-plan`` (the mass-delete guard off, so no plan), to show what each costs.

Lanes (``--lane``): ``parquet`` (default; PySpark 4.3, parquet tables in ``spark_catalog``) and ``delta-uc``
(PySpark 4.2.1, Delta Lake 4.4 and a real Unity Catalog OSS server, managed Delta tables in the catalog ``dev``,
where Databricks users keep theirs). On delta-uc this starts one Unity Catalog server for the run through
python/lanes/lane_session.py, the lane tests' own set-up, and gives every worker its URL and the lane's jars.

Standard library only; run with the system python3. ``bench/python/run.sh`` installs everything and calls this.

    python3 bench/python/spark_bench.py --incumbent-python VENV/bin/python --ours-python VENV/bin/python \\
        --trdm target/release/trdm [--rounds 3] [--quick] [--scenarios a,b,c]
        [--lane delta-uc --lane-jars JAR_DIR --uc-server-jars JAR_DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
WORKER = HERE / "worker.py"
LANE_SESSION = ROOT / "python" / "lanes" / "lane_session.py"
LANES = {
    "parquet": "PySpark 4.3, parquet tables in spark_catalog",
    "delta-uc": "PySpark 4.2.1 + Delta Lake 4.4 + Unity Catalog OSS, managed Delta tables in dev",
}

CLIENT_ID = "bench"
CLIENT_SECRET = "bench-secret"

# The 12 columns every benchmark table has: (name, fixture column spec).
COLUMNS: list[tuple[str, str]] = [
    ("code", 'data_type = "varchar", length = 10, primary_key = true, required = true'),
    ("name", 'data_type = "varchar", length = 80, required = true'),
    ("notes", 'data_type = "text"'),
    ("postcode", 'data_type = "varchar", length = 4'),
    ("qty", 'data_type = "integer"'),
    ("population", 'data_type = "bigint"'),
    ("amount", 'data_type = "decimal", precision = 14, scale = 2'),
    ("latitude", 'data_type = "decimal", precision = 9, scale = 6'),
    ("active", 'data_type = "boolean", required = true'),
    ("opened_on", 'data_type = "date"'),
    ("seen_at", 'data_type = "timestamptz"'),
    ("updated_at", 'data_type = "timestamptz", required = true'),
]


def csv_quote(text: str) -> str:
    """A non-NULL text field: quoted when it must be (an empty string is always quoted: `""` is not NULL)."""
    if text == "" or any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def write_rows_csv(path: Path, rows: int) -> int:
    """Writes `rows` deterministic rows of COLUMNS in TitanRDM's CSV dialect; returns the file size."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(",".join(name for name, _ in COLUMNS) + "\n")
        buf: list[str] = []
        for i in range(rows):
            notes = "" if i % 7 == 0 else csv_quote(f'note, with "quotes" {i % 1000}')
            if i % 97 == 3:
                notes = '""'  # an empty string, not NULL
            postcode = "" if i % 13 == 0 else f"{i % 10000:04d}"  # leading zeros, some NULL
            qty = "" if i % 11 == 0 else str(i % 5000)
            amount = "" if i % 17 == 0 else f"{i % 1_000_000}.{i % 100:02d}"
            lat = f"-{10 + i % 30}.{(i * 7919) % 1_000_000:06d}"
            active = "true" if i % 2 == 0 else "false"
            opened = "" if i % 19 == 0 else f"20{i % 25:02d}-{i % 12 + 1:02d}-{i % 28 + 1:02d}"
            seen = "" if i % 5 == 0 else f"2024-{i % 12 + 1:02d}-{i % 28 + 1:02d}T{i % 24:02d}:{i % 60:02d}:00+00"
            updated = f"2025-{i % 12 + 1:02d}-{i % 28 + 1:02d}T08:{i % 60:02d}:{i % 59:02d}+00"
            buf.append(
                f"{i:08d},Site number {i},{notes},{postcode},{qty},{3_000_000_000 + i},{amount},{lat},"
                f"{active},{opened},{seen},{updated}\n"
            )
            if len(buf) >= 10_000:
                f.write("".join(buf))
                buf.clear()
        f.write("".join(buf))
    return path.stat().st_size


def write_fixture(path: Path, domain: str, abbreviation: str, tables: list[tuple[str, str]]) -> None:
    """A fixture with the bench application, branch `prod` and `domain` holding `tables` (name, seed CSV)."""
    cols = "\n".join(f'  {{ name = "{n}", {spec} }},' for n, spec in COLUMNS)
    parts = [
        "# Generated by bench/python/spark_bench.py",
        "[[oauth_applications]]",
        'name = "bench"',
        f'client_id = "{CLIENT_ID}"',
        f'client_secret = "{CLIENT_SECRET}"',
        'scopes = ["api"]',
        "",
        "[[branches]]",
        'name = "prod"',
        'branch_type = "shared"',
        'description = "Production"',
        "",
        "[[domains]]",
        f'name = "{domain}"',
        f'abbreviation = "{abbreviation}"',
        'description = "benchmark domain"',
    ]
    for name, seed in tables:
        parts += [
            "",
            "[[tables]]",
            f'domain = "{domain}"',
            f'name = "{name}"',
            'branches = ["prod"]',
            f'seed_csv = "{seed}"',
            f"columns = [\n{cols}\n]",
        ]
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")


class Emulator:
    """A `trdm emulator` child process with its own database directory; stopped by `stop()`."""

    def __init__(self, trdm: Path, fixture: Path, dbdir: Path, extra: list[str], log: Path) -> None:
        dbdir.mkdir(parents=True, exist_ok=True)
        self.log = open(log, "wb")
        started = time.monotonic()
        self.proc = subprocess.Popen(
            [str(trdm), "emulator", "--listen", "127.0.0.1:0", "--fixture", str(fixture),
             "--db", str(dbdir / "emulator.db"), "--max-upload-size", "4000000000", *extra],
            stdout=subprocess.PIPE, stderr=self.log, text=True,
        )
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        while True:
            try:
                line = lines.get(timeout=600)
            except queue.Empty:
                self.stop()
                raise SystemExit(f"emulator did not start within 600 s (log: {log})") from None
            if line is None:
                raise SystemExit(f"emulator exited before listening (log: {log})")
            if line.startswith("listening on "):
                self.url = line.split("listening on ", 1)[1].strip()
                break
        self.startup_s = time.monotonic() - started

    def peak_rss_mib(self) -> float:
        return proc_hwm_mib(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def proc_hwm_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


@dataclass
class Scenario:
    key: str
    title: str
    kind: str  # download | upload
    domain: str
    abbreviation: str
    tables: int
    rows: int
    emulator_args: list[str]
    speed_target: float
    rss_target: float | None  # ours / incumbent at most this, or None
    max_rounds: int | None = None  # at most this many rounds (for scenarios the incumbent takes minutes on)
    warm: bool = True  # False: each worker makes the cold call only (ditto)
    results: dict[str, list[dict]] = field(default_factory=dict)


def scenarios(quick: bool) -> list[Scenario]:
    big = 20_000 if quick else 1_000_000
    small_tables, small_rows = (5, 200) if quick else (20, 1_000)
    many_tables, many_rows = (10, 100) if quick else (200, 500)
    return [
        Scenario("a", f"download {small_tables} tables x {small_rows:,} rows, export delay 1 s", "download",
                 "Reference", "ref", small_tables, small_rows, ["--export-delay", "1"], 12.0, None),
        Scenario("b", f"download 1 table x {big:,} rows x 12 cols", "download",
                 "Bench", "b", 1, big, [], 3.0, 0.5),
        Scenario("c", f"upload 1 table x {big:,} rows x 12 cols", "upload",
                 "Bench", "b", 1, big, [], 3.0, 0.5),
        Scenario("d", f"download {many_tables} tables x {many_rows:,} rows, export delay 1 s", "download",
                 "Many", "many", many_tables, many_rows, ["--export-delay", "1"], 25.0, None, max_rounds=1,
                 warm=False),
    ]


def run_worker(python: str, args: list[str], log: Path, timeout: float) -> dict:
    """Runs worker.py in a venv; returns the JSON of its `BENCH_RESULT` line (or an `error`)."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.setdefault("PYSPARK_PYTHON", python)
    env["PYTHONUNBUFFERED"] = "1"
    with open(log, "w", encoding="utf-8") as out:
        try:
            proc = subprocess.run([python, str(WORKER), *args], stdout=subprocess.PIPE, stderr=out,
                                  text=True, timeout=timeout, env=env, cwd=log.parent)
        except subprocess.TimeoutExpired:
            return {"error": f"worker timed out after {timeout:.0f} s (log: {log})"}
        out.write("\n--- stdout ---\n" + proc.stdout)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("BENCH_RESULT "):
            result = json.loads(line[len("BENCH_RESULT "):])
            if proc.returncode != 0 and "error" not in result:
                result["error"] = f"worker exit code {proc.returncode}"
            return result
    tail = "\n".join((proc.stdout.splitlines() + log.read_text().splitlines())[-15:])
    return {"error": f"worker exit code {proc.returncode}, no result (log: {log}):\n{tail}"}


def fmt(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None or x != x else f"{x:.{digits}f}"


def median_of(runs: list[dict], key: str, sc: Scenario | None = None) -> float | None:
    """The median of `key` over the calls that ran and, given `sc`, checked out (a failed write is no
    measurement); warm_* keys are the warm calls'."""
    prefix = "warm_" if key.startswith("warm_") else ""
    values = [r[key] for r in runs
              if "error" not in r and r.get(key) is not None and (sc is None or not check(r, sc, prefix))]
    return statistics.median(values) if values else None


def cell(runs: list[dict], value: float | None, digits: int = 2) -> str:
    """A median for the report: `failed` when there were runs but none counted."""
    return "failed" if value is None and runs else fmt(value, digits)


def load_lane_session():
    """python/lanes/lane_session.py (stdlib only), loaded by path as the lane tests do."""
    spec = importlib.util.spec_from_file_location("trdm_lane_session", LANE_SESSION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
    venvs = target / "bench-venvs"
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lane", choices=sorted(LANES), default="parquet",
                   help="parquet (default: PySpark 4.3, spark_catalog) or delta-uc (PySpark 4.2.1, Delta, "
                        "Unity Catalog catalog dev)")
    p.add_argument("--incumbent-python", help="default: bench-venvs/incumbent (delta-uc: incumbent-4.2)")
    p.add_argument("--ours-python", help="default: bench-venvs/ours (delta-uc: ours-4.2)")
    p.add_argument("--ours-label", default="trdm", help="name of side B in the report")
    p.add_argument("--trdm", default=str(target / "release/trdm"), help="the trdm binary (emulator)")
    p.add_argument("--lane-jars", help="delta-uc: directory of the Spark jars (lanes.sh jar set spark42)")
    p.add_argument("--uc-server-jars", help="delta-uc: classpath directory of the Unity Catalog server")
    p.add_argument("--rounds", type=int, default=3, help="A B pairs per scenario (default 3)")
    p.add_argument("--quick", action="store_true", help="small sizes: 5 x 200 rows and 20,000 rows, 1 round")
    p.add_argument("--scenarios", default="a,b,c,d", help="comma-separated subset of a,b,c,d")
    p.add_argument("--work", help="scratch directory, recreated (default: bench-python, on delta-uc "
                                  "bench-python-delta-uc, in the target directory)")
    p.add_argument("--timeout", type=float, default=1800, help="seconds allowed per worker run")
    p.add_argument("--json", help="also write every measurement to this file")
    args = p.parse_args()
    rounds = 1 if args.quick and args.rounds == 3 else args.rounds
    chosen = set(args.scenarios.split(","))
    suffix = "" if args.lane == "parquet" else "-4.2"
    # Absolute, but not resolved: a venv's python is a symlink that must keep its venv path.
    args.incumbent_python = os.path.abspath(args.incumbent_python or venvs / f"incumbent{suffix}/bin/python")
    args.ours_python = os.path.abspath(args.ours_python or venvs / f"ours{suffix}/bin/python")
    trdm = Path(os.path.abspath(args.trdm))
    needed = [args.incumbent_python, args.ours_python, str(trdm)]
    if args.lane != "parquet":
        if not args.lane_jars or not args.uc_server_jars:
            print(f"--lane {args.lane} needs --lane-jars and --uc-server-jars (bench/python/run.sh passes them)",
                  file=sys.stderr)
            return 2
        needed += [args.lane_jars, args.uc_server_jars, str(LANE_SESSION)]
    for path in needed:
        if not Path(path).exists():
            print(f"missing: {path} (bench/python/run.sh installs everything)", file=sys.stderr)
            return 2

    default_work = "bench-python" if args.lane == "parquet" else f"bench-python-{args.lane}"
    work = Path(os.path.abspath(args.work or target / default_work))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    sides = [("incumbent", args.incumbent_python), (args.ours_label, args.ours_python)]
    print(f"lane {args.lane}: {LANES[args.lane]}")
    for label, python in sides:
        v = subprocess.run([python, str(WORKER), "--versions"], capture_output=True, text=True)
        print(f"{label:>10}: {v.stdout.strip() or v.stderr.strip()}")

    todo = [s for s in scenarios(args.quick) if s.key in chosen]
    with contextlib.ExitStack() as stack:
        lane_args = ["--lane", args.lane, "--catalog", "spark_catalog"]
        if args.lane != "parquet":
            # One Unity Catalog server for the whole run (the workers drop the tables they are about to make).
            jars = ",".join(str(j) for j in sorted(Path(args.lane_jars).glob("*.jar")))
            t0 = time.monotonic()
            uc_home = work / "unity-catalog"
            uc_home.mkdir()
            uc_url = stack.enter_context(load_lane_session().unity_catalog(os.path.abspath(args.uc_server_jars),
                                                                           uc_home))
            print(f"Unity Catalog server {uc_url}, catalog dev (started in {time.monotonic() - t0:.1f} s; "
                  f"log {uc_home / 'server.log'})")
            lane_args = ["--lane", args.lane, "--catalog", "dev", "--lane-jars", jars, "--uc-url", uc_url]
        if not run_scenarios(args, todo, sides, rounds, work, trdm, lane_args):
            return 1

    report(todo, sides, rounds, args.lane)
    if args.json:
        Path(args.json).write_text(json.dumps({"lane": args.lane, **{
            s.key: {"title": s.title, "results": s.results} for s in todo}}, indent=1))
    # 1 when a worker or a call raised, or a call of ours (side B) did not check out; the incumbent's results
    # that do not check out (its bugs) are reported above, not a failure of the run.
    raised = any("error" in r or "warm_error" in r for s in todo for rs in s.results.values() for r in rs)
    ours = (sides[1][0], no_plan_label(sides), staged_label(sides))
    ours_bad = any(check(r, s, prefix) for s in todo for label in ours for r in s.results.get(label, [])
                   for prefix in ("", "warm_") if "error" not in r and r.get(prefix + "wall_s") is not None)
    return 1 if raised or ours_bad else 0


def run_scenarios(args: argparse.Namespace, todo: list[Scenario], sides: list[tuple[str, str]], rounds: int,
                  work: Path, trdm: Path, lane_args: list[str]) -> bool:
    """Runs every round of every scenario into `Scenario.results`; False when the set-up failed."""
    # Seed data: written once per size, shared by the fixtures that need it.
    data = work / "data"
    data.mkdir()
    prepared_parquet: Path | None = None
    for sc in todo:
        sdir = work / f"scenario-{sc.key}"
        sdir.mkdir()
        csv = data / f"rows-{sc.rows}.csv"
        if not csv.exists():
            t0 = time.monotonic()
            size = write_rows_csv(csv, sc.rows)
            print(f"wrote {csv.name}: {sc.rows:,} rows, {size / 2**20:.1f} MiB in {time.monotonic() - t0:.1f} s")
        names = [f"Table {k:03d}" for k in range(1, sc.tables + 1)] if sc.tables > 1 else ["Wide"]
        fixture = sdir / "fixture.toml"
        write_fixture(fixture, sc.domain, sc.abbreviation, [(n, str(csv)) for n in names])

        upload_args: list[str] = []
        if sc.kind == "upload":
            # The source: the same rows as Parquet, written once by Spark (untimed); before its timed calls
            # every worker registers it as {catalog}.rdmout.b_wide (parquet) or copies it into that managed
            # Delta table (delta-uc).
            if prepared_parquet is None:
                prepared_parquet = data / f"source-{sc.rows}.parquet"
                t0 = time.monotonic()
                r = run_worker(args.incumbent_python,
                               ["--scenario", "prepare", "--csv", str(csv), "--parquet", str(prepared_parquet)],
                               sdir / "prepare.log", args.timeout)
                if "error" in r:
                    print(f"preparing the upload source failed: {r['error']}", file=sys.stderr)
                    return False
                print(f"prepared the Spark source table ({r['rows']:,} rows) in {time.monotonic() - t0:.1f} s")
            upload_args = ["--source-parquet", str(prepared_parquet)]

        emu = Emulator(trdm, fixture, sdir / "db", sc.emulator_args, sdir / "emulator.log")
        print(f"\n({sc.key}) {sc.title}: emulator {emu.url} (loaded in {emu.startup_s:.1f} s)")
        try:
            # Ours once more through staged Parquet (b, c), and without the plan its mass-delete guard reads
            # (c), to show what each costs.
            runs = [(label, python, []) for label, python in sides]
            if sc.tables == 1:
                runs.append((staged_label(sides), sides[1][1], ["--staged"]))
            if sc.kind == "upload":
                runs.append((no_plan_label(sides), sides[1][1], ["--no-plan"]))
            for rnd in range(1, min(rounds, sc.max_rounds or rounds) + 1):
                for label, python, extra in runs:
                    wargs = ["--scenario", sc.kind, "--url", emu.url, "--client-id", CLIENT_ID,
                             "--client-secret", CLIENT_SECRET, "--domain", sc.domain, "--branch", "prod",
                             "--expect-rows", str(sc.rows * sc.tables), *lane_args, *upload_args, *extra,
                             *([] if sc.warm else ["--cold-only"])]
                    log = sdir / f"{label}-{rnd}.log"
                    r = run_worker(python, wargs, log, args.timeout)
                    if sdk_said(log):
                        r["sdk_said"] = sdk_said(log)
                    sc.results.setdefault(label, []).append(r)
                    print_run(rnd, label, r, sc, log)
        finally:
            server_rss = emu.peak_rss_mib()
            emu.stop()
        print(f"  emulator peak RSS {fmt(server_rss, 0)} MiB")
    return True


def staged_label(sides: list[tuple[str, str]]) -> str:
    """The label of ours with tables crossing as staged Parquet files."""
    return f"{sides[1][0]}-staged"


def no_plan_label(sides: list[tuple[str, str]]) -> str:
    """The label of ours without the upload plan (and so without the mass-delete guard)."""
    return f"{sides[1][0]}-no-plan"


def sdk_said(log: Path) -> list[str]:
    """The failures the SDK printed on stdout (the incumbent's `... ✗ message` lines, each with its first
    `Caused by:`): its statuses can say `success` when a write failed, so the report quotes these."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    lines = text.split("\n--- stdout ---\n", 1)[-1].splitlines()
    marks = [i for i, line in enumerate(lines) if " ✗ " in line] + [len(lines)]
    said = []
    for i, end in zip(marks, marks[1:]):
        detail = lines[i + 1:end]
        message = next((d[2:].strip()[:160] for d in detail[:1] if d.startswith(": ")), "")
        cause = next((d.strip()[:200] for d in detail if d.startswith("Caused by:")), "")
        said.append(" ".join(part for part in (lines[i].strip(), message, cause) if part))
    if len(said) > 2:
        said = said[:2] + [f"... and {len(said) - 2} more"]
    return said


def short(error: str, log: Path | None) -> str:
    """An error as the report prints it: a Java stack trace in a Py4J message is cut, the log has it all."""
    lines = error.splitlines()
    if len(lines) <= 15:
        return error
    return "\n".join(lines[:15]) + f"\n    ... ({len(lines) - 15} more lines" + (f" in {log})" if log else ")")


def print_run(rnd: int, label: str, r: dict, sc: Scenario, log: Path | None = None) -> None:
    """One worker's line per call: cold, then warm (or the failure of either)."""
    if "error" in r:
        print(f"  round {rnd} {label:>10}: ERROR {short(r['error'], log)}")
        return
    for name, prefix in (("cold", ""), ("warm", "warm_")):
        if prefix and "warm_error" not in r and "warm_wall_s" not in r:
            continue  # a cold-only scenario
        head = f"  round {rnd} {label:>10} {name}"
        if prefix and "warm_error" in r:
            print(f"{head}: ERROR {short(r['warm_error'], log)}")
            continue
        c = {key[len(prefix):]: value for key, value in r.items() if key.startswith(prefix)} if prefix else r
        extra = ""
        if c.get("processed_s") is not None:
            counts = " ".join(f"{k.split('_')[0]}={v}" for k, v in c.get("import_counts", {}).items())
            extra = f" (import {c.get('import_status')} after {fmt(c['processed_s'])} s: {counts})"
        rss = "over both calls" if prefix else f"before call {fmt(r['rss_before_mib'], 0)}"
        print(f"{head}: {fmt(c['wall_s'])} s (in PySpark calls {fmt(c.get('spark_s'))} s){extra}, "
              f"rows {c['rows']:,}, Python peak {fmt(c['peak_rss_mib'], 0)} MiB ({rss}), "
              f"JVM peak {fmt(c.get('jvm_peak_rss_mib'), 0)} MiB, "
              f"statuses {summarise(c['statuses'])}{check(r, sc, prefix)}")
    for line in r.get("sdk_said", []):
        print(f"      {label} printed: {line}")


def summarise(statuses: list[str]) -> str:
    counts: dict[str, int] = {}
    for s in statuses:
        counts[s] = counts.get(s, 0) + 1
    return ", ".join(f"{n}x {s}" if n > 1 else s for s, n in counts.items())


def check(r: dict, sc: Scenario, prefix: str = "") -> str:
    """What is wrong with the call whose keys start with `prefix` ("" cold, "warm_" warm), as a suffix."""
    problems = []
    expected = sc.rows * sc.tables
    if r[prefix + "rows"] != expected:
        problems.append(f"expected {expected:,} rows")
    if any(s != "success" for s in r[prefix + "statuses"]):
        problems.append("a table did not succeed")
    if prefix + "import_status" in r and r[prefix + "import_status"] != "completed":
        problems.append(f"import {r[prefix + 'import_status']}")
    if sc.kind == "upload" and prefix + "import_status" not in r:
        problems.append("no import found")
    if r.get(prefix + "verified_rows") is not None and r[prefix + "verified_rows"] != expected:
        problems.append(f"target holds {r[prefix + 'verified_rows']:,} rows")
    if r.get(prefix + "missing_tables"):
        problems.append(f"{len(r[prefix + 'missing_tables'])} table(s) reported success but missing, e.g. "
                        f"{r[prefix + 'missing_tables'][0]}")
    return f"  !! {'; '.join(problems)}" if problems else ""


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def report(todo: list[Scenario], sides: list[tuple[str, str]], rounds: int, lane: str) -> None:
    (a_label, _), (b_label, _) = sides
    print(f"\nLane {lane} ({LANES[lane]}). Medians of {rounds} alternating run(s) per side; cold = the first "
          "SparkSync call of a fresh worker, warm = the same call again in that process (same SparkSession and "
          "client); wall = the call alone. Targets are judged on cold, as a notebook's first sync.\n")
    print(f"| scenario | {a_label} cold s | {b_label} cold s | speed-up cold | {a_label} warm s | "
          f"{b_label} warm s | speed-up warm | target |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for sc in todo:
        a, b = sc.results.get(a_label, []), sc.results.get(b_label, [])
        ta, tb = median_of(a, "wall_s", sc), median_of(b, "wall_s", sc)
        wa, wb = median_of(a, "warm_wall_s", sc), median_of(b, "warm_wall_s", sc)
        speed, warm_speed = ratio(ta, tb), ratio(wa, wb)
        rss = ratio(median_of(b, "peak_rss_mib", sc), median_of(a, "peak_rss_mib", sc))
        target = f"≥ {sc.speed_target:g}× " + ("met" if speed and speed >= sc.speed_target else "NOT met")
        target += " (warm " + ("met" if warm_speed and warm_speed >= sc.speed_target else "NOT met") + ")"
        if sc.rss_target is not None:
            target += f"; RSS ≤ {sc.rss_target:g} " + ("met" if rss and rss <= sc.rss_target else "NOT met")
        print(f"| ({sc.key}) {sc.title} | {cell(a, ta)} | {cell(b, tb)} | {fmt(speed, 1)}× | {cell(a, wa)} | "
              f"{cell(b, wb)} | {fmt(warm_speed, 1)}× | {target} |")

    print("\nPeak RSS = the worker's Python process (ru_maxrss) after the cold call, JVM = its Spark driver child "
          "(VmHWM); in PySpark calls = part of the wall time spent in "
          "createDataFrame/saveAsTable/writeTo(...).create/toPandas/toArrow/sql.\n")
    print(f"| scenario | {a_label} Python peak MiB | {b_label} Python peak MiB | RSS {b_label}/{a_label} | "
          f"JVM peak MiB ({a_label} / {b_label}) | in PySpark calls s, cold ({a_label} / {b_label}) | "
          f"in PySpark calls s, warm ({a_label} / {b_label}) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for sc in todo:
        a, b = sc.results.get(a_label, []), sc.results.get(b_label, [])
        ra, rb = median_of(a, "peak_rss_mib", sc), median_of(b, "peak_rss_mib", sc)
        ja, jb = median_of(a, "jvm_peak_rss_mib", sc), median_of(b, "jvm_peak_rss_mib", sc)
        sa, sb = median_of(a, "spark_s", sc), median_of(b, "spark_s", sc)
        wa, wb = median_of(a, "warm_spark_s", sc), median_of(b, "warm_spark_s", sc)
        print(f"| ({sc.key}) {sc.title} | {cell(a, ra, 0)} | {cell(b, rb, 0)} | {fmt(ratio(rb, ra))} | "
              f"{cell(a, ja, 0)} / {cell(b, jb, 0)} | {cell(a, sa, 1)} / {cell(b, sb, 1)} | "
              f"{cell(a, wa, 1)} / {cell(b, wb, 1)} |")

    for sc in todo:
        s = sc.results.get(staged_label(sides), [])
        if not s:
            continue
        b = sc.results.get(b_label, [])
        print(f"\n({sc.key}) direct transfers ({b_label}: createDataFrame / toArrow) against staged Parquet "
              f"({staged_label(sides)}: staging_location a temporary directory):")
        for name, key in (("call, cold", "wall_s"), ("call, warm", "warm_wall_s"),
                          ("in PySpark calls, cold", "spark_s"), ("in PySpark calls, warm", "warm_spark_s"),
                          ("Python peak RSS MiB", "peak_rss_mib")):
            direct, staged = median_of(b, key, sc), median_of(s, key, sc)
            print(f"  {name}: direct {cell(b, direct)}, staged {cell(s, staged)} "
                  f"({fmt(ratio(staged, direct), 2)}× of direct)")

    for sc in (sc for sc in todo if sc.kind == "upload"):
        a, b = sc.results.get(a_label, []), sc.results.get(b_label, [])
        pa, pb = median_of(a, "processed_s", sc), median_of(b, "processed_s", sc)
        qa, qb = median_of(a, "warm_processed_s", sc), median_of(b, "warm_processed_s", sc)
        print(f"\n({sc.key}) until the emulator finished processing the import (call + server work): "
              f"cold {a_label} {cell(a, pa)} s, {b_label} {cell(b, pb)} s ({fmt(ratio(pa, pb), 1)}×); "
              f"warm {a_label} {cell(a, qa)} s, {b_label} {cell(b, qb)} s ({fmt(ratio(qa, qb), 1)}×)")
        c = sc.results.get(no_plan_label(sides), [])
        if c:
            print(f"({sc.key}) the mass-delete guard's cost: {b_label} plans every upload first (an export of the "
                  f"table's current records, read while the source is read); {no_plan_label(sides)} is the same "
                  "call with allow_mass_delete=True, which makes no plan:")
            for name, key in (("call, cold", "wall_s"), ("call, warm", "warm_wall_s"),
                              ("until applied, cold", "processed_s"), ("until applied, warm", "warm_processed_s")):
                with_plan, without = median_of(b, key, sc), median_of(c, key, sc)
                over = f"+{fmt((with_plan / without - 1) * 100, 0)}%" if with_plan and without else "n/a"
                print(f"  {name}: with the guard {cell(b, with_plan)} s, without {cell(c, without)} s ({over}); "
                      f"incumbent {cell(a, median_of(a, key, sc))} s")
    failed = problems(todo)
    if failed:
        print("\nCalls that failed or did not check out (left out of the medians; `failed` above: no call counted):")
        for line in failed:
            print("  " + line)


def problems(todo: list[Scenario]) -> list[str]:
    """One line per call that raised or whose result did not check out, cold and warm."""
    found = []
    for sc in todo:
        for label, rs in sc.results.items():
            for rnd, r in enumerate(rs, 1):
                where = f"({sc.key}) round {rnd} {label}"
                if "error" in r:
                    found.append(f"{where}: ERROR {r['error'].splitlines()[0]}")
                    continue
                for name, prefix in (("cold", ""), ("warm", "warm_")):
                    if prefix and "warm_error" not in r and "warm_wall_s" not in r:
                        continue  # a cold-only scenario
                    if prefix and "warm_error" in r:
                        found.append(f"{where} warm: ERROR {r['warm_error'].splitlines()[0]}")
                    elif check(r, sc, prefix):
                        found.append(f"{where} {name}: {check(r, sc, prefix).removeprefix('  !! ')}")
                if r.get("sdk_said"):
                    found.append(f"{where} printed: {r['sdk_said'][0]}")
    return found

if __name__ == "__main__":
    sys.exit(main())
