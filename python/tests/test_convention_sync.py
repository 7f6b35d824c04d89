"""ConventionSync: domains to and from pandas / pyarrow / polars frames, typed from the column definitions."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from conftest import CLIENT_ID, CLIENT_SECRET, running_emulator

from titan_rdm_sdk import TitanRDMClient
from titan_rdm_sdk.exceptions import ValidationError
from titan_rdm_sdk.spark_sync import ConventionSync

FAST = {"poll_interval": 0.05, "max_wait": 60}


@pytest.fixture
def client() -> Iterator[TitanRDMClient]:
    with running_emulator() as url:
        yield TitanRDMClient(url=url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)


def test_download_gives_typed_pandas_frames(client):
    branch = client.get_branch_by_name("dev")
    results, frames = ConventionSync(client).download_by_convention(branch.id, "Clinics", **FAST)
    assert sorted(frames) == ["clin_delivery_centre", "clin_org_unit", "clin_sites"]
    assert [r["status"] for r in results] == ["success"] * 3
    sites = frames["clin_sites"]
    assert len(sites) == next(r["rows"] for r in results if r["table"] == "sites") == 150
    assert "0001" in set(sites["site_code"])  # a code, not the number 1
    assert str(sites["bed_count"].dtype) == "Int32" and sites["bed_count"].isna().any()
    assert str(sites["is_active"].dtype) == "boolean"
    assert isinstance(sites["annual_budget"].dropna().iloc[0], Decimal)
    assert str(sites["last_inspected_at"].dtype).startswith("datetime64[us, UTC]")
    catchment = frames["clin_delivery_centre"]["catchment_population"]
    assert str(catchment.dtype) == "Int64"


def test_download_as_arrow_and_filtered(client):
    branch = client.get_branch_by_name("dev")
    results, frames = ConventionSync(client).download_by_convention(
        branch.id, "Clinics", table_names=["Org Unit"], output="arrow", **FAST
    )
    assert [r["table"] for r in results] == ["org_unit"]
    org = frames["clin_org_unit"]
    assert isinstance(org, pa.Table)
    assert org.schema.field("org_unit_id").type == pa.int32()
    assert org.schema.field("budget_share").type == pa.decimal128(5, 4)


def test_incremental_without_a_mark_is_refused(client):
    branch = client.get_branch_by_name("dev")
    with pytest.raises(ValidationError, match="high_water_mark"):
        ConventionSync(client).download_by_convention(branch.id, "Clinics", pattern="incremental", **FAST)
    with pytest.raises(ValidationError, match="pattern"):
        ConventionSync(client).download_by_convention(branch.id, "Clinics", pattern="latest", **FAST)


def test_upload_takes_pandas_and_arrow_and_a_round_trip_changes_nothing(client):
    branch = client.get_branch_by_name("dev")
    sync = ConventionSync(client)
    _, frames = sync.download_by_convention(branch.id, "Clinics", **FAST)
    frames["clin_org_unit"] = pa.Table.from_pandas(frames["clin_org_unit"], preserve_index=False)
    results = sync.upload_by_convention(branch.id, "Clinics", frames, upload_unchanged=True, **FAST)
    assert [r["status"] for r in results] == ["success"] * 3, results
    assert all(r["plan"]["unchanged"] == r["rows"] for r in results), results
    assert all((r["inserted"], r["updated"], r["deleted"]) == (0, 0, 0) for r in results), results


def test_upload_reports_missing_and_empty_frames_and_validates_first(client):
    branch = client.get_branch_by_name("dev")
    sync = ConventionSync(client)
    _, frames = sync.download_by_convention(branch.id, "Clinics", **FAST)
    empty = frames["clin_delivery_centre"].iloc[0:0]
    results = {
        r["table"]: r
        for r in sync.upload_by_convention(branch.id, "Clinics", {"clin_delivery_centre": empty}, **FAST)
    }
    assert results["delivery_centre"]["status"] == "skipped (empty)"
    assert results["sites"]["status"] == "skipped (no source data)"

    bad = frames["clin_sites"].copy()
    bad.loc[3, "postcode"] = "123456"  # varchar(4)
    results = {
        r["table"]: r for r in sync.upload_by_convention(branch.id, "Clinics", {"clin_sites": bad}, **FAST)
    }
    status = results["sites"]["status"]
    assert (
        status.startswith("error:") and "postcode" in status and "123456" in status and "row 4" in status
    ), status
    assert results["sites"]["import_id"] is None


def test_polars_frames_are_accepted(client):
    pl = pytest.importorskip("polars")
    branch = client.get_branch_by_name("dev")
    sync = ConventionSync(client)
    _, frames = sync.download_by_convention(
        branch.id, "Clinics", table_names=["Site"], output="polars", **FAST
    )
    sites = frames["clin_sites"]
    assert isinstance(sites, pl.DataFrame) and sites.height == 150
    results = sync.upload_by_convention(
        branch.id, "Clinics", {"clin_sites": sites}, table_names=["Site"], **FAST
    )
    assert results[0]["status"] == "skipped (unchanged)" and results[0]["plan"]["unchanged"] == 150, results


def test_frames_of_other_types_are_refused_by_name(client):
    branch = client.get_branch_by_name("dev")
    with pytest.raises(ValidationError, match="clin_sites"):
        ConventionSync(client).upload_by_convention(branch.id, "Clinics", {"clin_sites": [1, 2, 3]}, **FAST)


def test_upload_patterns_as_the_incumbent_accepts_them(client):
    from titan_rdm_sdk import ImportPattern

    branch = client.get_branch_by_name("dev")
    sync = ConventionSync(client)
    _, frames = sync.download_by_convention(
        branch.id, "Clinics", table_names=["Site"], output="arrow", **FAST
    )
    sites = frames["clin_sites"]
    one = sites.filter(pc.equal(sites.column("site_code"), "0047"))
    one = one.set_column(one.schema.get_field_index("site_name"), "site_name", pa.array(["Legacy pattern"]))
    # "incremental" is the service's legacy spelling of incremental_upsert_only.
    results = sync.upload_by_convention(
        branch.id, "Clinics", {"clin_sites": one}, pattern="incremental", **FAST
    )
    assert (results[0]["status"], results[0]["updated"]) == ("success", 1), results
    # The enum members work as their values.
    results = sync.upload_by_convention(
        branch.id, "Clinics", {"clin_sites": sites}, pattern=ImportPattern.FULL, **FAST
    )
    assert (results[0]["status"], results[0]["updated"]) == ("success", 1), results  # the name goes back
    with pytest.raises(ValidationError, match="pattern"):
        sync.upload_by_convention(branch.id, "Clinics", {"clin_sites": sites}, pattern="merge", **FAST)


def test_a_dry_run_plans_without_writing_and_the_guard_stops_a_mass_delete(client):
    branch = client.get_branch_by_name("dev")
    sync = ConventionSync(client)
    _, frames = sync.download_by_convention(
        branch.id, "Clinics", table_names=["Site"], output="arrow", **FAST
    )
    sites = frames["clin_sites"]
    renamed = pc.if_else(
        pc.equal(sites.column("site_code"), "0047"), "Planned rename", sites.column("site_name")
    )
    edited = sites.set_column(sites.schema.get_field_index("site_name"), "site_name", renamed).slice(0, 60)
    upload = {"clin_sites": edited}

    plan = sync.upload_by_convention(branch.id, "Clinics", upload, table_names=["Site"], dry_run=True, **FAST)
    assert plan[0]["status"] == "planned" and plan[0]["import_id"] is None, plan
    counts = plan[0]["plan"]
    assert (counts["current"], counts["inserted"], counts["deleted"]) == (150, 0, 90), counts
    assert "would be refused" in (plan[0]["note"] or ""), plan
    _, after = sync.download_by_convention(branch.id, "Clinics", table_names=["Site"], output="arrow", **FAST)
    assert after["clin_sites"].num_rows == 150, "a dry run writes nothing"

    refused = sync.upload_by_convention(branch.id, "Clinics", upload, table_names=["Site"], **FAST)
    assert refused[0]["failed"] and "would delete 90 of the 150" in refused[0]["status"], refused
    assert refused[0]["import_id"] is None

    applied = sync.upload_by_convention(
        branch.id, "Clinics", upload, table_names=["Site"], allow_mass_delete=True, **FAST
    )
    assert applied[0]["status"] == "success", applied
    assert (applied[0]["inserted"], applied[0]["updated"], applied[0]["deleted"]) == (
        counts["inserted"],
        counts["updated"],
        counts["deleted"],
    )
