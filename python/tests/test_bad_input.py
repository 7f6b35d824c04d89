"""The Python API's bad-input corpus: each wrong argument or frame raises (or reports) an error that says what
is wrong and where, changes nothing in TitanRDM (every table's history exports equal, no import batch created)
and shows no secret."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pytest
from conftest import CLIENT_ID, CLIENT_SECRET, running_emulator

from titan_rdm_sdk import TitanRDMClient
from titan_rdm_sdk.exceptions import TitanRDMError
from titan_rdm_sdk.spark_sync import ConventionSync

FAST = {"poll_interval": 0.05, "max_wait": 60}
WRONG_SECRET = "wrong-secret-7d1f"


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with running_emulator() as url:
        yield url


@pytest.fixture(scope="module")
def client(url: str) -> TitanRDMClient:
    return TitanRDMClient(url=url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)


@pytest.fixture(scope="module")
def frames(client: TitanRDMClient) -> dict[str, pa.Table]:
    """The dev branch's tables as downloaded (pyarrow): uploading them unchanged is valid."""
    branch = client.get_branch_by_name("dev")
    _, frames = ConventionSync(client).download_by_convention(branch.id, "Clinics", output="arrow", **FAST)
    return frames


def server_state(client: TitanRDMClient) -> list[pa.Table]:
    """Every version of every table on every branch, as TitanRDM exports it."""
    state = []
    for branch in client.get_branches():
        for table in client.get_deployed_table_definitions(branch.id):
            download = client.get_download(branch.id, table.key, include_history=True)
            assert download.wait_until_ready(**FAST) == "completed"
            state.append(download.receive_arrow())
    return state


def next_import_id(client: TitanRDMClient) -> int:
    """The id TitanRDM gives the next import batch (creating an empty one to learn it)."""
    return int(client.get_upload(client.get_branch_by_name("dev").id, description="probe").id) + 1


def without(table: pa.Table, column: str) -> pa.Table:
    return table.drop_columns([column])


def retyped(table: pa.Table, column: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(column), column, values)


def sites_upload(client: TitanRDMClient, data: Any, pattern: str = "full") -> Any:
    branch = client.get_branch_by_name("dev")
    sites = next(
        t for t in client.get_deployed_table_definitions(branch.id) if t.database_table_name == "sites"
    )
    batch = client.get_upload(branch.id, description="bad input")
    mapping = client.get_default_import_mapping(sites.id)
    return batch.get_table_upload(sites.key, mapping.key, pattern).send(data)


def convention_upload(client: TitanRDMClient, frames: dict[str, Any], **options: Any) -> list[dict[str, Any]]:
    branch = client.get_branch_by_name("dev")
    return ConventionSync(client).upload_by_convention(branch.id, "Clinics", frames, **{**FAST, **options})


def failed(results: list[dict[str, Any]]) -> str:
    """The status of the one failed table; raises if none failed (an error must never pass as success)."""
    bad = [r for r in results if r["failed"]]
    assert len(bad) == 1, results
    return str(bad[0]["status"])


# (what, the call, what its error must say); calls through TableUpload create their (empty) batch first.
Case = tuple[str, Callable[[TitanRDMClient, dict[str, pa.Table]], object], list[str]]

