"""How a Spark lane's session is set up, shared by the lane tests (python/lanes/tests) and the Spark benchmark
(bench/python): a real Unity Catalog OSS server on free ports, and the session configuration of each lane.

Standard library only, so any venv can load it by path. Lanes (see python/scripts/lanes.sh):
`delta-uc` (PySpark 4.2, Delta 4.4, Unity Catalog catalog `dev`, classic), `connect-uc` (the same over Spark
Connect), `delta3` (PySpark 3.5, Delta 3.3 in `spark_catalog`, Delta the default format).
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

UNITY_LANES = ("delta-uc", "connect-uc")
CONNECT_LANES = ("connect-uc",)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
        return json.load(response)


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(  # noqa: S310 - loopback only
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.load(response)


def free_port_pair() -> int:
    """A port `p` with `p + 1` free too, at the time of asking (the Unity Catalog server listens on both)."""
    while True:
        port = free_port()
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port


@contextlib.contextmanager
def unity_catalog(server_jars: str, home: Path, catalogs: tuple[str, ...] = ("dev",)) -> Iterator[str]:
    """A Unity Catalog OSS server (`java -cp`, main class io.unitycatalog.server.UnityCatalogServer) started
    in `home` (it reads and writes etc/conf/ there): in-memory database (`server.env=test`), managed tables
    under `home/storage`, the given catalogs created over REST (Spark cannot create catalogs). Yields its URL
    and stops it afterwards. Its two ports are free when chosen, but another process may take one before the
    server binds it: then it exits saying so, and it is started again on other ports (three tries). A server
    that does not answer within three minutes is an error naming its log."""
    storage = home / "storage"
    storage.mkdir(parents=True, exist_ok=True)
    log_path = home / "server.log"
    for attempt in range(1, 4):
        port = free_port_pair()
        with log_path.open("wb") as log:
            server = subprocess.Popen(
                [
                    "java",
                    "-Dserver.env=test",
                    f"-Dstorage-root.tables={storage.as_uri()}",
                    "-cp",
                    f"{server_jars}/*",
                    "io.unitycatalog.server.UnityCatalogServer",
                    "-p",
                    str(port),
                ],
                cwd=home,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        api = f"{url}/api/2.1/unity-catalog"
        try:
            deadline = time.monotonic() + 180
            while True:
                try:
                    _get(f"{api}/catalogs")
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        break
                    time.sleep(0.5)
            if server.poll() is not None:
                if attempt < 3 and "Address already in use" in log_path.read_text(errors="replace"):
                    continue
                raise RuntimeError(f"the Unity Catalog server did not start; see {log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Unity Catalog server did not answer in 180 s; see {log_path}")
            for name in catalogs:
                _post(f"{api}/catalogs", {"name": name, "comment": "trdm test lane"})
            yield url
            return
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    raise AssertionError("unreachable: the third try returns or raises")


def spark_conf(
    lane: str, jars: str, warehouse: Path, uc_url: str | None, time_zone: str = "UTC"
) -> dict[str, str]:
    """The session configuration of `lane`: Delta in `spark_catalog`, and on the Unity Catalog lanes the
    catalog `dev` (`UCSingleCatalog` at `uc_url`); elsewhere Delta is the default format, as on Databricks."""
    conf = {
        "spark.jars": jars,
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.sql.warehouse.dir": str(warehouse),
        "spark.sql.shuffle.partitions": "2",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.session.timeZone": time_zone,
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        # Small tables: Delta's per-commit extras only cost time here.
        "spark.databricks.delta.snapshotPartitions": "2",
    }
    if lane in UNITY_LANES:
        if uc_url is None:
            raise ValueError(f"lane {lane} needs a Unity Catalog server")
        conf["spark.sql.catalog.dev"] = "io.unitycatalog.spark.UCSingleCatalog"
        conf["spark.sql.catalog.dev.uri"] = uc_url
        conf["spark.sql.catalog.dev.token"] = ""
    else:
        conf["spark.sql.sources.default"] = "delta"
    return conf
