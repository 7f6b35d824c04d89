"""SparkSync on Delta tables, against the emulator, on each Spark lane (see conftest.py).

On the Unity Catalog lanes the tables are the seed's own `dev.rdmin.*` / `dev.rdmout.*`: managed Delta
tables of a real Unity Catalog OSS server, which has no RENAME TABLE and replaces only managed Delta
tables. On `delta3` (Spark 3.5) they live in `spark_catalog`, Delta the default format, and the session time
zone is America/New_York, which is what the Spark < 4 read path has to survive.

Each test gets its own emulator (fresh database) and its own schemas. The tests named after incumbent bugs
each fail on titan-rdm-sdk 2.0.0's behaviour (protocol notes B §9).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from lane_support import (
    CAT,
    CLIENT_ID,
    CLIENT_SECRET,
    CONNECT,
    LANE,
    ROOT,
    SESSION_TIME_ZONE,
    UNITY,
    by_table,
    history_rows,
    running_emulator,
)

from titan_rdm_sdk import TitanRDMClient
from titan_rdm_sdk.spark_sync import ConventionSync, SparkSync

FAST = {"poll_interval": 0.05, "max_wait": 120}
TABLES = {"sites", "delivery_centre", "org_unit"}
NAMES = ("clin_sites", "clin_delivery_centre", "clin_org_unit")

full_lane = pytest.mark.skipif(LANE not in ("delta-uc",), reason="the full behaviour list runs on delta-uc")


@pytest.fixture
def client() -> Iterator[TitanRDMClient]:
    with running_emulator() as url:
        yield TitanRDMClient(url=url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)


def delta_history(spark, table: str) -> list[dict]:
    """DESCRIBE HISTORY, oldest first: version, operation and its parameters."""
    rows = spark.sql(f"DESCRIBE HISTORY {table}").collect()
    return sorted(
        (
            {
                "version": r["version"],
                "operation": r["operation"],
                "parameters": dict(r["operationParameters"] or {}),
            }
            for r in rows
        ),
        key=lambda h: h["version"],
    )


def properties(spark, table: str) -> dict[str, str]:
    return {r["key"]: r["value"] for r in spark.sql(f"SHOW TBLPROPERTIES {table}").collect()}


def provider(spark, table: str) -> str:
    rows = spark.sql(f"DESCRIBE TABLE EXTENDED {table}").collect()
    return next(str(r[1]).lower() for r in rows if str(r[0]).strip().lower() == "provider")


def way(transfer: dict) -> str:
    """`staged` or `direct`: which way the `transfer` fixture's options send tables."""
    return "direct" if transfer["staging_location"] is False else "staged"


def copy_schema(spark, source: str, target: str, **replace: str) -> None:
    """`{CAT}.{target}` as managed Delta copies of `{CAT}.{source}`'s tables; `replace` maps a column to a SQL
    expression (for edits)."""
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {CAT}.{target}")
    for t in NAMES:
        columns = spark.table(f"{CAT}.{source}.{t}").columns
        select = ", ".join(
            f"{replace[c]} AS `{c}`" if t == "clin_sites" and c in replace else f"`{c}`" for c in columns
        )
        spark.sql(
            f"CREATE OR REPLACE TABLE {CAT}.{target}.{t} USING delta AS SELECT {select} FROM {CAT}.{source}.{t}"
        )