CASES: list[Case] = [
    (
        "a frame without a nullable column (ConventionSync)",
        lambda c, f: failed(
            convention_upload(c, {"clin_sites": without(f["clin_sites"], "phone")}, table_names=["Site"])
        ),
        ["table sites", "column phone is missing", "NULL"],
    ),
    (
        "a frame without a nullable column (TableUpload.send)",
        lambda c, f: sites_upload(c, without(f["clin_sites"], "phone"), "incremental_upsert_only"),
        ["table sites", "column phone is missing"],
    ),
    (
        "a boolean column where the definition says integer",
        lambda c, f: failed(
            convention_upload(
                c,
                {
                    "clin_sites": retyped(
                        f["clin_sites"], "bed_count", pa.array([True] * f["clin_sites"].num_rows)
                    )
                },
                table_names=["Site"],
            )
        ),
        ["table sites", "column bed_count", "Boolean", "integer"],
    ),
    (
        "text too long for its column",
        lambda c, f: failed(
            convention_upload(
                c,
                {
                    "clin_sites": retyped(
                        f["clin_sites"], "site_code", pa.array(["0" * 40] * f["clin_sites"].num_rows)
                    )
                },
                table_names=["Site"],
            )
        ),
        ["table sites", "column site_code", "row 1", "0" * 40],
    ),
    (
        "a repeated primary key",
        lambda c, f: failed(
            convention_upload(
                c,
                {"clin_sites": pa.concat_tables([f["clin_sites"], f["clin_sites"].slice(0, 1)])},
                table_names=["Site"],
            )
        ),
        ["table sites", "column site_code", "repeats the primary key of row 1"],
    ),
    (
        "a column the table does not have",
        lambda c, f: failed(
            convention_upload(
                c,
                {
                    "clin_sites": f["clin_sites"].append_column(
                        "colour", pa.array(["red"] * f["clin_sites"].num_rows)
                    )
                },
                table_names=["Site"],
            )
        ),
        ["table sites", "input column colour"],
    ),
    (
        "an empty frame under full (TableUpload.send)",
        lambda c, f: sites_upload(c, f["clin_sites"].slice(0, 0)),
        ["table sites", "no rows", "delete every record"],
    ),
    (
        "no frame for any table",
        lambda c, f: convention_upload(c, {}),
        ["nothing to upload", "clin_sites"],
    ),
    (
        "an unknown upload pattern",
        lambda c, f: convention_upload(c, {"clin_sites": f["clin_sites"]}, pattern="sideways"),
        ["pattern", "sideways"],
    ),
    (
        "an unknown table name",
        lambda c, f: convention_upload(c, {"clin_sites": f["clin_sites"]}, table_names=["Sites"]),
        ['"Sites"', "Site, Delivery Centre, Org Unit"],
    ),
    (
        "a negative max_wait",
        lambda c, f: convention_upload(c, {"clin_sites": f["clin_sites"]}, max_wait=-1.0),
        ["max_wait", "-1"],
    ),
    (
        "a domain that does not exist",
        lambda c, f: ConventionSync(c).download_by_convention(
            c.get_branch_by_name("dev").id, "Clinic", **FAST
        ),
        ["Clinic"],
    ),
    (
        "a branch id that does not exist",
        lambda c, f: ConventionSync(c).download_by_convention(9999, "Clinics", **FAST),
        ["branch 9999 does not exist"],
    ),
    (
        "an unknown download pattern",
        lambda c, f: ConventionSync(c).download_by_convention(
            c.get_branch_by_name("dev").id, "Clinics", pattern="latest", **FAST
        ),
        ["pattern", "latest"],
    ),
    (
        "a wrong client secret",
        lambda c, f: TitanRDMClient(
            url=c.url, client_id=CLIENT_ID, client_secret=WRONG_SECRET
        ).get_branches(),
        ["invalid_client"],
    ),
]


@pytest.mark.parametrize(("name", "call", "says"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_a_clear_error_that_changes_nothing(client, frames, name, call, says):
    before = server_state(client)
    first_free = next_import_id(client)
    # The batch a TableUpload case creates itself, before its file is refused: created, empty, never applied.
    own_batches = 1 if "TableUpload" in name else 0
    try:
        outcome = call(client, frames)
    except (TitanRDMError, ValueError, TypeError) as error:
        message = str(error)
        shown = message + repr(error)
    else:
        # Table-level failures come back as results; the helper returned the failed table's status.
        assert isinstance(outcome, str), f"{name}: no error: {outcome!r}"
        message = shown = outcome
    for needle in says:
        assert needle in message, f"{name}: {message!r} lacks {needle!r}"
    assert CLIENT_SECRET not in shown and WRONG_SECRET not in shown, f"{name}: a secret in {shown!r}"
    assert next_import_id(client) == first_free + 1 + own_batches, f"{name}: an import batch was created"
    assert server_state(client) == before, f"{name}: TitanRDM's data changed"
