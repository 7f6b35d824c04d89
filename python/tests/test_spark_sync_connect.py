"""SparkSync over Spark Connect (`SparkSession.builder.remote`), the way Databricks serverless and Spark 4
clients connect: the same engine, the same catalog adapter, no JVM in the Python process."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pytest
from conftest import CLIENT_ID, CLIENT_SECRET, running_emulator

from titan_rdm_sdk import TitanRDMClient
from titan_rdm_sdk.spark_sync import ConventionSync, SparkSync

pytestmark = pytest.mark.spark_connect

CAT = "spark_catalog"
FAST = {"poll_interval": 0.05, "max_wait": 60}


@pytest.fixture
def client() -> Iterator[TitanRDMClient]:
    with running_emulator() as url:
        yield TitanRDMClient(url=url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)


def test_download_merge_and_round_trip_over_spark_connect(spark_connect, client):
    from pyspark.sql import types as T

    spark = spark_connect
    assert type(spark).__module__.startswith("pyspark.sql.connect")
    sync = SparkSync(client=client, spark=spark)
    assert sync._catalog._staging is None  # the server may be elsewhere: direct unless told where to stage
    branch = client.get_branch_by_name("dev")

    down = {
        r["table"]: r for r in sync.download_sync_by_convention(branch.id, CAT, "rdmin", "Clinics", **FAST)
    }
    assert all(r["status"] == "success" for r in down.values()), down
    sites = spark.table(f"{CAT}.rdmin.clin_sites")
    assert sites.count() == down["sites"]["rows"] == 150
    types = {f.name: f.dataType for f in sites.schema.fields}
    assert types["site_code"] == T.StringType() and types["bed_count"] == T.IntegerType()
    assert sites.filter("site_code = '0001'").count() == 1

    # TitanRDM renames a site; the incremental download merges it in and keeps every other row.
    site = sites.filter("site_code = '0047'").toArrow()
    site = site.set_column(
        site.schema.get_field_index("site_name"), "site_name", pa.array(["Renamed over Connect"])
    )
    changed = ConventionSync(client).upload_by_convention(
        branch.id,
        "Clinics",
        {"clin_sites": site},
        table_names=["Site"],
        pattern="incremental_upsert_only",
        **FAST,
    )
    assert changed[0]["updated"] == 1, changed
    inc = sync.download_sync_by_convention(branch.id, CAT, "rdmin", "Clinics", pattern="incremental", **FAST)
    assert all(r["status"] == "success" for r in inc), inc
    sites = spark.table(f"{CAT}.rdmin.clin_sites")
    assert sites.count() == 150
    assert sites.filter("site_code = '0047'").collect()[0]["site_name"] == "Renamed over Connect"

    # Uploading the downloaded tables as they are creates no versions.
    up = sync.upload_sync_by_convention(branch.id, CAT, "rdmin", "Clinics", upload_unchanged=True, **FAST)
    assert all(r["status"] == "success" for r in up), up
    assert all((r["inserted"], r["updated"], r["deleted"]) == (0, 0, 0) for r in up), up