def test_the_seed_complete_example_runs_with_the_seed_names(spark, client):
    """The documented code, unchanged: `dev.rdmin` / `dev.rdmout` (on delta3, spark_catalog)."""
    branch = client.get_branch_by_name("prod")
    sync = SparkSync(client=client, spark=spark)
    download_results = sync.download_sync_by_convention(
        branch_id=branch.id, target_catalog=CAT, target_schema="rdmin", source_domain_name="Clinics", **FAST
    )
    got = by_table(download_results)
    assert set(got) == TABLES
    assert all(r["status"] == "success" and not r["failed"] for r in download_results), download_results
    sites = f"{CAT}.rdmin.clin_sites"
    assert got["sites"]["rows"] == 150 == spark.table(sites).count()
    assert got["sites"]["target"] == sites

    # One commit carrying data, comments and the sync properties (once prefixed: `trdm.`, never `trdm.trdm.`).
    history = delta_history(spark, sites)
    assert [h["operation"] for h in history] in (
        ["CREATE OR REPLACE TABLE AS SELECT"],
        ["CREATE TABLE AS SELECT"],
    )
    committed = json.loads(history[0]["parameters"]["properties"])
    assert committed["trdm.high_water_mark"] == got["sites"]["high_water_mark"]
    assert committed["trdm.export_id"] == str(got["sites"]["export_id"])
    props = properties(spark, sites)
    ours = {k for k in props if k.startswith("trdm")}
    assert "trdm.high_water_mark" in ours and "trdm.arrow_schema.parts" in ours  # kilobytes, stored in parts
    assert not any(k.startswith("trdm.trdm.") for k in ours), ours
    from titan_rdm_sdk._spark_catalog import SparkCatalog

    stored = json.loads(SparkCatalog(spark).properties(CAT, "rdmin", "clin_sites")["trdm.arrow_schema"])
    assert [f["name"] for f in stored["fields"]][:1] == ["site_code"]
    assert provider(spark, sites) == "delta"
    comments = {c.name: c.description for c in spark.catalog.listColumns(sites)}
    assert "leading zeros" in (comments["site_code"] or "")

    # rdmout: the download with one site renamed, as managed Delta tables.
    copy_schema(
        spark,
        "rdmin",
        "rdmout",
        site_name="CASE WHEN site_code = '0047' THEN 'Katherine Day Hospital (renamed)' ELSE site_name END",
    )
    before = history_rows(client, branch.id)
    upload_results = sync.upload_sync_by_convention(
        branch_id=branch.id, source_catalog=CAT, source_schema="rdmout", target_domain_name="Clinics", **FAST
    )
    up = by_table(upload_results)
    assert up["sites"]["status"] == "success", upload_results
    assert (up["sites"]["inserted"], up["sites"]["updated"], up["sites"]["deleted"]) == (0, 1, 0)
    for t in ("delivery_centre", "org_unit"):  # planned against TitanRDM's records: nothing to send
        assert up[t]["status"] == "skipped (unchanged)" and up[t]["import_table_id"] is None, up[t]
        assert up[t]["plan"]["unchanged"] == up[t]["plan"]["current"] == up[t]["rows"], up[t]
    after = history_rows(client, branch.id)
    assert after["clin_sites"] == before["clin_sites"] + 1
    assert after["clin_org_unit"] == before["clin_org_unit"]

    # A second full download replaces each table with exactly one more commit (no rename, no drop).
    again = by_table(sync.download_sync_by_convention(branch.id, CAT, "rdmin", "Clinics", **FAST))
    assert all(r["status"] == "success" for r in again.values()), again
    history = delta_history(spark, sites)
    assert len(history) == 2 and history[1]["operation"] == "CREATE OR REPLACE TABLE AS SELECT", history
    assert (
        spark.table(sites).where("site_code = '0047'").collect()[0]["site_name"]
        == "Katherine Day Hospital (renamed)"
    )
    assert properties(spark, sites)["trdm.export_id"] == str(again["sites"]["export_id"])


