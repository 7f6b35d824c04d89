"""One measurement of the SparkSync benchmark, run inside one side's venv by ``spark_bench.py``.

Starts a local SparkSession with the settings both sides share, then makes ONE documented SparkSync call
(``from titan_rdm_sdk import TitanRDMClient; from titan_rdm_sdk.spark_sync import SparkSync``), timing the
call alone, and prints one line ``BENCH_RESULT {json}``:

  wall_s            seconds spent in download_sync_by_convention / upload_sync_by_convention
  spark_s           of which inside PySpark data-moving calls (see SparkTimer)
  peak_rss_mib      peak RSS of this Python process (getrusage ru_maxrss), sampled right after the call
  rss_before_mib    its RSS just before the call (after Spark started and the source table was registered)
  jvm_peak_rss_mib  peak RSS (VmHWM) of the Spark driver JVM, a child process, read from /proc
  rows, statuses    summed ``rows`` and each table's ``status`` from the call's result list
  verified_rows     downloads: rows in the written Spark tables (counted after timing)
  processed_s       uploads: seconds from the call's start until the emulator finished the import (polled
                    after the call returned; the call itself may or may not wait for it)

Scenarios: ``download``, ``upload`` (source: Parquet registered as {catalog}.rdmout.{abbr}_{table}), and
``prepare`` (writes that Parquet once from the generated CSV). ``--versions`` prints package versions.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
import traceback
import urllib.parse
import urllib.request


def rss_mib(field: str, pid: int | str = "self") -> float | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def descendants(root: int) -> list[int]:
    """Every live descendant of `root`, from /proc (no psutil)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def jvm_peak_mib() -> float | None:
    peaks = [rss_mib("VmHWM", pid) for pid in descendants(os.getpid())]
    peaks = [p for p in peaks if p]
    return max(peaks) if peaks else None


def spark_session(warehouse: str):
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[2]")
        .appName("trdm-spark-bench")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.warehouse.dir", warehouse)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "2g")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )


class SparkTimer:
    """Wall time during which at least one of the PySpark calls that move data between Python and Spark
    (createDataFrame, saveAsTable, DataFrameWriterV2's create/createOrReplace/append, toPandas, toArrow, sql)
    was running, whichever SDK makes them and from
    whichever thread (the union of their intervals). The rest of the timed call is the SDK's own work: HTTP,
    waiting for the server, decoding, encoding."""

    def __init__(self, spark) -> None:
        import threading

        self.seconds = 0.0
        self._active = 0
        self._busy_since = 0.0
        self._lock = threading.Lock()
        probe = spark.range(1)
        writer_v2 = type(probe.writeTo("trdm_bench_probe"))  # nothing is written until create() and the like
        targets = [
            (type(spark), "createDataFrame"),
            (type(spark), "sql"),
            (type(probe.write), "saveAsTable"),
            (writer_v2, "create"),
            (writer_v2, "createOrReplace"),
            (writer_v2, "append"),
            (type(probe), "toPandas"),
            (type(probe), "toArrow"),
        ]
        for cls, name in targets:
            if hasattr(cls, name):
                setattr(cls, name, self._wrap(getattr(cls, name)))

    def _enter(self) -> None:
        with self._lock:
            if self._active == 0:
                self._busy_since = time.perf_counter()
            self._active += 1

    def _leave(self) -> None:
        with self._lock:
            self._active -= 1
            if self._active == 0:
                self.seconds += time.perf_counter() - self._busy_since

    def _wrap(self, fn):
        timer = self

        def timed(*args, **kwargs):
            timer._enter()
            try:
                return fn(*args, **kwargs)
            finally:
                timer._leave()

        return timed


