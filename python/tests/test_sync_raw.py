"""The compiled sync engine over the in-memory catalog: a domain down and back up."""

from __future__ import annotations

import pytest

from titan_rdm_sdk._internal import RawMemoryCatalog, RawSyncEngine

INCUMBENT_KEYS = {"domain", "table", "rows", "status"}


@pytest.fixture()
def engine(client):
    catalog = RawMemoryCatalog()
    return catalog, RawSyncEngine(client._raw, catalog)


def test_download_then_upload(client, engine):
    pa = pytest.importorskip("pyarrow")
    catalog, sync = engine
    branch = client.get_branch_by_name("dev")
    results = sync.download(branch.id, "dev", "rdmin", "Clinics", poll_interval=0.05, max_wait=60)
    assert {r["table"] for r in results} == {"sites", "delivery_centre", "org_unit"}
    for r in results:
        assert INCUMBENT_KEYS <= r.keys()
        assert r["status"] == "success", r
        assert r["domain"] == "Clinics"
        assert r["target"] == f"dev.rdmin.clin_{r['table']}"
    assert sorted(catalog.tables()) == sorted(r["target"] for r in results)

    sites = catalog.read_table("dev", "rdmin", "clin_sites")
    assert isinstance(sites, pa.Table)
    assert sites.num_rows == next(r["rows"] for r in results if r["table"] == "sites") > 0
    assert catalog.properties("dev", "rdmin", "clin_sites")

    # Upload the downloaded tables unchanged from another schema: nothing changes on the server.
    for r in results:
        name = r["target"].rsplit(".", 1)[1]
        table = catalog.read_table("dev", "rdmin", name)
        assert catalog.write_table("dev", "rdmout", name, table) == table.num_rows
    report = sync.upload(
        branch.id, "dev", "rdmout", "Clinics", upload_unchanged=True, poll_interval=0.05, max_wait=60
    )
    assert report["import_id"] is not None
    assert {r["table"] for r in report["tables"]} == {"sites", "delivery_centre", "org_unit"}
    for r in report["tables"]:
        assert INCUMBENT_KEYS <= r.keys()
        assert r["status"] == "success", r


def test_an_upload_whose_source_tables_all_do_not_exist_is_an_error(client, engine):
    from titan_rdm_sdk import ValidationError

    _, sync = engine
    branch = client.get_branch_by_name("dev")
    with pytest.raises(ValidationError, match=r"no source table exists \(looked for dev\.empty\.clin_sites"):
        sync.upload(branch.id, "dev", "empty", "Clinics", allow_partial=True, poll_interval=0.05, max_wait=60)


def test_bad_pattern_is_a_validation_error(client, engine):
    from titan_rdm_sdk import ValidationError

    _, sync = engine
    with pytest.raises(ValidationError):
        sync.upload(1, "dev", "rdmout", "Clinics", pattern="sideways")