def test_incremental_download_merges_tombstones_and_applies_twice(spark, client, transfer):
    """Incumbent bug: an incremental download overwrote the table with only the changed rows."""
    branch = client.get_branch_by_name("dev")
    sync = SparkSync(client, spark, **transfer)
    schema = f"rdmin_inc_{way(transfer)}"
    first = by_table(sync.download_sync_by_convention(branch.id, CAT, schema, "Clinics", **FAST))
    assert all(r["status"] == "success" for r in first.values()), first
    sites = f"{CAT}.{schema}.clin_sites"
    assert properties(spark, sites)["trdm.high_water_mark"] == first["sites"]["high_water_mark"]

    site = spark.table(sites).filter("site_code = '0047'").toArrow() if not _spark3(spark) else None
    convention = ConventionSync(client)
    if site is None:  # Spark 3.5 has no toArrow: the same row through the SDK's own download
        _, frames = convention.download_by_convention(
            branch.id, "Clinics", table_names=["Site"], output="arrow", **FAST
        )
        full = frames["clin_sites"]
        site = full.filter(pa.compute.equal(full.column("site_code"), "0047"))
    site = site.set_column(
        site.schema.get_field_index("site_name"), "site_name", pa.array(["Renamed Day Hospital"])
    )
    upsert = convention.upload_by_convention(
        branch.id,
        "Clinics",
        {"clin_sites": site},
        table_names=["Site"],
        pattern="incremental_upsert_only",
        **FAST,
    )
    assert upsert[0]["updated"] == 1, upsert
    deleted = convention.upload_by_convention(
        branch.id,
        "Clinics",
        {"clin_sites": pa.table({"site_code": ["0001"], "trdm_tran_code": ["d"]})},
        table_names=["Site"],
        pattern="incremental_with_delete",
        **FAST,
    )
    assert deleted[0]["deleted"] == 1, deleted

    marks = []
    for _ in range(2):  # the same increment applied twice changes nothing the second time
        again = by_table(
            sync.download_sync_by_convention(branch.id, CAT, schema, "Clinics", pattern="incremental", **FAST)
        )
        assert all(r["status"] == "success" for r in again.values()), again
        table = spark.table(sites)
        assert table.count() == first["sites"]["rows"] - 1
        assert table.filter("site_code = '0001'").count() == 0
        assert table.filter("site_code = '0047'").collect()[0]["site_name"] == "Renamed Day Hospital"
        assert table.select("site_code").distinct().count() == table.count()
        for t in ("delivery_centre", "org_unit"):  # no changes: still whole, not emptied
            assert spark.table(f"{CAT}.{schema}.clin_{t}").count() == first[t]["rows"]
        marks.append(properties(spark, sites)["trdm.high_water_mark"])
    assert marks[0] == marks[1] > first["sites"]["high_water_mark"]
    operations = [h["operation"] for h in delta_history(spark, sites)]
    assert operations[0] in ("CREATE OR REPLACE TABLE AS SELECT", "CREATE TABLE AS SELECT")
    assert "MERGE" in operations[1:] and not any("REPLACE" in o for o in operations[1:]), operations

    # The merged tables upload back unchanged: nothing new in TitanRDM.
    up = sync.upload_sync_by_convention(branch.id, CAT, schema, "Clinics", upload_unchanged=True, **FAST)
    assert all(r["status"] == "success" for r in up), up
    assert all((r["inserted"], r["updated"], r["deleted"]) == (0, 0, 0) for r in up), up


def test_a_download_uploaded_back_unchanged_creates_no_versions(spark, client, transfer):
    """Every value survives Delta and the read path exactly (on delta3: timestamps in a non-UTC session)."""
    branch = client.get_branch_by_name("dev")
    sync = SparkSync(client, spark, **transfer)
    down = sync.download_sync_by_convention(branch.id, CAT, "rdmin_rt", "Clinics", **FAST)
    assert all(r["status"] == "success" for r in down), down
    copy_schema(spark, "rdmin_rt", "rdmout_rt")
    before = history_rows(client, branch.id)
    up = sync.upload_sync_by_convention(branch.id, CAT, "rdmout_rt", "Clinics", upload_unchanged=True, **FAST)
    assert all(r["status"] == "success" for r in up), up
    assert all((r["inserted"], r["updated"], r["deleted"]) == (0, 0, 0) for r in up), up
    assert {r["table"]: r["rows"] for r in up} == {r["table"]: r["rows"] for r in down}
    assert history_rows(client, branch.id) == before


def _spark3(spark) -> bool:
    return str(spark.version).startswith("3.")


class _Delegating:
    def __init__(self, inner) -> None:
        self._inner = inner

    def __getattr__(self, name: str):
        return getattr(self._inner, name)


