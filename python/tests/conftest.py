"""Fixtures: one TitanRDM emulator (the `trdm` binary, Clinics fixture) per test session."""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "fixtures" / "clinics.toml"
CLIENT_ID = "demo-client"
CLIENT_SECRET = "demo-secret"


def _trdm_binary() -> Path:
    """The `trdm` binary: $TRDM_BIN, else target/debug/trdm, built with cargo if missing."""
    if env := os.environ.get("TRDM_BIN"):
        return Path(env)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    binary = target / "debug" / "trdm"
    if not binary.exists():
        subprocess.run(["cargo", "build", "-p", "trdm-cli"], cwd=ROOT, check=True)
    return binary


@contextlib.contextmanager
def running_emulator(*extra_args: str) -> Iterator[str]:
    """Runs `trdm emulator` with the Clinics fixture on a free port (fresh database) and yields its URL;
    stops it (by its own pid) afterwards."""
    process = subprocess.Popen(
        [str(_trdm_binary()), "emulator", "--fixture", str(FIXTURE), "--listen", "127.0.0.1:0", *extra_args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        url = None
        while url is None:
            try:
                line = lines.get(timeout=60)
            except queue.Empty:
                pytest.fail("the emulator did not announce its URL within 60 s")
            if line.startswith("listening on "):
                url = line.removeprefix("listening on ").strip()
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def emulator_url() -> Iterator[str]:
    """One emulator shared by the tests that only read, or that write in ways other tests don't see."""
    with running_emulator() as url:
        yield url


@pytest.fixture(scope="session")
def client(emulator_url: str):  # noqa: ANN201
    from titan_rdm_sdk import TitanRDMClient

    return TitanRDMClient(emulator_url, CLIENT_ID, CLIENT_SECRET)


@contextlib.contextmanager
def staged_or_direct(way: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """SparkSync's keyword for one way tables cross to Spark: `staged`, as Parquet files in a directory of
    the test's own, which must be empty again afterwards (also after a failure), or `direct`."""
    if way == "direct":
        yield {"staging_location": False}
        return
    staging = tmp_path_factory.mktemp("staging")
    yield {"staging_location": str(staging)}
    left = sorted(p.name for p in staging.iterdir())
    assert left == [], f"staged files left behind: {left}"


@pytest.fixture(params=["staged", "direct"])
def transfer(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """Runs a test once per way tables cross to Spark (see :func:`staged_or_direct`)."""
    with staged_or_direct(request.param, tmp_path_factory) as options:
        yield options


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """A local PySpark session (classic, `local[2]`, in-memory catalog `spark_catalog`, parquet tables).

    Skipped when pyspark is not installed, unless TRDM_REQUIRE_SPARK=1 (the project's test script sets
    it), where a missing pyspark or Java is a failure."""
    if os.environ.get("TRDM_REQUIRE_SPARK") == "1":
        import pyspark  # noqa: F401
    else:
        pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("trdm-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def spark_connect(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """A Spark Connect session: PySpark's own Connect server (local[2], loopback only, started from the
    pyspark package's spark-submit) and a `SparkSession.builder.remote(...)` client."""
    if os.environ.get("TRDM_REQUIRE_SPARK") == "1":
        import pyspark
        import pyspark.sql.connect.session  # noqa: F401  (the `connect` extra: grpcio, ...)
    else:
        pyspark = pytest.importorskip("pyspark")
        pytest.importorskip("pyspark.sql.connect.session")
    from pyspark.sql import SparkSession

    home = Path(pyspark.__file__).parent
    port = _free_port()
    warehouse = tmp_path_factory.mktemp("connect-warehouse")
    log = (tmp_path_factory.mktemp("connect-log") / "server.log").open("wb")
    server = subprocess.Popen(
        [
            str(home / "bin" / "spark-submit"),
            "--class",
            "org.apache.spark.sql.connect.service.SparkConnectServer",
            "--master",
            "local[2]",
            "--conf",
            "spark.connect.grpc.binding.address=127.0.0.1",
            "--conf",
            f"spark.connect.grpc.binding.port={port}",
            "--conf",
            "spark.ui.enabled=false",
            "--conf",
            "spark.driver.host=127.0.0.1",
            "--conf",
            "spark.driver.bindAddress=127.0.0.1",
            "--conf",
            f"spark.sql.warehouse.dir={warehouse}",
            "--conf",
            "spark.sql.session.timeZone=UTC",
            "spark-internal",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "SPARK_HOME": str(home)},
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the Spark Connect server did not start; see {log.name}")
                time.sleep(0.3)
        session = SparkSession.builder.remote(f"sc://127.0.0.1:{port}").getOrCreate()
        yield session
        session.stop()
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def by_table(results: list[dict]) -> dict[str, dict]:
    """Sync results by their `table` (`sites`, ...)."""
    return {r["table"]: r for r in results}


def history_rows(client, branch_id: int) -> dict[str, int]:  # noqa: ANN001 - a TitanRDMClient
    """Every version TitanRDM holds, per table: what an upload that changes nothing must leave alone."""
    from titan_rdm_sdk.spark_sync import ConventionSync

    results, frames = ConventionSync(client).download_by_convention(
        branch_id, "Clinics", include_history=True, output="arrow", poll_interval=0.05, max_wait=120
    )
    assert all(r["status"] == "success" for r in results), results
    return {key: t.num_rows for key, t in frames.items()}


def conformance_params(known: dict[str, tuple[str, ...]]) -> list:
    """Every check of trdm-sync's catalog conformance suite as a test parameter; those in ``known`` (check ->
    (reason, *texts of the failure)) are ``xfail(strict=True)``: a known failure must keep failing."""
    from titan_rdm_sdk._internal import CATALOG_CONFORMANCE_CHECKS

    return [
        pytest.param(c, marks=pytest.mark.xfail(strict=True, raises=AssertionError, reason=known[c][0]))
        if c in known
        else c
        for c in CATALOG_CONFORMANCE_CHECKS
    ]


def run_conformance(catalog: Any, prefix: str, check: str, known: dict[str, tuple[str, ...]]) -> None:
    """Runs one conformance check against ``catalog``; a known check that fails otherwise than known is a plain
    test failure, not the expected one."""
    from titan_rdm_sdk._internal import _catalog_conformance

    try:
        _catalog_conformance(catalog, prefix, [check])
    except AssertionError as failure:
        if check in known and not all(text in str(failure) for text in known[check][1:]):
            pytest.fail(f"{check} failed, but not as known ({known[check][0]}): {failure}")
        raise
