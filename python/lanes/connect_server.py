"""A standalone Spark Connect server with Delta Lake and a real Unity Catalog OSS server (catalog `dev`), on
loopback ports, around one command: the partner of the Rust Spark Connect catalog's tests (the
`connect-rust` lane of python/scripts/lanes.sh) and of the sync benchmark's Spark leg.

    python connect_server.py --jars JAR,JAR,... --uc-server-jars DIR --home DIR -- COMMAND [ARG...]

Starts Unity Catalog (python/lanes/lane_session.py), then PySpark's own Connect server
(`spark-submit --class org.apache.spark.sql.connect.service.SparkConnectServer`, local[2]) with the session
configuration of the `connect-uc` lane, waits until it answers, runs COMMAND with
`TRDM_SPARK_CONNECT_URL=sc://127.0.0.1:PORT` in its environment, stops both servers and exits with
COMMAND's status. Run it with the Python of a venv that has PySpark 4.2 (`pyspark[connect]`). Standard
library only (and pyspark's location), like lane_session.py.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lane_session  # noqa: E402 - a sibling module, found through the path above

# A Connect server that does not answer within this many seconds is an error (a cold JVM on two busy cores
# takes about half a minute).
START_TIMEOUT = 300


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


@contextlib.contextmanager
def connect_server(jars: str, uc_url: str, home: Path) -> Iterator[str]:
    """PySpark's Spark Connect server on a free loopback port, Delta and Unity Catalog `dev` configured as in
    the `connect-uc` lane. Yields its `sc://` URL; stopped afterwards. Its log is `home/connect-server.log`."""
    import pyspark

    spark_home = Path(pyspark.__file__).resolve().parent
    port = lane_session.free_port()
    conf = lane_session.spark_conf("connect-uc", jars, home / "spark-warehouse", uc_url)
    conf["spark.connect.grpc.binding.port"] = str(port)
    conf["spark.connect.grpc.binding.address"] = "127.0.0.1"
    # The catalog sends a table as one local relation; past 16 MiB it arrives as a cached artifact.
    conf["spark.connect.grpc.maxInboundMessageSize"] = str(256 * 1024 * 1024)
    command = [
        str(spark_home / "bin" / "spark-submit"),
        "--class",
        "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--name",
        "trdm-connect-lane",
        "--master",
        "local[2]",
        "--driver-memory",
        os.environ.get("TRDM_CONNECT_DRIVER_MEMORY", "3g"),
    ]
    for key, value in conf.items():
        command += ["--conf", f"{key}={value}"]
    log_path = home / "connect-server.log"
    environment = {**os.environ, "SPARK_HOME": str(spark_home)}
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, cwd=home, stdout=log, stderr=subprocess.STDOUT, env=environment)
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while not _answers(port):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the Spark Connect server did not start; see {log_path}")
                time.sleep(0.5)
            yield f"sc://127.0.0.1:{port}"
        finally:
            server.terminate()
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jars", required=True, help="comma-separated jars: Delta Lake and the UC connector")
    parser.add_argument(
        "--uc-server-jars", required=True, help="directory of the Unity Catalog server's jars"
    )
    parser.add_argument(
        "--home", required=True, type=Path, help="a directory for the servers' files and logs"
    )
    parser.add_argument("command", nargs="+", help="what to run against the servers (after --)")
    args = parser.parse_args()
    home: Path = args.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with (
        lane_session.unity_catalog(args.uc_server_jars, home / "unity-catalog") as uc_url,
        connect_server(args.jars, uc_url, home) as url,
    ):
        print(
            f"== Spark Connect server at {url} (Unity Catalog at {uc_url}), up after "
            f"{time.monotonic() - started:.0f} s",
            file=sys.stderr,
            flush=True,
        )
        status = subprocess.call(args.command, env={**os.environ, "TRDM_SPARK_CONNECT_URL": url})
    return status


if __name__ == "__main__":
    sys.exit(main())