class FailingWrites(_Delegating):
    """A SparkSession whose written frames fail while Spark runs the write (as a full disk would): the
    first column of every frame made by createDataFrame, or read from staged Parquet files, raises."""

    def createDataFrame(self, *args, **kwargs):  # noqa: N802 - Spark's name
        return _failing(self._inner.createDataFrame(*args, **kwargs))

    @property
    def read(self):
        return _FailingReader(self._inner.read)


class _FailingReader(_Delegating):
    def schema(self, schema):
        return _FailingReader(self._inner.schema(schema))

    def parquet(self, *paths: str):
        return _failing(self._inner.parquet(*paths))


def _failing(frame):
    """`frame` with its first column raising when Spark computes it."""
    from pyspark.sql import functions as F

    first = frame.columns[0]
    failing = F.when(
        F.col(first).isNull() | F.col(first).isNotNull(),
        F.raise_error(F.lit("injected: no space left on device")),
    )
    return frame.withColumn(first, failing.otherwise(F.col(first)))


def test_a_failed_write_leaves_the_table_and_its_history_untouched(spark, client, transfer):
    """Incumbent bug: a failed saveAsTable left the table's status `success` (and dropped the table)."""
    branch = client.get_branch_by_name("dev")
    first = by_table(
        SparkSync(client, spark).download_sync_by_convention(branch.id, CAT, "rdmin_fail", "Clinics", **FAST)
    )
    assert all(r["status"] == "success" for r in first.values()), first
    sites = f"{CAT}.rdmin_fail.clin_sites"
    rows, props, history = spark.table(sites).count(), properties(spark, sites), delta_history(spark, sites)

    for pattern in ("full", "incremental"):
        failed = by_table(
            SparkSync(client, FailingWrites(spark), **transfer).download_sync_by_convention(
                branch.id, CAT, "rdmin_fail", "Clinics", pattern=pattern, **FAST
            )
        )
        if pattern == "incremental" and failed["sites"]["status"] == "success":
            assert failed["sites"]["rows"] == 0  # nothing changed since, so nothing was written
            continue
        assert failed["sites"]["failed"] and failed["sites"]["status"].startswith("error (write):"), failed[
            "sites"
        ]
        assert "no space left on device" in failed["sites"]["status"]
        assert spark.table(sites).count() == rows
        assert properties(spark, sites) == props
        assert delta_history(spark, sites) == history


def test_types_and_comments_come_from_the_column_definitions(spark, client, transfer):
    """Incumbent bug: types guessed from CSV (`0001` → 1, an integer column with a NULL → double)."""
    from pyspark.sql import types as T

    branch = client.get_branch_by_name("dev")
    results = SparkSync(client, spark, **transfer).download_sync_by_convention(
        branch.id, CAT, "rdmin_types", "Clinics", **FAST
    )
    assert all(r["status"] == "success" for r in results), results
    sites = spark.table(f"{CAT}.rdmin_types.clin_sites")
    types = {f.name: f.dataType for f in sites.schema.fields}
    assert types["site_code"] == T.StringType() and types["postcode"] == T.StringType()
    assert types["bed_count"] == T.IntegerType()
    assert types["annual_budget"] == T.DecimalType(14, 2)
    assert types["is_active"] == T.BooleanType()
    assert types["opened_on"] == T.DateType()
    assert types["last_inspected_at"] == T.TimestampType()
    assert types["trdm_record_id"] == T.LongType()
    row = sites.filter("site_code = '0001'").collect()
    assert len(row) == 1 and row[0]["annual_budget"] == Decimal("23006650.89")
    with open(ROOT / "fixtures" / "clinics" / "sites.csv", newline="") as f:
        empty_beds = sum(1 for r in csv.DictReader(f) if r["bed_count"] == "")
    assert sites.filter("bed_count IS NULL").count() == empty_beds > 0


