"""The Delta warehouse that `trdm sync download` writes, read by other engines: the `deltalake` package
(delta-rs's Python binding, to pyarrow) and `polars.read_delta`.

The warehouse (`{root}/{catalog}/{schema}/{table}`, written by crates/trdm-catalog-delta) is meant to hand
reference data to other tools without a server, so a table they cannot open, or open with other types
(codes as numbers, decimals as floats, timestamps as text), is a bug. Everything expected here comes from
the Clinics fixture: the tables, their columns and TitanRDM types (fixtures/clinics.toml) and their rows
(the seed CSVs).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import CLIENT_ID, CLIENT_SECRET, FIXTURE, _trdm_binary, running_emulator

if sys.version_info >= (3, 11):
    import tomllib
else:
    tomllib = pytest.importorskip("tomli")

pa = pytest.importorskip("pyarrow")
deltalake = pytest.importorskip("deltalake")
pl = pytest.importorskip("polars")

CATALOG, SCHEMA, DOMAIN, BRANCH = "dev", "rdmin", "Clinics", "prod"

# The system columns of every downloaded table, after the table's own columns: (name, TitanRDM type,
# nullable), as crates/trdm-sync/src/schema.rs declares them.
SYSTEM_COLUMNS = [
    ("trdm_sk", "bigint", False),
    ("trdm_record_id", "bigint", False),
    ("trdm_state", "text", False),
    ("trdm_created_at", "timestamptz", False),
    ("trdm_effective_from", "timestamptz", False),
    ("trdm_effective_to", "timestamptz", False),
    ("trdm_is_deleted", "boolean", False),
    ("trdm_actor_type", "text", False),
    ("trdm_actor_id", "bigint", True),
    ("trdm_tran_code", "text", True),
]

TEXT_TYPES = {"varchar", "text", "character"}


def _fixture() -> dict[str, Any]:
    with FIXTURE.open("rb") as f:
        return tomllib.load(f)


def _domain_tables() -> list[dict[str, Any]]:
    """The fixture's tables of DOMAIN deployed on BRANCH: what a download of the domain writes."""
    fixture = _fixture()
    abbreviation = next(d["abbreviation"] for d in fixture["domains"] if d["name"] == DOMAIN)
    tables = [t for t in fixture["tables"] if t["domain"] == DOMAIN and BRANCH in t.get("branches", [])]
    assert tables, "the fixture has no table to download"
    return [{**t, "target": f"{abbreviation}_{t['database_table_name']}"} for t in tables]


TABLES = _domain_tables()


