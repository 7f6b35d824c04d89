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
        branch.id, "dev", "rdmin", "Clinics", incremental=True, poll_interval=0.05, max_wait=60
    )
    assert all(r["status"] == "success" for r in again), again
    assert catalog.tables[("dev", "rdmin", "clin_sites")].num_rows == sites.num_rows

    # Upload the same rows from another schema.
    for (c, _, t), table in list(catalog.tables.items()):
        catalog.tables[(c, "rdmout", t)] = table
    report = sync.upload(branch.id, "dev", "rdmout", "Clinics", poll_interval=0.05, max_wait=60)
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