def test_reads_give_back_the_exact_instants_in_any_session_time_zone(spark, client, transfer):
    """Spark < 4 has no toArrow, and toPandas made timestamps naive session-local times, then read as UTC
    (shifted by the zone's offset; the DST fall-back hour ambiguous). Reads must return the instants."""
    from titan_rdm_sdk._spark_catalog import SparkCatalog

    assert spark.conf.get("spark.sql.session.timeZone") == SESSION_TIME_ZONE
    instants = [
        datetime(2024, 11, 3, 5, 30, tzinfo=timezone.utc),  # 01:30 EDT in New York ...
        datetime(2024, 11, 3, 6, 30, tzinfo=timezone.utc),  # ... and 01:30 EST: the same wall-clock time
        datetime(2024, 7, 1, 12, 0, 0, 123456, tzinfo=timezone.utc),
        None,
    ]
    data = pa.table(
        {
            "k": pa.array([1, 2, 3, 4], pa.int64()),
            "at": pa.array(instants, pa.timestamp("us", "UTC")),
            "local": pa.array([datetime(2024, 11, 3, 1, 30)] * 3 + [None], pa.timestamp("us")),
        }
    )
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {CAT}.rdmin_tz")
    catalog = SparkCatalog(spark, transfer["staging_location"])
    catalog.overwrite(CAT, "rdmin_tz", "stamps", data, {"trdm.k": "v"})
    back = catalog.read(CAT, "rdmin_tz", "stamps").sort_by("k")
    assert back.column("at").to_pylist() == instants
    assert back.column("local").to_pylist() == data.column("local").to_pylist()
    assert pa.types.is_timestamp(back.schema.field("at").type) and back.schema.field("at").type.tz in (
        "UTC",
        "+00:00",
    )

    # The engine's own view of a downloaded table: the same instants TitanRDM sent.
    branch = client.get_branch_by_name("dev")
    down = SparkSync(client, spark, **transfer).download_sync_by_convention(
        branch.id, CAT, "rdmin_tz", "Clinics", source_table_names=["Site"], **FAST
    )
    assert down[0]["status"] == "success", down
    _, frames = ConventionSync(client).download_by_convention(
        branch.id, "Clinics", table_names=["Site"], output="arrow", **FAST
    )
    expected = frames["clin_sites"].sort_by("site_code").column("last_inspected_at").to_pylist()
    got = (
        catalog.read(CAT, "rdmin_tz", "clin_sites")
        .sort_by("site_code")
        .column("last_inspected_at")
        .to_pylist()
    )
    assert got == expected and any(v is not None for v in got)


@full_lane
def test_an_unreadable_source_is_an_error_and_nothing_is_completed(spark, client):
    """Incumbent bugs: any read error became `skipped`; a batch was completed whatever failed."""
    branch = client.get_branch_by_name("dev")
    sync = SparkSync(client, spark)
    sync.download_sync_by_convention(
        branch.id, CAT, "rdmin_for_broken", "Clinics", source_table_names=["Site"], **FAST
    )
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {CAT}.rdmout_broken")
    spark.sql(
        f"CREATE OR REPLACE TABLE {CAT}.rdmout_broken.clin_sites USING delta AS SELECT * FROM {CAT}.rdmin_for_broken.clin_sites"
    )
    location = spark.sql(f"DESCRIBE DETAIL {CAT}.rdmout_broken.clin_sites").collect()[0]["location"]
    data_files = [
        p for p in Path(location.removeprefix("file:")).rglob("*.parquet") if "_delta_log" not in p.parts
    ]
    assert data_files
    for p in data_files:  # the table's data is gone: it exists, but cannot be read
        p.unlink()
    before = history_rows(client, branch.id)
    results = by_table(sync.upload_sync_by_convention(branch.id, CAT, "rdmout_broken", "Clinics", **FAST))
    assert results["sites"]["status"].startswith("error:") and results["sites"]["failed"], results["sites"]
    assert results["delivery_centre"]["status"] == "skipped (no source data)"
    assert all(r["import_id"] is None for r in results.values()), results
    assert history_rows(client, branch.id) == before