def emulator_json(url: str, token: str, path: str) -> dict:
    request = urllib.request.Request(url + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def emulator_token(url: str, client_id: str, client_secret: str) -> str:
    body = urllib.parse.urlencode(
        {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
    ).encode()
    with urllib.request.urlopen(url + "/oauth/token", data=body, timeout=60) as response:
        return json.load(response)["access_token"]


def latest_import_id(url: str, token: str) -> int | None:
    listed = emulator_json(url, token, "/api/v1/imports?per_page=1000")
    items = listed.get("data", listed) if isinstance(listed, dict) else listed
    ids = [item["id"] for item in items or []]
    return max(ids) if ids else None


def prepare(args: argparse.Namespace) -> dict:
    """Writes the upload source: the generated CSV, typed as TitanRDM's column definitions say, as Parquet."""
    from pyspark.sql import functions as F

    with tempfile.TemporaryDirectory(prefix="spark-bench-") as tmp:
        spark = spark_session(os.path.join(tmp, "warehouse"))
        schema = (
            "code STRING, name STRING, notes STRING, postcode STRING, qty INT, population BIGINT, "
            "amount DECIMAL(14,2), latitude DECIMAL(9,6), active BOOLEAN, opened_on DATE, "
            "seen_at STRING, updated_at STRING"
        )
        df = spark.read.csv(args.csv, header=True, schema=schema, multiLine=False, escape='"')
        for column in ("seen_at", "updated_at"):
            df = df.withColumn(column, F.to_timestamp(F.col(column), "yyyy-MM-dd'T'HH:mm:ssX"))
        df.write.mode("overwrite").parquet(args.parquet)
        rows = spark.read.parquet(args.parquet).count()
        spark.stop()
    return {"rows": rows}


def measure(args: argparse.Namespace) -> dict:
    from titan_rdm_sdk import TitanRDMClient
    from titan_rdm_sdk.spark_sync import SparkSync

    with tempfile.TemporaryDirectory(prefix="spark-bench-") as tmp:
        spark = spark_session(os.path.join(tmp, "warehouse"))
        catalog = args.catalog
        client = TitanRDMClient(url=args.url, client_id=args.client_id, client_secret=args.client_secret)
        branch = client.get_branch_by_name(args.branch)
        domain = client.get_domain_by_name(args.domain)
        sync = SparkSync(client=client, spark=spark)

        if args.scenario == "download":
            schema = "rdmin"
            spark.sql(f"CREATE SCHEMA IF NOT EXISTS {catalog}.{schema}")
        else:
            schema = "rdmout"
            spark.sql(f"CREATE SCHEMA IF NOT EXISTS {catalog}.{schema}")
            for table in client.get_deployed_table_definitions(branch_id=branch.id, domain_id=domain.id):
                name = f"{catalog}.{schema}.{domain.abbreviation}_{table.database_table_name}"
                spark.sql(f"CREATE TABLE {name} USING parquet LOCATION '{args.source_parquet}'")
            token = emulator_token(args.url, args.client_id, args.client_secret)
            before_import = latest_import_id(args.url, token)

        timer = SparkTimer(spark)
        rss_before = rss_mib("VmRSS")
        started = time.perf_counter()
        if args.scenario == "download":
            results = sync.download_sync_by_convention(
                branch_id=branch.id,
                target_catalog=catalog,
                target_schema=schema,
                source_domain_name=args.domain,
            )
        else:
            results = sync.upload_sync_by_convention(
                branch_id=branch.id,
                source_catalog=catalog,
                source_schema=schema,
                target_domain_name=args.domain,
            )
        wall = time.perf_counter() - started
        spark_seconds = timer.seconds
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        jvm_peak = jvm_peak_mib()

        out = {
            "wall_s": wall,
            "spark_s": spark_seconds,
            "peak_rss_mib": peak,
            "rss_before_mib": rss_before,
            "jvm_peak_rss_mib": jvm_peak,
            "rows": sum(int(r.get("rows") or 0) for r in results),
            "statuses": [str(r.get("status")) for r in results],
        }
        if args.scenario == "download":
            out["verified_rows"] = sum(
                spark.table(f"{catalog}.{schema}.{domain.abbreviation}_{r['table']}").count()
                for r in results
                if str(r.get("status")) == "success"
            )
        else:
            # Wait (untimed) for the emulator to finish the import, so the next run finds it idle.
            import_id = latest_import_id(args.url, token)
            if import_id is not None and import_id != before_import:
                deadline = time.monotonic() + 1800
                while time.monotonic() < deadline:
                    state = emulator_json(args.url, token, f"/api/v1/imports/{import_id}")
                    status = state["import"]["status"]
                    if status not in ("created", "processing"):
                        break
                    time.sleep(0.05)
                out["processed_s"] = time.perf_counter() - started
                out["import_status"] = status
                out["import_counts"] = {
                    k: state["import"].get(k)
                    for k in ("insert_row_count", "update_row_count", "delete_row_count", "error_row_count")
                    if k in state["import"]
                }
        spark.stop()
    return out


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--versions", action="store_true")
    p.add_argument("--scenario", choices=["download", "upload", "prepare"])
    p.add_argument("--url")
    p.add_argument("--client-id")
    p.add_argument("--client-secret")
    p.add_argument("--branch", default="prod")
    p.add_argument("--domain")
    p.add_argument("--catalog", default="spark_catalog")
    p.add_argument("--source-parquet")
    p.add_argument("--expect-rows", type=int)
    p.add_argument("--csv")
    p.add_argument("--parquet")
    args = p.parse_args()
    if args.versions:
        from importlib.metadata import PackageNotFoundError, version

        found = []
        for dist in ("titan-rdm-sdk", "trdm", "pyspark", "pyarrow", "pandas"):
            try:
                found.append(f"{dist} {version(dist)}")
            except PackageNotFoundError:
                pass
        print(f"python {sys.version.split()[0]}; " + ", ".join(found))
        return 0
    if os.environ.get("BENCH_LOG"):
        # e.g. BENCH_LOG=DEBUG: the SDK's log lines, timestamped, in the run's log file (stderr).
        import logging

        logging.basicConfig(level=os.environ["BENCH_LOG"].upper(), format="%(asctime)s %(name)s %(message)s")
    try:
        result = prepare(args) if args.scenario == "prepare" else measure(args)
        code = 0
    except BaseException as e:  # noqa: BLE001 - the driver reports every failure verbatim
        traceback.print_exc()
        result = {"error": f"{type(e).__module__}.{type(e).__qualname__}: {e}"}
        code = 1
    print("BENCH_RESULT " + json.dumps(result), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
