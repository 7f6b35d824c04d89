"""Download, Upload and TableUpload against the emulator: typed exports, each import pattern, validation,
redaction and prepare_export_for_import.

Writes go to the `prod` branch with keys no other test uses (org units 9xxx, delivery centres DC9xx), so the
tests do not depend on their order.
"""

from __future__ import annotations

import decimal
from datetime import date, datetime, timezone

import pytest
from conftest import CLIENT_SECRET

from titan_rdm_sdk import (
    EXPORT_SYSTEM_COLUMNS,
    HIGH_DATE,
    REMOVED_SYSTEM_COLUMNS,
    SYSTEM_COLUMNS,
    TRAN_CODE_COLUMN,
    Download,
    ExportNotReadyError,
    ImportPattern,
    ImportTableResult,
    TableUpload,
    Upload,
    ValidationError,
    prepare_export_for_import,
)

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")

POLL = {"poll_interval": 0.05, "max_wait": 60}


@pytest.fixture(scope="module")
def prod(client):
    return client.get_branch_by_name("prod")


@pytest.fixture(scope="module")
def tables(client, prod):
    return {t.database_table_name: t for t in client.get_deployed_table_definitions(prod.id)}


def user_columns(table) -> list[str]:
    columns = sorted(table.column_definitions, key=lambda c: c.display_order or 0)
    return [c.name for c in columns if not c.is_deleted]


def download(client, branch, table, **options) -> Download:
    export = client.get_download(branch.id, table.key, **options)
    assert export.wait_until_ready(**POLL) == "completed"
    return export


def upload(client, branch, table, data, pattern) -> tuple[Upload, TableUpload, list[ImportTableResult]]:
    """One batch with one table file, completed and waited for."""
    batch = client.get_upload(branch.id, description=f"test {pattern}", correlation_code=f"t-{pattern}")
    mapping = client.get_default_import_mapping(table.id)
    file = batch.get_table_upload(table.key, mapping.key, pattern)
    assert file.send(data) is file
    assert file.status == "uploaded"
    assert batch.complete("all sent") is batch
    results = batch.wait_for_results(**POLL)
    return batch, file, results


def only(results: list[ImportTableResult]) -> ImportTableResult:
    assert len(results) == 1
    result = results[0]
    assert isinstance(result, ImportTableResult)
    assert result.status == "completed", result.message
    return result


def centre(code: str, name: str, **values) -> dict:
    row = {
        "centre_code": code,
        "centre_name": name,
        "region": None,
        "capacity": None,
        "catchment_population": None,
        "established_on": None,
        "is_active": None,
        "notes": None,
    }
    row.update(values)
    return row


def org_unit(unit_id: int, name: str, **values) -> dict:
    row = {
        "org_unit_id": unit_id,
        "org_unit_code": f"{unit_id:05d}",
        "name": name,
        "parent_org_unit_id": None,
        "cost_centre": None,
        "headcount": None,
        "budget_share": decimal.Decimal("1.0000"),
        "valid_from": date(2024, 1, 1),
        "updated_at": None,
        "is_clinical": True,
    }
    row.update(values)
    return row


def frame(rows: list[dict]):
    """A pandas frame whose nullable columns keep their types (an all-None column would be untyped)."""
    df = pd.DataFrame(rows)
    for name in ("capacity", "headcount", "parent_org_unit_id"):
        if name in df:
            df[name] = df[name].astype("Int32")
    if "catchment_population" in df:
        df["catchment_population"] = df["catchment_population"].astype("Int64")
    for name in ("region", "notes", "cost_centre"):
        if name in df:
            df[name] = df[name].astype("string")
    for name in ("is_active",):
        if name in df:
            df[name] = df[name].astype("boolean")
    if "established_on" in df:
        df["established_on"] = pd.to_datetime(df["established_on"]).dt.date
    if "updated_at" in df:
        df["updated_at"] = pd.to_datetime(df["updated_at"], utc=True)
    return df


# ------------------------------------------------------------------------------------------------ downloads