@full_lane
def test_invalid_tables_fail_before_anything_is_sent(spark, client):
    """Incumbent bug: a batch in which every table failed was still completed."""
    branch = client.get_branch_by_name("dev")
    sync = SparkSync(client, spark)
    sync.download_sync_by_convention(branch.id, CAT, "rdmin_for_invalid", "Clinics", **FAST)
    schema = f"{CAT}.rdmout_invalid"
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    spark.sql(
        f"CREATE OR REPLACE TABLE {schema}.clin_sites USING delta AS "
        f"SELECT * FROM {CAT}.rdmin_for_invalid.clin_sites UNION ALL "
        f"(SELECT * FROM {CAT}.rdmin_for_invalid.clin_sites LIMIT 1)"
    )  # a duplicate key
    centres = f"{CAT}.rdmin_for_invalid.clin_delivery_centre"
    select = ", ".join(
        "CASE WHEN centre_code = 'DC019' THEN 'DC0190X' ELSE centre_code END AS centre_code"  # too long
        if c == "centre_code"
        else f"`{c}`"
        for c in spark.table(centres).columns
    )
    spark.sql(
        f"CREATE OR REPLACE TABLE {schema}.clin_delivery_centre USING delta AS SELECT {select} FROM {centres}"
    )
    before = history_rows(client, branch.id)
    results = by_table(sync.upload_sync_by_convention(branch.id, CAT, "rdmout_invalid", "Clinics", **FAST))
    s, d = results["sites"], results["delivery_centre"]
    assert s["failed"] and "site_code" in s["status"] and "row" in s["status"], s
    assert d["failed"] and "centre_code" in d["status"] and "DC0190X" in d["status"], d
    assert results["org_unit"]["status"] == "skipped (no source data)"
    assert all(r["import_id"] is None for r in results.values()), results
    assert history_rows(client, branch.id) == before


@full_lane
def test_history_and_filtered_downloads_write_only_what_was_asked(spark, client):
    branch = client.get_branch_by_name("dev")
    sync = SparkSync(client, spark)
    convention = ConventionSync(client)
    _, frames = convention.download_by_convention(
        branch.id, "Clinics", table_names=["Site"], output="arrow", **FAST
    )
    site = frames["clin_sites"].slice(0, 1)
    site = site.set_column(site.schema.get_field_index("site_name"), "site_name", pa.array(["A new name"]))
    convention.upload_by_convention(
        branch.id,
        "Clinics",
        {"clin_sites": site},
        table_names=["Site"],
        pattern="incremental_upsert_only",
        **FAST,
    )

    only = sync.download_sync_by_convention(
        branch.id, CAT, "rdmin_hist", "Clinics", source_table_names=["Site"], include_history=True, **FAST
    )
    assert [(r["table"], r["status"]) for r in only] == [("sites", "success")]
    table = f"{CAT}.rdmin_hist.clin_sites"
    assert spark.table(table).count() == frames["clin_sites"].num_rows + 1  # the old version of that row too
    assert properties(spark, table)["trdm.include_history"] == "true"
    assert not spark.catalog.tableExists(f"{CAT}.rdmin_hist.clin_org_unit")
    assert not spark.catalog.tableExists(f"{CAT}.rdmin_hist.clin_delivery_centre")


@pytest.mark.skipif(not UNITY, reason="Unity Catalog only")
def test_unity_catalog_gets_delta_tables_and_no_renames(spark, client):
    """Unity Catalog refuses RENAME TABLE and non-Delta managed tables; the session's default format here
    is Spark's (parquet). Downloads still create managed Delta tables, and replace them in place."""
    assert spark.conf.get("spark.sql.sources.default", "parquet") != "delta"
    branch = client.get_branch_by_name("dev")
    sync = SparkSync(client, spark)
    for _ in range(2):
        results = sync.download_sync_by_convention(
            branch.id, CAT, "rdmin_uc", "Clinics", source_table_names=["Org Unit"], **FAST
        )
        assert [r["status"] for r in results] == ["success"], results
    table = f"{CAT}.rdmin_uc.clin_org_unit"
    assert provider(spark, table) == "delta"
    detail = {r[0].strip(): str(r[1]) for r in spark.sql(f"DESCRIBE TABLE EXTENDED {table}").collect()}
    assert detail["Type"] == "MANAGED"
    assert [t.name for t in spark.catalog.listTables(f"{CAT}.rdmin_uc")] == ["clin_org_unit"]  # nothing aside
    with pytest.raises(Exception, match="(?i)renam"):
        spark.sql(f"ALTER TABLE {table} RENAME TO rdmin_uc.renamed").collect()


