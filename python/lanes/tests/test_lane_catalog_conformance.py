"""trdm-sync's catalog conformance suite against the ``SparkCatalog`` that ``SparkSync`` drives, on each lane:
managed Delta tables in Unity Catalog's ``dev`` (classic and Spark Connect), Delta in Spark 3.5's
``spark_catalog``; staged and direct. Here the catalog merges natively (``MERGE INTO``), which the parquet run
of python/tests/test_catalog_conformance.py never reaches: there the engine merges by rewriting.

Each test writes into a schema of its own; the lane's warehouse and Unity Catalog server are temporary.
"""

from __future__ import annotations

import uuid

import pytest
from lane_support import CAT, UNITY, conformance_params, run_conformance

from titan_rdm_sdk._spark_catalog import SparkCatalog

# Unity Catalog OSS looks tables up by their exact name; Spark's session catalog folds case.
KNOWN: dict[str, tuple[str, ...]] = (
    {}
    if UNITY
    else {
        "names_are_exact": (
            "Spark's session catalog resolves names case-insensitively: `CASE_SENSITIVE` is `case_sensitive`",
            ".CASE_SENSITIVE found after writing spark_catalog.",
        )
    }
)


# Spark 3 refuses dates before 1582-10-15 in Parquet by default; the catalog lifts that while it moves data.
CALENDAR = ("spark.sql.parquet.datetimeRebaseModeInWrite", "spark.sql.parquet.datetimeRebaseModeInRead")


@pytest.mark.parametrize("check", conformance_params(KNOWN))
def test_the_spark_catalog_conforms(spark, transfer, check):
    prefix = f"{CAT}.conformance_{uuid.uuid4().hex[:12]}"
    calendar = {key: spark.conf.get(key) for key in CALENDAR}
    try:
        run_conformance(SparkCatalog(spark, transfer["staging_location"]), prefix, check, KNOWN)
    finally:
        # ... and leaves the session's own settings as they were, passed or failed.
        assert {key: spark.conf.get(key) for key in CALENDAR} == calendar