def test_full_download_is_typed_from_the_column_definitions(client, prod, tables):
    sites = tables["sites"]
    export = download(client, prod, sites)
    assert export.is_ready and isinstance(export.id, int)
    assert export.pattern == "full" and export.include_history is False
    df = export.receive()

    assert list(df.columns) == user_columns(sites) + list(EXPORT_SYSTEM_COLUMNS)
    assert len(df) == export.rows_exported == 150
    # Codes with leading zeros stay text.
    assert str(df["site_code"].dtype) == "object"
    assert "0001" in set(df["site_code"]) and "0850" in set(df["postcode"])
    # An integer column with NULLs stays integer, with <NA>.
    assert str(df["bed_count"].dtype) == "Int32"
    assert df["bed_count"].isna().sum() == 70 and df["bed_count"].notna().any()
    assert str(df["trdm_sk"].dtype) == "Int64"
    assert str(df["is_active"].dtype) == "boolean" and str(df["trdm_is_deleted"].dtype) == "boolean"
    assert not df["trdm_is_deleted"].any()
    assert isinstance(df["annual_budget"].dropna().iloc[0], decimal.Decimal)
    assert isinstance(df["opened_on"].iloc[0], date)
    assert str(df["last_inspected_at"].dtype) == "datetime64[us, UTC]"
    # Current versions end at the high date; a plain full export has no transaction codes.
    assert set(df["trdm_state"]) == {"C"}
    assert (df["trdm_effective_to"] == pd.Timestamp(HIGH_DATE.replace("+00", "+00:00"))).all()
    assert df[TRAN_CODE_COLUMN].isna().all()

    table = export.receive_arrow()
    assert isinstance(table, pa.Table) and table.num_rows == 150
    assert table.schema.field("site_code").metadata[b"trdm.type"] == b"varchar(10)"
    assert table.schema.field("bed_count").type == pa.int32()
    assert table.schema.field("annual_budget").type == pa.decimal128(14, 2)


def test_bool_columns_turns_text_into_booleans(client, prod, tables):
    df = download(client, prod, tables["delivery_centre"]).receive(bool_columns=["region", "no_such_column"])
    # region is free text, so it is left alone; the boolean column is boolean already.
    assert str(df["region"].dtype) == "object"
    assert str(df["is_active"].dtype) == "boolean" and df["is_active"].isna().sum() == 1


def test_download_arguments_are_checked_before_any_request(client, prod, tables):
    key = tables["sites"].key
    with pytest.raises(ValidationError):
        client.get_download(prod.id, key, pattern="sideways")
    with pytest.raises(ValidationError):
        client.get_download(prod.id, key, pattern="incremental")
    with pytest.raises(ValidationError):
        client.get_download(prod.id, key, pattern="incremental", high_water_mark="yesterday")


def test_incremental_and_history_downloads(client, prod, tables):
    units = tables["org_unit"]
    mark = datetime.now(timezone.utc)
    only(
        upload(client, prod, units, frame([org_unit(9101, "Incremental Unit")]), "incremental_upsert_only")[2]
    )
    renamed = frame([org_unit(9101, "Incremental Unit, renamed", headcount=12)])
    assert only(upload(client, prod, units, renamed, "incremental_upsert_only")[2]).update_row_count == 1

    # Naive datetimes are UTC; the mark is sent with an explicit offset.
    naive = mark.replace(tzinfo=None)
    current = download(client, prod, units, pattern="incremental", high_water_mark=naive).receive()
    assert list(current["org_unit_id"]) == [9101]
    assert current[TRAN_CODE_COLUMN].tolist() == ["u"]
    assert current["name"].tolist() == ["Incremental Unit, renamed"]
    assert current["headcount"].tolist() == [12] and str(current["headcount"].dtype) == "Int32"

    history = download(
        client, prod, units, pattern="incremental", high_water_mark=mark.isoformat(), include_history=True
    )
    assert history.include_history is True
    df = history.receive().sort_values("trdm_created_at")
    assert df["org_unit_id"].tolist() == [9101, 9101]
    assert df[TRAN_CODE_COLUMN].tolist() == ["i", "u"]
    assert df["trdm_state"].tolist() == ["H", "C"]
    assert df["headcount"].isna().tolist() == [True, False]

    full_history = download(client, prod, units, include_history=True).receive()
    assert (full_history["org_unit_id"] == 9101).sum() == 2
    assert full_history[TRAN_CODE_COLUMN].notna().all()
    assert len(full_history) > len(download(client, prod, units).receive())