def _columns(table: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(name, TitanRDM type, nullable) of every column of the downloaded table, in order."""
    own = [
        (c["name"], c["data_type"], not (c.get("required", False) or c.get("primary_key", False)))
        for c in table["columns"]
    ]
    return own + SYSTEM_COLUMNS


def _arrow_type(column: dict[str, Any] | str) -> Any:  # noqa: ANN401
    """The Arrow type a column of this TitanRDM type must have in the warehouse."""
    data_type = column if isinstance(column, str) else column["data_type"]
    if data_type in TEXT_TYPES:
        return pa.string()
    simple = {
        "smallint": pa.int16(),
        "integer": pa.int32(),
        "bigint": pa.int64(),
        "boolean": pa.bool_(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us"),
        "timestamptz": pa.timestamp("us", tz="UTC"),
    }
    if data_type in simple:
        return simple[data_type]
    if data_type == "decimal":
        assert isinstance(column, dict)
        return pa.decimal128(column["precision"], column.get("scale", 0))
    raise AssertionError(f"no expectation for TitanRDM type {data_type!r}: extend this test")


def _polars_type(column: dict[str, Any] | str) -> Any:  # noqa: ANN401
    """The Polars dtype of the same column."""
    data_type = column if isinstance(column, str) else column["data_type"]
    if data_type in TEXT_TYPES:
        return pl.String
    simple = {
        "smallint": pl.Int16,
        "integer": pl.Int32,
        "bigint": pl.Int64,
        "boolean": pl.Boolean,
        "date": pl.Date,
        "timestamp": pl.Datetime("us"),
        "timestamptz": pl.Datetime("us", "UTC"),
    }
    if data_type in simple:
        return simple[data_type]
    if data_type == "decimal":
        assert isinstance(column, dict)
        return pl.Decimal(column["precision"], column.get("scale", 0))
    raise AssertionError(f"no expectation for TitanRDM type {data_type!r}: extend this test")


def _expected_types(table: dict[str, Any], of: Any) -> dict[str, Any]:  # noqa: ANN401
    """Column name → expected type, by `of` (`_arrow_type` or `_polars_type`)."""
    types = {c["name"]: of(c) for c in table["columns"]}
    types.update({name: of(data_type) for name, data_type, _ in SYSTEM_COLUMNS})
    return types


def _seed_rows(table: dict[str, Any]) -> list[dict[str, str]]:
    with (FIXTURE.parent / table["seed_csv"]).open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _parse(column: dict[str, Any], text: str) -> Any:  # noqa: ANN401
    """A seed CSV value as the Python value the readers must return. An empty field is NULL, except in
    text columns, where the csv module cannot tell `""` from NULL (the caller accepts both)."""
    data_type = column["data_type"]
    if data_type in TEXT_TYPES:
        return text
    if text == "":
        return None
    if data_type in {"smallint", "integer", "bigint"}:
        return int(text)
    if data_type == "decimal":
        return Decimal(text)
    if data_type == "boolean":
        return {"true": True, "false": False}[text]
    if data_type == "date":
        return date.fromisoformat(text)
    if data_type == "timestamptz":
        # `2021-12-21T21:15:00+00`: Python < 3.11 only parses a `+HH:MM` offset.
        return datetime.fromisoformat(text + ":00" if text[-3] in "+-" else text)
    raise AssertionError(f"no parser for TitanRDM type {data_type!r}: extend this test")


def _assert_rows_match_seed(table: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """Every row read equals the seed CSV row with the same primary key, column by column."""
    key = next(c["name"] for c in table["columns"] if c.get("primary_key"))
    seed = _seed_rows(table)
    by_key = {row[key]: row for row in rows}
    assert len(by_key) == len(rows), f"{table['target']}: duplicate {key}"
    columns = {c["name"]: c for c in table["columns"]}
    key_type = columns[key]
    assert sorted(map(str, by_key)) == sorted(str(_parse(key_type, r[key])) for r in seed)
    for seed_row in seed:
        row = by_key[_parse(key_type, seed_row[key])]
        for name, text in seed_row.items():
            expected, actual = _parse(columns[name], text), row[name]
            if columns[name]["data_type"] in TEXT_TYPES and text == "":
                assert actual in ("", None), (table["target"], seed_row[key], name, actual)
            else:
                assert actual == expected, (table["target"], seed_row[key], name, actual, expected)
                assert type(actual) is type(expected) or expected is None, (name, type(actual))
        assert row["trdm_state"] == "C" and row["trdm_is_deleted"] is False, row
        assert row["trdm_record_id"] is not None and row["trdm_created_at"] is not None, row


def _sync_download(url: str, warehouse: Path) -> dict[str, Any]:
    """`trdm sync download` of the whole domain into `warehouse`; its JSON report."""
    process = subprocess.run(
        [
            str(_trdm_binary()),
            "sync",
            "download",
            "--url",
            url,
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            CLIENT_SECRET,
            "--branch",
            BRANCH,
            "--catalog",
            CATALOG,
            "--schema",
            SCHEMA,
            "--domain",
            DOMAIN,
            "--warehouse",
            str(warehouse),
            "--output",
            "json",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.returncode == 0, f"trdm sync download exited {process.returncode}:\n{process.stderr}"
    report = json.loads(process.stdout)
    assert {t["target"]: t["status"] for t in report["tables"]} == {
        f"{CATALOG}.{SCHEMA}.{t['target']}": "success" for t in TABLES
    }
    return report


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    """An emulator of its own: the shared one may have been changed by upload tests."""
    with running_emulator() as url:
        yield url


@pytest.fixture(scope="module")
def warehouse(emulator: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("delta-warehouse")
    report = _sync_download(emulator, root)
    assert {t["target"]: t["rows"] for t in report["tables"]} == {
        f"{CATALOG}.{SCHEMA}.{t['target']}": len(_seed_rows(t)) for t in TABLES
    }
    return root


def _path(warehouse: Path, table: dict[str, Any]) -> Path:
    return warehouse / CATALOG / SCHEMA / table["target"]


def test_the_warehouse_has_the_documented_layout(warehouse):
    for table in TABLES:
        assert (_path(warehouse, table) / "_delta_log" / "00000000000000000000.json").is_file()
    assert sorted(p.name for p in (warehouse / CATALOG / SCHEMA).iterdir()) == sorted(
        t["target"] for t in TABLES
    )


@pytest.mark.parametrize("table", TABLES, ids=[t["target"] for t in TABLES])
def test_deltalake_reads_every_table_with_the_declared_types(warehouse, table):
    dt = deltalake.DeltaTable(str(_path(warehouse, table)))
    assert dt.version() == 0
    data = dt.to_pyarrow_table()

    assert data.num_rows == len(_seed_rows(table))
    assert data.column_names == [name for name, _, _ in _columns(table)]
    assert {f.name: f.type for f in data.schema} == _expected_types(table, _arrow_type)
    nullable = {name: nullable for name, _, nullable in _columns(table)}
    assert {f.name: f.nullable for f in data.schema} == nullable
    # Column descriptions travel as the Delta field metadata `comment` (Spark's column comments).
    for column in table["columns"]:
        assert data.schema.field(column["name"]).metadata[b"comment"] == column["description"].encode()

    _assert_rows_match_seed(table, data.to_pylist())


@pytest.mark.parametrize("table", TABLES, ids=[t["target"] for t in TABLES])
def test_polars_reads_every_table_with_the_declared_types(warehouse, table):
    df = pl.read_delta(str(_path(warehouse, table)))

    assert df.height == len(_seed_rows(table))
    assert df.columns == [name for name, _, _ in _columns(table)]
    assert dict(df.schema) == _expected_types(table, _polars_type)

    _assert_rows_match_seed(table, df.to_dicts())


def test_codes_stay_text_with_their_leading_zeros(warehouse):
    """The fixture's codes look numeric (`0001`, `0850`, `00001`, `00008225`): both readers get them as text,
    zeros and all."""
    sites = deltalake.DeltaTable(str(warehouse / CATALOG / SCHEMA / "clin_sites")).to_pyarrow_table()
    assert sites.schema.field("site_code").type == pa.string()
    assert "0001" in sites.column("site_code").to_pylist()
    assert "0850" in sites.column("postcode").to_pylist()
    org_units = pl.read_delta(str(warehouse / CATALOG / SCHEMA / "clin_org_unit"))
    assert org_units.schema["org_unit_code"] == pl.String
    assert "00001" in org_units["org_unit_code"].to_list()
    assert "00008225" in org_units["cost_centre"].to_list()

    site = next(row for row in sites.to_pylist() if row["site_code"] == "0001")
    assert site["annual_budget"] == Decimal("23006650.89") and isinstance(site["annual_budget"], Decimal)
    assert site["last_inspected_at"] == datetime.fromisoformat("2021-12-21T21:15:00+00:00")


def test_a_second_download_replaces_the_rows_in_one_readable_commit(emulator, tmp_path):
    """A repeated full download is one commit that removes every file of the first: both readers see the
    new version only, with the same rows and types."""
    _sync_download(emulator, tmp_path)
    _sync_download(emulator, tmp_path)
    for table in TABLES:
        path = str(_path(tmp_path, table))
        dt = deltalake.DeltaTable(path)
        assert dt.version() == 1
        data = dt.to_pyarrow_table()
        assert data.num_rows == len(_seed_rows(table))
        assert {f.name: f.type for f in data.schema} == _expected_types(table, _arrow_type)
        df = pl.read_delta(path)
        assert df.height == len(_seed_rows(table))
        assert dict(df.schema) == _expected_types(table, _polars_type)
        assert deltalake.DeltaTable(path, version=0).to_pyarrow_table().num_rows == len(_seed_rows(table))
