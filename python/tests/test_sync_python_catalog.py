"""The compiled sync engine over a catalog written in Python (a dict of pyarrow tables)."""

from __future__ import annotations

import pytest

from titan_rdm_sdk._internal import RawSyncEngine

pa = pytest.importorskip("pyarrow")


class DictCatalog:
    """The smallest Python catalog: tables and their properties in dicts."""

    def __init__(self):
        self.schemas = set()
        self.tables = {}
        self.props = {}
        self.calls = []

    def table_exists(self, catalog, schema, table):
        return (catalog, schema, table) in self.tables

    def read(self, catalog, schema, table):
        self.calls.append(("read", table))
        return self.tables[(catalog, schema, table)]  # KeyError -> table not found

    def create_schema(self, catalog, schema):
        self.schemas.add((catalog, schema))

    def overwrite(self, catalog, schema, table, data, properties):
        self.calls.append(("overwrite", table))
        self.tables[(catalog, schema, table)] = pa.table(data)
        self.props[(catalog, schema, table)] = dict(properties)

    def properties(self, catalog, schema, table):
        return self.props[(catalog, schema, table)]


def test_download_incremental_and_upload_through_a_python_catalog(client):
    catalog = DictCatalog()
    sync = RawSyncEngine(client._raw, catalog)
    branch = client.get_branch_by_name("dev")

    results = sync.download(branch.id, "dev", "rdmin", "Clinics", poll_interval=0.05, max_wait=60)
    assert all(r["status"] == "success" for r in results), results
    assert ("dev", "rdmin") in catalog.schemas
    sites = catalog.tables[("dev", "rdmin", "clin_sites")]
    assert sites.num_rows == next(r["rows"] for r in results if r["table"] == "sites") > 0
    mark = catalog.props[("dev", "rdmin", "clin_sites")]["trdm.high_water_mark"]
    assert mark

    # Incremental: merged in Rust, written back through `overwrite`.
    again = sync.download(
        branch.id, "dev", "rdmin", "Clinics", pattern="incremental", poll_interval=0.05, max_wait=60
    )
    assert all(r["status"] == "success" for r in again), again
    assert catalog.tables[("dev", "rdmin", "clin_sites")].num_rows == sites.num_rows

    # Upload the same rows from another schema.
    for (c, _, t), table in list(catalog.tables.items()):
        catalog.tables[(c, "rdmout", t)] = table
    report = sync.upload(
        branch.id, "dev", "rdmout", "Clinics", upload_unchanged=True, poll_interval=0.05, max_wait=60
    )
    assert all(r["status"] == "success" for r in report["tables"]), report


def test_a_failing_python_catalog_reports_per_table(client):
    class Broken(DictCatalog):
        def overwrite(self, catalog, schema, table, data, properties):
            raise RuntimeError("disk full")

    sync = RawSyncEngine(client._raw, Broken())
    branch = client.get_branch_by_name("dev")
    results = sync.download(branch.id, "dev", "rdmin", "Clinics", poll_interval=0.05, max_wait=60)
    assert results and all(r["status"].startswith("error (write):") for r in results), results
    assert all("disk full" in r["status"] for r in results)
    assert all(r["failed"] for r in results)


class MergingCatalog(DictCatalog):
    """A catalog with its own merge (as Spark on Delta): records what the engine asks of it."""

    def __init__(self, decline=False):
        super().__init__()
        self.decline = decline
        self.merges = []

    def merge(self, catalog, schema, table, data, key_columns, delete_column, properties):
        self.merges.append(
            (table, list(key_columns), delete_column, dict(properties), pa.table(data).num_rows)
        )
        if self.decline:
            return NotImplemented
        self.props[(catalog, schema, table)] = dict(properties)
        return None


@pytest.mark.parametrize("decline", [False, True])
def test_incremental_downloads_use_the_catalogs_own_merge_unless_it_declines(client, decline):
    catalog = MergingCatalog(decline=decline)
    sync = RawSyncEngine(client._raw, catalog)
    branch = client.get_branch_by_name("dev")
    first = sync.download(branch.id, "dev", "rdmin", "Clinics", poll_interval=0.05, max_wait=60)
    assert all(r["status"] == "success" for r in first), first
    assert catalog.merges == []  # a full download overwrites
    catalog.calls.clear()

    again = sync.download(
        branch.id, "dev", "rdmin", "Clinics", pattern="incremental", poll_interval=0.05, max_wait=60
    )
    assert all(r["status"] == "success" for r in again), again
    assert sorted(m[0] for m in catalog.merges) == ["clin_delivery_centre", "clin_org_unit", "clin_sites"]
    for _table, keys, delete, props, _rows in catalog.merges:
        assert keys == ["trdm_record_id"] and delete == "trdm_is_deleted"
        assert props["trdm.high_water_mark"] and props["trdm.branch_id"] == str(branch.id)
    overwrites = [c for c in catalog.calls if c[0] == "overwrite"]
    # Declining sends the engine down the read-merge-overwrite path; accepting leaves the table to the catalog.
    assert len(overwrites) == (3 if decline else 0)


def test_the_delta_merge_statement():
    from titan_rdm_sdk._spark_catalog import merge_statement, quote

    sql = merge_statement(
        quote("dev", "rdmin", "clin_sites"), quote("v"), ["trdm_record_id"], "trdm_is_deleted"
    )
    assert sql == (
        "MERGE INTO `dev`.`rdmin`.`clin_sites` AS t USING `v` AS s ON t.`trdm_record_id` = s.`trdm_record_id` "
        "WHEN MATCHED AND s.`trdm_is_deleted` IS TRUE THEN DELETE "
        "WHEN MATCHED THEN UPDATE SET * "
        "WHEN NOT MATCHED AND s.`trdm_is_deleted` IS NOT TRUE THEN INSERT *"
    )
    history = merge_statement("`t`", "`v`", ["trdm_sk"], None)
    assert history.endswith("WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *")
    assert quote("we`ird") == "`we``ird`"


def test_a_lookup_error_from_a_catalog_bug_is_an_error_not_a_missing_table(client):
    class Buggy(DictCatalog):
        def read(self, catalog, schema, table):
            return {}["a key the code got wrong"]  # KeyError is a LookupError, but the table exists

    sync = RawSyncEngine(client._raw, Buggy())
    branch = client.get_branch_by_name("dev")
    down = sync.download(branch.id, "dev", "rdmout", "Clinics", poll_interval=0.05, max_wait=60)
    assert all(r["status"] == "success" for r in down), down
    report = sync.upload(branch.id, "dev", "rdmout", "Clinics", poll_interval=0.05, max_wait=60)
    statuses = [r["status"] for r in report["tables"]]
    assert all(s.startswith("error: cannot read dev.rdmout.") and "KeyError" in s for s in statuses), statuses
    assert report["import_id"] is None