# -------------------------------------------------------------------------------------------------- uploads


def test_full_upload(client, prod, tables):
    units = tables["org_unit"]
    before = download(client, prod, units).rows_exported
    rows = [
        org_unit(9001, "Full Unit A", headcount=3),
        org_unit(9002, "Full Unit B", parent_org_unit_id=9001),
    ]
    batch, file, results = upload(client, prod, units, frame(rows), "full")
    result = only(results)
    assert (result.insert_row_count, result.update_row_count, result.delete_row_count) == (2, 0, 0)
    assert result.pattern == "full" and result.table_definition_key == units.key
    assert result.id == file.id
    assert batch.status == "completed" and batch.insert_row_count == 2
    assert file.primary_key_columns == ["org_unit_id"]
    assert file.deployed_table_definition_id == units.id
    # Org units allow manual rows, so a full file does not delete the records it lacks.
    after = download(client, prod, units).receive()
    assert len(after) == before + 2
    assert after.loc[after["org_unit_id"] == 9002, "parent_org_unit_id"].tolist() == [9001]


def test_incremental_upsert_only_upload_with_int64_nulls(client, prod, tables):
    centres = tables["delivery_centre"]
    mark = datetime.now(timezone.utc)
    rows = [
        centre("DC901", "Upsert Centre", capacity=10, catchment_population=None),
        centre("DC902", "Second Upsert Centre", catchment_population=3_000_000_000, is_active=True),
    ]
    result = only(upload(client, prod, centres, frame(rows), ImportPattern.INCREMENTAL_UPSERT_ONLY)[2])
    assert (result.insert_row_count, result.update_row_count, result.delete_row_count) == (2, 0, 0)

    changed = frame([centre("DC901", "Upsert Centre", capacity=11)])
    result = only(upload(client, prod, centres, changed, "incremental")[2])
    assert (result.insert_row_count, result.update_row_count, result.delete_row_count) == (0, 1, 0)

    df = download(client, prod, centres, pattern="incremental", high_water_mark=mark).receive()
    df = df.set_index("centre_code").sort_index()
    assert list(df.index) == ["DC901", "DC902"]
    # bigint with a NULL stays Int64; a value beyond 2^31 survives.
    assert str(df["catchment_population"].dtype) == "Int64"
    assert df["catchment_population"].isna().tolist() == [True, False]
    assert df.loc["DC902", "catchment_population"] == 3_000_000_000
    assert df.loc["DC901", "capacity"] == 11
    assert df.loc["DC901", "trdm_actor_type"] == "I"


def test_incremental_with_delete_upload_from_pyarrow(client, prod, tables):
    centres = tables["delivery_centre"]
    seed = frame([centre("DC911", "Doomed Centre"), centre("DC912", "Kept Centre")])
    only(upload(client, prod, centres, seed, "incremental_upsert_only")[2])

    rows = [
        centre("DC911", "Doomed Centre"),
        centre("DC913", "New Centre"),
        centre("DC912", "Kept Centre, renamed"),
    ]
    data = pa.Table.from_pandas(frame(rows), preserve_index=False).append_column(
        TRAN_CODE_COLUMN,
        pa.array([" D", "i", "U"]),  # case and blanks are normalised
    )
    batch, file, results = upload(client, prod, centres, data, "incremental_with_delete")
    result = only(results)
    assert (result.insert_row_count, result.update_row_count, result.delete_row_count) == (1, 1, 1)
    assert file.rows_sent == 3
    assert batch.delete_row_count == 1

    codes = set(download(client, prod, centres).receive()["centre_code"])
    assert {"DC912", "DC913"} <= codes and "DC911" not in codes


def test_polars_frames_upload(client, prod, tables):
    pl = pytest.importorskip("polars")
    data = pl.from_pandas(frame([centre("DC921", "Polars Centre", capacity=5)]))
    result = only(upload(client, prod, tables["delivery_centre"], data, "incremental_upsert_only")[2])
    assert result.insert_row_count == 1


