"""Fixtures of the Spark lanes (python/scripts/lanes.sh): one Spark session per lane process, configured as
the lane says, and for the Unity Catalog lanes a real Unity Catalog OSS server.

`TRDM_LANE` names the lane: `delta-uc` (PySpark 4.2, Delta 4.4, Unity Catalog catalog `dev`, classic),
`connect-uc` (the same over Spark Connect), `delta3` (PySpark 3.5, Delta 3.3 in `spark_catalog`, Delta the
default format, session time zone America/New_York). `TRDM_LANE_JARS` is the comma-separated jar list for
`spark.jars`, `TRDM_UC_SERVER_JARS` the directory of the server's classpath. Without `TRDM_LANE` (the plain
`pytest python/tests` of dev.sh) nothing here is collected.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from lane_support import CAT, CONNECT, LANE, SESSION_TIME_ZONE, UNITY, lane_session, staged_or_direct

if not LANE:
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session")
def unity_catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Unity Catalog OSS server with the catalog `dev` (see python/lanes/lane_session.py)."""
    jars = os.environ.get("TRDM_UC_SERVER_JARS")
    if not jars:
        pytest.fail("TRDM_UC_SERVER_JARS is not set: run this lane with python/scripts/lanes.sh")
    with lane_session.unity_catalog(jars, tmp_path_factory.mktemp("unity-catalog")) as url:
        yield url


@pytest.fixture(scope="session")
def spark(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """The lane's one Spark session (classic or Spark Connect, as `TRDM_LANE` says)."""
    from pyspark.sql import SparkSession

    uc_url = request.getfixturevalue("unity_catalog") if UNITY else None
    conf = lane_session.spark_conf(
        LANE,
        os.environ["TRDM_LANE_JARS"],
        tmp_path_factory.mktemp("spark-warehouse"),
        uc_url,
        SESSION_TIME_ZONE,
    )
    builder = SparkSession.builder.appName(f"trdm-lane-{LANE}")
    builder = builder.remote("local[2]") if CONNECT else builder.master("local[2]")
    for key, value in conf.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    if not CONNECT:
        session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(params=["staged", "direct"])
def transfer(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """Runs a test once per way tables cross to Spark: staged as Parquet files (in a directory of its own,
    on Spark Connect too: the lane's server runs on this machine) or direct."""
    with staged_or_direct(request.param, tmp_path_factory) as options:
        yield options


@pytest.fixture(scope="session")
def cat() -> str:
    return CAT