def test_the_example_notebook_runs(spark):
    """examples/databricks_spark_sync.py, cell by cell, with dbutils stood in for (see
    python/tests/test_example_notebook.py), on this lane's catalog."""
    import importlib.util
    import sys

    import lane_support

    if CONNECT:
        pytest.skip(
            "the notebook's seeding helper uses the classic API; Connect runs the same SparkSync calls above"
        )
    spec = importlib.util.spec_from_file_location(
        "trdm_example_notebook", ROOT / "python" / "tests" / "test_example_notebook.py"
    )
    assert spec is not None and spec.loader is not None
    notebook = importlib.util.module_from_spec(spec)
    saved = sys.modules.get("conftest")
    sys.modules["conftest"] = lane_support._conftest  # what that module imports its helpers from
    try:
        spec.loader.exec_module(notebook)
    finally:
        if saved is not None:
            sys.modules["conftest"] = saved

    with running_emulator() as url:
        displayed: list = []
        namespace = {
            "spark": spark,
            "display": displayed.append,
            "dbutils": notebook.DbUtils(
                {"url": url, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
                {"catalog": CAT, "branch_name": "dev", "download_schema": "nb_in", "upload_schema": "nb_out"},
            ),
        }
        seeded = False
        for cell in notebook.code_cells(notebook.NOTEBOOK):
            if "upload_sync_by_convention" in cell and not seeded:
                for name in NAMES:
                    df = spark.table(f"{CAT}.nb_in.{name}")
                    df = df.select([c for c in df.columns if not c.startswith("trdm_")])
                    if name == "clin_sites":
                        df = df.selectExpr(
                            *[
                                "CASE WHEN site_code = '0047' THEN 'Renamed in the notebook' ELSE site_name END AS site_name"
                                if c == "site_name"
                                else f"`{c}`"
                                for c in df.columns
                            ]
                        )
                    df.write.format("delta").mode("overwrite").saveAsTable(f"{CAT}.nb_out.{name}")
                seeded = True
            exec(compile(cell, str(notebook.NOTEBOOK), "exec"), namespace)  # noqa: S102

    def statuses(name: str) -> dict[str, str]:
        return {r["table"]: r["status"] for r in namespace[name]}

    everything = {"sites": "success", "delivery_centre": "success", "org_unit": "success"}
    assert statuses("download_results") == everything
    unchanged = {
        "sites": "success",
        "delivery_centre": "skipped (unchanged)",
        "org_unit": "skipped (unchanged)",
    }
    assert statuses("plan_results") == dict.fromkeys(everything, "planned")
    planned = next(r for r in namespace["plan_results"] if r["table"] == "sites")["plan"]
    assert (planned["inserted"], planned["updated"], planned["deleted"]) == (0, 1, 0), planned
    assert statuses("upload_results") == unchanged
    sites = next(r for r in namespace["upload_results"] if r["table"] == "sites")
    assert (sites["inserted"], sites["updated"], sites["deleted"]) == (0, 1, 0)
    assert statuses("incremental_results") == everything
    renamed = spark.table(f"{CAT}.nb_in.clin_sites").where("site_code = '0047'").collect()
    assert renamed[0]["site_name"] == "Renamed in the notebook" and renamed[0]["trdm_tran_code"] == "u"
    assert spark.table(f"{CAT}.nb_in.clin_sites").count() == 150
    assert provider(spark, f"{CAT}.nb_in.clin_sites") == "delta"
    assert displayed


def test_the_default_stages_only_on_a_local_spark_3_session(spark):
    """Spark 3's direct way goes through pandas, so a local Spark 3 session stages in a temporary directory;
    Spark 4 takes Arrow directly, and a Connect server may be elsewhere: both default to the direct way."""
    import tempfile

    from titan_rdm_sdk._spark_catalog import SparkCatalog

    expected = tempfile.gettempdir() if _spark3(spark) and not CONNECT else None
    assert SparkCatalog(spark)._staging == expected