def test_get_results_before_complete(client, prod, tables):
    units = tables["org_unit"]
    batch = client.get_upload(prod.id)
    assert batch.status == "created" and batch.get_results() == []
    file = batch.get_table_upload(units.key, client.get_default_import_mapping(units.id).key, "full")
    results = batch.get_results()
    assert [r.id for r in results] == [file.id] and results[0].status == "created"
    assert results[0].insert_row_count is None


# ----------------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("rows", "column", "row", "value"),
    [
        ([("DC931", "Fine", "100"), ("DC932", "Bad capacity", "lots")], "capacity", 2, "lots"),
        ([("DC933", "Fine", None), ("DC934", "x" * 81, None)], "centre_name", 2, "x" * 81),
        ([("DC935", "Fine", None), ("TOOLONG", "Long code", None)], "centre_code", 2, "TOOLONG"),
    ],
)
def test_invalid_data_is_rejected_before_sending(client, prod, tables, rows, column, row, value):
    centres = tables["delivery_centre"]
    batch = client.get_upload(prod.id)
    file = batch.get_table_upload(centres.key, client.get_default_import_mapping(centres.id).key, "full")
    data = pd.DataFrame(rows, columns=["centre_code", "centre_name", "capacity"]).astype("string")
    for name in ("region", "catchment_population", "established_on", "is_active", "notes"):
        data[name] = pd.Series([None] * len(rows), dtype="string")
    with pytest.raises(ValidationError) as raised:
        file.send(data)
    message = str(raised.value)
    for part in ("delivery_centre", column, f"row {row}", value):
        assert part in message, message
    # Nothing was sent: the slot is still waiting for its file, and no record changed.
    assert file.status == "created" and file.rows_sent is None
    assert [r.status for r in batch.get_results()] == ["created"]
    codes = set(download(client, prod, centres).receive()["centre_code"])
    assert not codes & {code for code, _, _ in rows}


def test_duplicate_keys_and_misplaced_tran_codes_are_validation_errors(client, prod, tables):
    centres = tables["delivery_centre"]
    mapping = client.get_default_import_mapping(centres.id).key
    batch = client.get_upload(prod.id)
    twice = frame([centre("DC941", "A"), centre("DC941", "B")])
    with pytest.raises(ValidationError, match="DC941"):
        batch.get_table_upload(centres.key, mapping, "incremental_upsert_only").send(twice)
    coded = frame([centre("DC942", "A")]).assign(**{TRAN_CODE_COLUMN: ["i"]})
    with pytest.raises(ValidationError, match=TRAN_CODE_COLUMN):
        batch.get_table_upload(centres.key, mapping, "full").send(coded)
    # A column the table has but the frame lacks would be cleared in every record it writes.
    no_region = frame([centre("DC945", "A")]).drop(columns=["region"])
    with pytest.raises(ValidationError, match="column region is missing from the input"):
        batch.get_table_upload(centres.key, mapping, "incremental_upsert_only").send(no_region)
    # An empty frame under `full` would delete every record of the table.
    with pytest.raises(ValidationError, match="no rows"):
        batch.get_table_upload(centres.key, mapping, "full").send(frame([centre("DC946", "A")]).iloc[0:0])
    uncoded = pd.DataFrame({"centre_code": ["DC943"], "centre_name": ["A"]})
    with pytest.raises(ValidationError, match=TRAN_CODE_COLUMN):
        batch.get_table_upload(centres.key, mapping, "incremental_with_delete").send(uncoded)
    with pytest.raises(ValidationError):
        batch.get_table_upload(centres.key, mapping, "sideways")
    with pytest.raises(ValidationError):
        batch.get_table_upload(centres.key, mapping, None)
    with pytest.raises(TypeError):
        batch.get_table_upload(centres.key, mapping, "full").send([{"centre_code": "DC944"}])
    assert {r.status for r in batch.get_results()} == {"created"}


# ------------------------------------------------------------------------------------------------ redaction


def test_reprs_and_errors_never_show_presigned_urls_or_secrets(client, prod, tables):
    centres = tables["delivery_centre"]
    batch = client.get_upload(prod.id)
    file = batch.get_table_upload(centres.key, client.get_default_import_mapping(centres.id).key, "full")
    url = file.signed_s3_url.expose()
    assert url.startswith("http") and "Signature=" in url
    signature = url.split("Signature=", 1)[1]
    assert "<redacted>" in str(file.signed_s3_url) and "<redacted>" in repr(file.signed_s3_url)

    export = download(client, prod, centres)
    assert export.download_url is not None
    download_url = export.download_url.expose()
    assert "Signature=" in download_url

    shown = [client, batch, file, export, file.signed_s3_url, export.download_url, vars(file), vars(export)]
    shown += [file._raw, export._raw, batch._raw, file._raw.info(), export._raw.info()]
    for thing in shown:
        for text in (repr(thing), str(thing)):
            assert signature not in text and url not in text and download_url not in text, text
            assert CLIENT_SECRET not in text
    with pytest.raises(ValidationError) as raised:
        file.send(pd.DataFrame({"centre_code": ["DC951"], "no_such_column": ["x"]}))
    assert signature not in str(raised.value) and "no_such_column" in str(raised.value)


# ---------------------------------------------------------------------------------------------- not ready


def test_not_ready_exports_raise_and_time_out():
    try:
        from conftest import CLIENT_ID, running_emulator
    except ImportError:  # pragma: no cover - conftest without the helper
        pytest.skip("conftest has no running_emulator")
    from titan_rdm_sdk import TitanRDMClient

    with running_emulator("--export-delay", "30s") as url:
        slow = TitanRDMClient(url, CLIENT_ID, CLIENT_SECRET)
        branch = slow.get_branch_by_name("prod")
        table = slow.get_deployed_table_definitions(branch.id)[0]
        export = slow.get_download(branch.id, table.key)
        assert not export.is_ready
        with pytest.raises(ExportNotReadyError):
            export.receive()
        with pytest.raises(TimeoutError):
            export.wait_until_ready(poll_interval=0.05, max_wait=0.3)
        assert export.status in ("created", "started")


# ------------------------------------------------------------------------------------- prepare for import


def test_constants_match_the_incumbent():
    assert (
        SYSTEM_COLUMNS[0] == "trdm_sk" and SYSTEM_COLUMNS[-1] == "trdm_actor_id" and len(SYSTEM_COLUMNS) == 9
    )
    assert (
        EXPORT_SYSTEM_COLUMNS == (*SYSTEM_COLUMNS, "trdm_tran_code") and TRAN_CODE_COLUMN == "trdm_tran_code"
    )
    assert REMOVED_SYSTEM_COLUMNS == ("trdm_updated_at", "trdm_updated_by")
    assert HIGH_DATE == "9999-12-31T00:00:00+00"


def test_prepare_export_for_import(client, prod, tables):
    units = tables["org_unit"]
    mark = datetime.now(timezone.utc)
    only(
        upload(client, prod, units, frame([org_unit(9201, "Round Trip Unit")]), "incremental_upsert_only")[2]
    )
    export = download(client, prod, units, pattern="incremental", high_water_mark=mark)
    df = export.receive()
    df["trdm_updated_at"] = "2020-01-01"  # an older server's column goes too
    columns = list(df.columns)

    prepared = prepare_export_for_import(df)
    assert list(prepared.columns) == user_columns(units) + [TRAN_CODE_COLUMN]
    assert list(df.columns) == columns, "the input is not changed"
    assert list(prepare_export_for_import(df, keep_tran_code=False).columns) == user_columns(units)

    arrow = prepare_export_for_import(export.receive_arrow(), keep_tran_code=False)
    assert isinstance(arrow, pa.Table) and arrow.column_names == user_columns(units)

    # The export -> import round trip: change the name and apply it as a delta with its codes.
    prepared.loc[:, "name"] = "Round Trip Unit, renamed"
    result = only(upload(client, prod, units, prepared, "incremental_with_delete")[2])
    assert result.update_row_count == 1
    names = download(client, prod, units).receive().set_index("org_unit_id")["name"]
    assert names[9201] == "Round Trip Unit, renamed"
