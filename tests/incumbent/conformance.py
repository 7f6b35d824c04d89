#!/usr/bin/env python3
"""Incumbent conformance checks: the public Python SDK titan-rdm-sdk 2.0.0,
used unchanged, against a TitanRDM-compatible server (the trdm emulator).

Run through scripts/incumbent-conformance.sh, which starts a fresh emulator
loaded with fixtures/clinics.toml and sets TITAN_URL. Prints one line per
check and ends with "N passed, M failed"; exits 1 if any check failed.

Mutating checks run on the `dev` branch; `prod` must stay as seeded.

What is asserted is what the wire protocol guarantees
(shared/titanrdm-protocol.md). The incumbent round-trips data through pandas,
whose type guessing drifts (codes with leading zeros become ints, integer
columns with NULLs become floats, an empty string becomes NULL). Where that
drift would corrupt an upload, the frames sent here are built from the raw
CSV read as text instead; each such place says so.
"""

from __future__ import annotations

import io
import os
import re
import sys
import time
import tomllib
import traceback
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import requests

from titan_rdm_sdk import (
    EXPORT_SYSTEM_COLUMNS,
    HIGH_DATE,
    APIError,
    AuthenticationError,
    ConventionSync,
    TitanRDMClient,
    ValidationError,
    prepare_export_for_import,
)

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_PATH = ROOT / "fixtures" / "clinics.toml"
URL = os.environ.get("TITAN_URL", "").rstrip("/")
CLIENT_ID, CLIENT_SECRET = "demo-client", "demo-secret"
READER_ID, READER_SECRET = "reader-client", "reader-secret"

POLL = 0.1           # seconds between export polls (emulator export delay is 0.2 s)
MAX_WAIT = 60.0      # per export / import
TERMINAL_IMPORT = ("completed", "completed_with_errors", "failed")
TERMINAL_TABLE = ("completed", "failed")

# --------------------------------------------------------------------------
# Check bookkeeping
# --------------------------------------------------------------------------

PASSED = 0
FAILED = 0


def check(name: str, ok: Any, detail: Any = "") -> bool:
    """Record one check; print PASS/FAIL with the detail on failure."""
    global PASSED, FAILED
    if ok:
        PASSED += 1
        print(f"PASS {name}", flush=True)
    else:
        FAILED += 1
        extra = f" -- {detail}" if detail not in ("", None) else ""
        print(f"FAIL {name}{extra}", flush=True)
    return bool(ok)


def _describe(got: Any, expected: Any, limit: int = 800) -> str:
    if isinstance(got, dict) and isinstance(expected, dict):
        keys = sorted(set(got) | set(expected), key=str)
        parts = [f"{k!r}: expected {expected.get(k, '<absent>')!r}, got {got.get(k, '<absent>')!r}"
                 for k in keys if got.get(k, "<absent>") != expected.get(k, "<absent>")]
        text = "; ".join(parts)
    else:
        text = f"expected {expected!r}, got {got!r}"
    return text if len(text) <= limit else text[:limit] + " ..."


def check_eq(name: str, got: Any, expected: Any) -> bool:
    return check(name, got == expected, _describe(got, expected))


def section(title: str, fn: Callable[[], Any]) -> Any:
    """Run a group of checks; an exception fails the group and is reported."""
    print(f"== {title}", flush=True)
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - report and carry on
        detail = f"{type(e).__name__}: {e}"
        status = getattr(e, "status_code", None)
        if status is not None:
            detail += f" (HTTP {status})"
        check(f"{title}: ran without an exception", False, detail)
        traceback.print_exc(limit=3, file=sys.stdout)
        return None


def info(text: str) -> None:
    print(f"     {text}", flush=True)


# --------------------------------------------------------------------------
# Raw CSV: RFC 4180 reader that keeps NULL (empty unquoted) apart from ""
# --------------------------------------------------------------------------

def parse_csv(text: str) -> tuple[list[str], list[dict[str, str | None]]]:
    records: list[list[str | None]] = []
    record: list[str | None] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] == '"':
            i += 1
            buf = []
            while True:
                j = text.index('"', i)
                buf.append(text[i:j])
                if j + 1 < n and text[j + 1] == '"':
                    buf.append('"')
                    i = j + 2
                    continue
                i = j + 1
                break
            record.append("".join(buf))
        else:
            j = i
            while j < n and text[j] not in ",\r\n":
                j += 1
            raw = text[i:j]
            record.append(raw if raw != "" else None)
            i = j
        if i >= n:
            break
        if text[i] == ",":
            i += 1
            if i >= n or text[i] in "\r\n":
                record.append(None)
        if i < n and text[i] == "\r":
            i += 1
        if i < n and text[i] == "\n":
            records.append(record)
            record = []
            i += 1
    if record:
        records.append(record)
    header = [h or "" for h in records[0]] if records else []
    rows = []
    for rec in records[1:]:
        if len(rec) != len(header):
            raise ValueError(f"CSV row has {len(rec)} fields, header has {len(header)}: {rec!r}")
        rows.append(dict(zip(header, rec)))
    return header, rows


def fetch_raw(download) -> tuple[list[str], list[dict[str, str | None]]]:
    """GET the export file behind a completed Download and parse it as text."""
    response = requests.get(download.download_url, timeout=60)
    response.raise_for_status()
    return parse_csv(response.content.decode("utf-8"))


def fetch_text_frame(download) -> pd.DataFrame:
    """The export file read with every column as text (no pandas type guessing)."""
    response = requests.get(download.download_url, timeout=60)
    response.raise_for_status()
    return pd.read_csv(io.StringIO(response.content.decode("utf-8")), dtype=str, keep_default_na=False)


# --------------------------------------------------------------------------
# Fixture and typed comparison
# --------------------------------------------------------------------------

FIXTURE = tomllib.loads(FIXTURE_PATH.read_text(encoding="utf-8"))
TABLES = {t["name"]: t for t in FIXTURE["tables"]}


def columns_of(table: str) -> list[dict]:
    return TABLES[table]["columns"]


def user_columns(table: str) -> list[str]:
    return [c["name"] for c in columns_of(table)]


def pk_columns(table: str) -> list[str]:
    return [c["name"] for c in columns_of(table) if c.get("primary_key")]


def seed_rows(table: str) -> list[dict[str, str | None]]:
    path = FIXTURE_PATH.parent / TABLES[table]["seed_csv"]
    return parse_csv(path.read_text(encoding="utf-8"))[1]


def pk_of(table: str, row: dict) -> tuple:
    return tuple(row[c] for c in pk_columns(table))


def parse_ts(text: str) -> datetime:
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment


def typed(data_type: str, value: str | None) -> Any:
    """Normalise a CSV text value of a column type for comparison."""
    if value is None:
        return None
    if data_type in ("smallint", "integer", "bigint"):
        return int(value)
    if data_type == "decimal":
        return Decimal(value)
    if data_type == "boolean":
        return {"true": True, "t": True, "false": False, "f": False}.get(value.strip().lower(), value)
    if data_type == "timestamptz":
        return parse_ts(value)
    return value  # text types and dates compare as text


def row_diffs(table: str, got: dict, expected: dict) -> list[str]:
    diffs = []
    for col in columns_of(table):
        name = col["name"]
        try:
            same = typed(col["data_type"], got.get(name)) == typed(col["data_type"], expected.get(name))
        except (ValueError, InvalidOperation):
            same = False
        if not same:
            diffs.append(f"{name}: expected {expected.get(name)!r}, got {got.get(name)!r}")
    return diffs


def compare_table(name: str, table: str, got_rows: list[dict], expected_rows: list[dict]) -> None:
    """Same records (by primary key) with the same typed user-column values."""
    got = {pk_of(table, r): r for r in got_rows}
    exp = {pk_of(table, r): r for r in expected_rows}
    missing = sorted(set(exp) - set(got))[:5]
    extra = sorted(set(got) - set(exp))[:5]
    check(f"{name}: same primary keys", not missing and not extra, f"missing {missing}, unexpected {extra}")
    diffs = []
    for key in sorted(set(got) & set(exp)):
        for d in row_diffs(table, got[key], exp[key]):
            diffs.append(f"{key}: {d}")
    check(f"{name}: every value equal (typed)", not diffs, "; ".join(diffs[:5]) + (f" (+{len(diffs) - 5} more)" if len(diffs) > 5 else ""))


def text_frame(table: str, rows: list[dict], extra_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    # Built from text values, so pandas writes them back byte for byte
    # (an empty string would still be written as NULL: pandas cannot tell them apart).
    cols = user_columns(table) + list(extra_columns)
    return pd.DataFrame([{c: r.get(c) for c in cols} for r in rows], columns=cols, dtype=object)


# --------------------------------------------------------------------------
# SDK helpers
# --------------------------------------------------------------------------

class RecordingClient(TitanRDMClient):
    """The incumbent client, unchanged, plus a record of the downloads and
    uploads it creates (so ConventionSync's exports can be re-read as text)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.downloads: list[Any] = []
        self.uploads: list[Any] = []
        super().__init__(*args, **kwargs)

    def get_download(self, *args: Any, **kwargs: Any):
        download = super().get_download(*args, **kwargs)
        self.downloads.append(download)
        return download

    def get_upload(self, *args: Any, **kwargs: Any):
        upload = super().get_upload(*args, **kwargs)
        self.uploads.append(upload)
        return upload


def download(client: TitanRDMClient, branch_id: int, key: str, **kwargs: Any):
    d = client.get_download(branch_id, key, **kwargs)
    d.wait_until_ready(poll_interval=POLL, max_wait=MAX_WAIT)
    return d


def wait_for_import(upload) -> list:
    """Poll GET /api/v1/imports/{id} until the batch and its tables are done."""
    deadline = time.time() + MAX_WAIT
    while True:
        results = upload.get_results()
        done = upload.status in TERMINAL_IMPORT and all(r.status in TERMINAL_TABLE for r in results)
        if done or time.time() > deadline:
            return results
        time.sleep(POLL)


def run_upload(client: TitanRDMClient, branch_id: int, table_def, mapping_key: str, pattern: str,
               frame: pd.DataFrame, label: str, validate_data: bool = True):
    upload = client.get_upload(branch_id, description=f"conformance: {label}", correlation_code=f"conf-{label}")
    table_upload = upload.get_table_upload(table_def.key, mapping_key, pattern,
                                           correlation_code=f"conf-{label}-t", validate_data=validate_data)
    table_upload.send(frame)
    upload.complete(message=f"conformance {label} done")
    results = wait_for_import(upload)
    return upload, results


def check_counts(name: str, upload, results: list, insert: int, update: int, delete: int) -> None:
    check_eq(f"{name}: import status", upload.status, "completed")
    if not check_eq(f"{name}: one table result", len(results), 1):
        return
    r = results[0]
    check_eq(f"{name}: table status", r.status, "completed")
    got = (r.insert_row_count, r.update_row_count, r.delete_row_count)
    check_eq(f"{name}: insert/update/delete counts", got, (insert, update, delete))
    got_batch = (upload.insert_row_count, upload.update_row_count, upload.delete_row_count)
    check_eq(f"{name}: batch insert/update/delete counts", got_batch, (insert, update, delete))


def current_rows(client: TitanRDMClient, branch_id: int, key: str) -> tuple[list[str], list[dict]]:
    return fetch_raw(download(client, branch_id, key))


# --------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------

CTX: dict[str, Any] = {}


def s_auth() -> None:
    client = RecordingClient(URL, CLIENT_ID, CLIENT_SECRET)
    check("auth: client credentials token for demo-client", client.access_token)
    CTX["client"] = client
    try:
        TitanRDMClient(URL, CLIENT_ID, "wrong-secret")
        check("auth: wrong secret rejected", False, "token issued for a wrong secret")
    except AuthenticationError:
        check("auth: wrong secret rejected", True)


def s_metadata() -> None:
    client = CTX["client"]
    prod = client.get_branch_by_name("prod")
    check_eq("branches: get_branch_by_name('prod').name", prod.name, "prod")
    check_eq("branches: prod branch_type", prod.branch_type, "shared")
    check_eq("branches: prod description", prod.description, "Production")
    dev = client.get_branch_by_name("dev")
    check_eq("branches: get_branch_by_name('dev').name", dev.name, "dev")
    check_eq("branches: dev branch_type", dev.branch_type, "private")
    check_eq("branches: dev parent", (dev.parent_branch_id, dev.parent_branch_name), (prod.id, "prod"))
    check_eq("branches: dev owner", (dev.owner_id, dev.owner_email), (1, "developer@clinics.example"))
    check_eq("branches: dev is_default_dev_branch", dev.is_default_dev_branch, True)
    check("branches: prod and dev ids differ", prod.id != dev.id, f"both {prod.id}")
    check_eq("branches: get_branch(prod.id).name", client.get_branch(prod.id).name, "prod")
    check_eq("branches: get_branches() names", sorted(b.name for b in client.get_branches()), ["dev", "prod"])
    try:
        client.get_branch_by_name("no-such-branch")
        check("branches: unknown name finds nothing (q=name:eq:)", False, "a branch was returned")
    except ValidationError:
        check("branches: unknown name finds nothing (q=name:eq:)", True)
    CTX["prod"], CTX["dev"] = prod, dev

    domain = client.get_domain_by_name("Clinics")
    check_eq("domains: get_domain_by_name('Clinics').abbreviation", domain.abbreviation, "clin")
    check_eq("domains: get_domain(id).name", client.get_domain(domain.id).name, "Clinics")
    try:
        client.get_domain_by_name("Clin")
        check("domains: name filter is exact", False, "'Clin' matched a domain")
    except ValidationError:
        check("domains: name filter is exact", True)
    CTX["domain"] = domain

    for branch in (prod, dev):
        tables = client.get_deployed_table_definitions(branch.id, domain.id)
        by_name = {t.name: t for t in tables}
        check_eq(f"tables[{branch.name}]: deployed table names", sorted(by_name), sorted(TABLES))
        for name, spec in TABLES.items():
            t = by_name.get(name)
            if t is None:
                continue
            check_eq(f"tables[{branch.name}]: {name} database_table_name", t.database_table_name, spec["database_table_name"])
            pks = [c.name for c in t.column_definitions if c.is_primary_key and not c.is_deleted]
            check_eq(f"tables[{branch.name}]: {name} primary key", pks, pk_columns(name))
            cols = sorted((c for c in t.column_definitions if not c.is_deleted),
                          key=lambda c: (c.display_order is None, c.display_order))
            got = [(c.name, c.data_type, c.length if c.data_type == "varchar" else None, bool(c.is_required)) for c in cols]
            exp = [(c["name"], c["data_type"], c.get("length") if c["data_type"] == "varchar" else None,
                    bool(c.get("required", False))) for c in spec["columns"]]
            check_eq(f"tables[{branch.name}]: {name} columns (name, type, length, required) in display order", got, exp)
            check_eq(f"tables[{branch.name}]: {name} domain/branch", (t.domain_abbreviation, t.branch_id), ("clin", branch.id))
        CTX[f"tables_{branch.name}"] = by_name

    site_prod, site_dev = CTX["tables_prod"]["Site"], CTX["tables_dev"]["Site"]
    check_eq("tables: a table keeps its key across branches", site_dev.key, site_prod.key)
    looked_up = client.get_deployed_table_definition(site_prod.key, dev.id)
    check_eq("tables: lookup(key, dev) -> Site on dev", (looked_up.name, looked_up.branch_id), ("Site", dev.id))
    check_eq("tables: lookup returns the listed deployed id", looked_up.id, site_dev.id)

    mappings = {}
    for name, t in CTX["tables_dev"].items():
        m = client.get_default_import_mapping(t.id)
        check(f"mappings: {name} default mapping on dev", m.key and m.is_default, f"{m!r}")
        again = client.get_import_mapping_by_key(t.id, m.key)
        check_eq(f"mappings: {name} get_import_mapping_by_key", again.key, m.key)
        mappings[name] = m.key
    CTX["mappings"] = mappings


def s_full_download_prod() -> None:
    client, prod = CTX["client"], CTX["prod"]
    site = CTX["tables_prod"]["Site"]
    d = client.get_download(prod.id, site.key, correlation_code="conf-full-site")
    info(f"export {d.id} created with status {d.status!r}")
    status = d.wait_until_ready(poll_interval=POLL, max_wait=MAX_WAIT)
    check_eq("download: Site on prod wait_until_ready", status, "completed")
    df = d.receive(bool_columns=["is_active"])
    seed = seed_rows("Site")
    check_eq("download: Site row count = seed", len(df), len(seed))
    check_eq("download: Site columns = user columns then the 10 system columns",
             list(df.columns), user_columns("Site") + list(EXPORT_SYSTEM_COLUMNS))
    check_eq("download: rows_exported", d.rows_exported, len(seed))
    check_eq("download: files_exported / compressed", (d.files_exported, d.compressed), (1, False))
    check("download: complete_datetime set", d.completed_datetime, d.completed_datetime)
    check_eq("download: correlation_code echoed", d.correlation_code, "conf-full-site")
    check("download: is_active parsed as booleans", set(df["is_active"].unique()) <= {True, False}, df["is_active"].unique())
    check("download: trdm_is_deleted all False", (df["trdm_is_deleted"] == False).all(), df["trdm_is_deleted"].unique())  # noqa: E712
    check("download: trdm_state all C", (df["trdm_state"] == "C").all(), df["trdm_state"].unique())
    check("download: trdm_effective_to = HIGH_DATE",
          all(parse_ts(v) == parse_ts(HIGH_DATE) for v in df["trdm_effective_to"]), df["trdm_effective_to"].unique()[:3])
    check("download: trdm_tran_code empty in a plain full export", df["trdm_tran_code"].isna().all(),
          df["trdm_tran_code"].unique()[:3])
    check("download: trdm_sk unique", df["trdm_sk"].is_unique)
    check("download: trdm_record_id unique", df["trdm_record_id"].is_unique)
    # pandas' type guessing: recorded, not asserted (it is the incumbent's behaviour, not the server's)
    info(f"incumbent drift: site_code read as {df['site_code'].dtype}, postcode as {df['postcode'].dtype}, "
         f"bed_count as {df['bed_count'].dtype}")

    header, raw = fetch_raw(d)
    check_eq("download: raw header", header, user_columns("Site") + list(EXPORT_SYSTEM_COLUMNS))
    compare_table("download: Site raw values vs seed", "Site", raw, seed)
    check("download: site_code keeps leading zeros on the wire", any(r["site_code"] == "0001" for r in raw))
    check("download: postcode keeps leading zeros on the wire", any(r["postcode"] == "0800" for r in raw))

    for name in ("Delivery Centre", "Org Unit"):
        t = CTX["tables_prod"][name]
        header, raw = current_rows(client, prod.id, t.key)
        check_eq(f"download: {name} raw header", header, user_columns(name) + list(EXPORT_SYSTEM_COLUMNS))
        compare_table(f"download: {name} raw values vs seed", name, raw, seed_rows(name))
        if name == "Delivery Centre":
            notes = {r["centre_code"]: r["notes"] for r in raw}
            seed_notes = {r["centre_code"]: r["notes"] for r in seed_rows(name)}
            check_eq("download: notes keep NULL vs empty string vs newlines vs non-ASCII", notes, seed_notes)
            pops = {r["centre_code"]: r["catchment_population"] for r in raw}
            check_eq("download: bigint > 2^31 exact", pops.get("DC029"), "7900000000")


def s_uploads() -> None:
    client, dev = CTX["client"], CTX["dev"]
    site = CTX["tables_dev"]["Site"]
    mkey = CTX["mappings"]["Site"]
    seed = seed_rows("Site")
    codes = [r["site_code"] for r in seed]
    by_code = {r["site_code"]: dict(r) for r in seed}
    expected = {c: dict(r) for c, r in by_code.items()}  # what dev Site should hold

    def new_site(code: str, name: str) -> dict:
        row = dict(by_code[codes[-1]])
        row.update(site_code=code, site_name=name, postcode="0870", bed_count=None,
                   last_inspected_at="2024-07-01T08:00:00+00")
        return row

    def verify(label: str, upload=None, changed: tuple[str, ...] = ()) -> list[dict]:
        _, raw = current_rows(client, dev.id, site.key)
        compare_table(f"{label}: dev Site after import", "Site", raw, list(expected.values()))
        if upload is not None:
            actors = sorted({(r["trdm_actor_type"], r["trdm_actor_id"]) for r in raw if r["site_code"] in changed})
            check_eq(f"{label}: changed rows carry trdm_actor_type I and trdm_actor_id = import id",
                     actors, [("I", str(upload.id))])
        return raw

    # 1. incremental_upsert_only: change 2 rows, add 1 -> update 2, insert 1.
    a, b = dict(by_code[codes[0]]), dict(by_code[codes[1]])
    a["site_name"] += " (Renamed)"
    b["bed_count"] = "77"
    b["annual_budget"] = "1000000.50"
    n1 = new_site("10001", "Tennant Creek Remote Clinic")
    up, res = run_upload(client, dev.id, site, mkey, "incremental_upsert_only", text_frame("Site", [a, b, n1]), "upsert")
    check_counts("upload incremental_upsert_only (2 changed + 1 new)", up, res, insert=1, update=2, delete=0)
    check_eq("upload incremental_upsert_only: result pattern", res[0].pattern if res else None, "incremental_upsert_only")
    expected.update({a["site_code"]: a, b["site_code"]: b, "10001": n1})
    verify("upload incremental_upsert_only", up, (a["site_code"], b["site_code"], "10001"))
    CTX["renamed_code"] = a["site_code"]

    # 2. legacy incremental: 1 changed, 1 identical (skipped, not counted), 1 new.
    c, same = dict(by_code[codes[2]]), dict(by_code[codes[3]])
    c["phone"] = "08 8951 0000"
    n2 = new_site("10002", "Yuendumu Outreach Clinic")
    up, res = run_upload(client, dev.id, site, mkey, "incremental", text_frame("Site", [c, same, n2]), "legacy")
    check_counts("upload incremental (legacy; 1 changed + 1 identical + 1 new)", up, res, insert=1, update=1, delete=0)
    expected.update({c["site_code"]: c, "10002": n2})
    raw = verify("upload incremental (legacy)", up, (c["site_code"], "10002"))

    # High-water mark for the incremental export below: the newest version
    # written so far (server clock, so no client/server skew). Exclusive.
    CTX["hwm"] = max(parse_ts(r["trdm_created_at"]) for r in raw)

    # 3. incremental_with_delete: d deletes, U (upper case) updates, ' i ' inserts.
    gone, upd = dict(by_code[codes[4]]), dict(by_code[codes[5]])
    upd["is_active"] = "false" if upd["is_active"] == "true" else "true"
    upd["latitude"] = "-12.400001"
    n3 = new_site("10003", "Borroloola Health Centre")
    rows = [dict(gone, trdm_tran_code="d"), dict(upd, trdm_tran_code="U"), dict(n3, trdm_tran_code=" i ")]
    frame = text_frame("Site", rows, extra_columns=("trdm_tran_code",))
    up, res = run_upload(client, dev.id, site, mkey, "incremental_with_delete", frame, "withdelete")
    check_counts("upload incremental_with_delete (d + U + ' i ')", up, res, insert=1, update=1, delete=1)
    del expected[gone["site_code"]]
    expected.update({upd["site_code"]: upd, "10003": n3})
    raw = verify("upload incremental_with_delete", up, (upd["site_code"], "10003"))

    # 4. full: the current table minus one record -> that record tombstoned.
    dropped = codes[6]
    frame_rows = [r for r in raw if r["site_code"] != dropped]
    up, res = run_upload(client, dev.id, site, mkey, "full", text_frame("Site", frame_rows), "full")
    check_counts("upload full (one record missing)", up, res, insert=0, update=0, delete=1)
    del expected[dropped]
    verify("upload full")
    CTX["site_changes"] = {"deleted": [gone["site_code"], dropped], "updated": [upd["site_code"]], "inserted": ["10003"]}
    CTX["site_expected_count"] = len(expected)

    # 5. full on Org Unit (allow_manual_rows = true): absent records are kept.
    org = CTX["tables_dev"]["Org Unit"]
    _, org_raw = current_rows(client, dev.id, org.key)
    kept = [r for r in org_raw if r["org_unit_id"] != "120"]
    up, res = run_upload(client, dev.id, org, CTX["mappings"]["Org Unit"], "full", text_frame("Org Unit", kept), "full-org")
    check_counts("upload full on Org Unit (allow_manual_rows; one record missing)", up, res, insert=0, update=0, delete=0)
    _, org_after = current_rows(client, dev.id, org.key)
    check("upload full on Org Unit: absent record kept", any(r["org_unit_id"] == "120" for r in org_after))

    # 6. A file that fails validation changes nothing (one transaction per file).
    bad, ok_change = dict(by_code[codes[8]]), dict(by_code[codes[9]])
    bad["site_name"] = "X" * 101                       # varchar(100)
    ok_change["site_name"] += " (should not land)"
    up, res = run_upload(client, dev.id, site, mkey, "incremental_upsert_only",
                         text_frame("Site", [ok_change, bad]), "toolong")
    info(f"server message: {res[0].message if res else None!r}")
    check_eq("upload too-long varchar: table failed", res[0].status if res else None, "failed")
    check("upload too-long varchar: message names the column",
          res and res[0].message and "site_name" in res[0].message, res[0].message if res else None)
    check_eq("upload too-long varchar: batch failed", up.status, "failed")
    verify("upload too-long varchar (nothing applied)")

    centre = CTX["tables_dev"]["Delivery Centre"]
    dc = seed_rows("Delivery Centre")
    dup = [dict(dc[0]), dict(dc[0], centre_name="Duplicate")]
    # validate_data=False: the SDK would refuse this frame itself; the point is the server's answer.
    up, res = run_upload(client, dev.id, centre, CTX["mappings"]["Delivery Centre"], "incremental_upsert_only",
                         text_frame("Delivery Centre", dup), "dupkey", validate_data=False)
    info(f"server message: {res[0].message if res else None!r}")
    check_eq("upload duplicate primary key: table failed", res[0].status if res else None, "failed")
    check_eq("upload duplicate primary key: counts zero",
             (res[0].insert_row_count or 0, res[0].update_row_count or 0, res[0].delete_row_count or 0) if res else None,
             (0, 0, 0))
    tran = text_frame("Site", [dict(by_code[codes[10]], trdm_tran_code="u")], extra_columns=("trdm_tran_code",))
    up, res = run_upload(client, dev.id, site, mkey, "incremental_upsert_only", tran, "trancode", validate_data=False)
    info(f"server message: {res[0].message if res else None!r}")
    check_eq("upload trdm_tran_code with incremental_upsert_only: table failed", res[0].status if res else None, "failed")


def s_incremental_download() -> None:
    client, dev = CTX["client"], CTX["dev"]
    site = CTX["tables_dev"]["Site"]
    changes = CTX["site_changes"]
    d = download(client, dev.id, site.key, pattern="incremental", high_water_mark=CTX["hwm"])
    df = d.receive()
    info(f"high_water_mark sent: {d.high_water_mark}")
    header, raw = fetch_raw(d)
    got = {r["site_code"]: r["trdm_tran_code"] for r in raw}
    exp = {c: "d" for c in changes["deleted"]}
    exp.update({c: "u" for c in changes["updated"]})
    exp.update({c: "i" for c in changes["inserted"]})
    check_eq("incremental download: only records changed after the HWM, with tran codes", got, exp)
    check_eq("incremental download: frame row count", len(df), len(exp))
    tomb = [r for r in raw if r["trdm_tran_code"] == "d"]
    check("incremental download: tombstones flagged trdm_is_deleted",
          tomb and all(r["trdm_is_deleted"] == "true" for r in tomb), [r["trdm_is_deleted"] for r in tomb])
    check("incremental download: trdm_is_deleted coerced to bool by the SDK",
          set(df["trdm_is_deleted"].unique()) <= {True, False}, df["trdm_is_deleted"].unique())


def s_history_download() -> None:
    client, dev = CTX["client"], CTX["dev"]
    site = CTX["tables_dev"]["Site"]
    d = download(client, dev.id, site.key, include_history=True)
    df = d.receive()
    _, raw = fetch_raw(d)
    # 150 seed versions + 3 (upsert) + 2 (legacy) + 3 (with delete) + 1 (full tombstone)
    check_eq("history download: every version", len(raw), 159)
    check_eq("history download: frame row count", len(df), len(raw))

    def sk(v: str) -> Any:
        return (0, int(v)) if v and v.isdigit() else (1, v)

    versions: dict[str, list[dict]] = {}
    for r in raw:
        versions.setdefault(r["site_code"], []).append(r)
    problems = []
    for code, vs in versions.items():
        vs.sort(key=lambda r: (parse_ts(r["trdm_created_at"]), sk(r["trdm_sk"])))
        codes = [v["trdm_tran_code"] for v in vs]
        want = ["i"] + ["d" if v["trdm_is_deleted"] == "true" else "u" for v in vs[1:]]
        if codes != want:
            problems.append(f"{code}: tran codes {codes}, expected {want}")
        states = [v["trdm_state"] for v in vs]
        if states != ["H"] * (len(vs) - 1) + ["C"]:
            problems.append(f"{code}: states {states}")
        if len({v["trdm_record_id"] for v in vs}) != 1:
            problems.append(f"{code}: trdm_record_id not stable")
        for older, newer in zip(vs, vs[1:]):
            if parse_ts(older["trdm_effective_to"]) != parse_ts(newer["trdm_effective_from"]):
                problems.append(f"{code}: effective_to {older['trdm_effective_to']} != next effective_from")
        if parse_ts(vs[-1]["trdm_effective_to"]) != parse_ts(HIGH_DATE):
            problems.append(f"{code}: current version effective_to {vs[-1]['trdm_effective_to']}")
    check("history download: first version i, later u, tombstone d; H..C; stable record id; contiguous validity",
          not problems, "; ".join(problems[:5]))
    renamed = versions.get(CTX["renamed_code"], [])
    check_eq("history download: renamed site has 2 versions (i, u)", [v["trdm_tran_code"] for v in renamed], ["i", "u"])
    deleted = versions.get(CTX["site_changes"]["deleted"][0], [])
    check_eq("history download: deleted site ends in a tombstone (i, d)", [v["trdm_tran_code"] for v in deleted], ["i", "d"])
    check_eq("history download: SDK frame keeps trdm_tran_code as text",
             sorted(df["trdm_tran_code"].dropna().unique()), ["d", "i", "u"])


def s_convention() -> None:
    client, dev = CTX["client"], CTX["dev"]
    sync = ConventionSync(client)
    n_downloads = len(client.downloads)
    results, frames = sync.download_by_convention(dev.id, "Clinics", poll_interval=POLL, max_wait=MAX_WAIT)
    convention_downloads = client.downloads[n_downloads:]
    check_eq("convention download: frame keys", sorted(frames), ["clin_delivery_centre", "clin_org_unit", "clin_sites"])
    check_eq("convention download: statuses", [r["status"] for r in results], ["success"] * 3)
    counts = {r["table"]: r["rows"] for r in results}
    check_eq("convention download: row counts",
             counts, {"sites": CTX["site_expected_count"], "delivery_centre": 30, "org_unit": 120})

    # Derive the upload frames from the same export files. The frames pandas
    # parsed cannot be sent back as they are: it read site_code "0001" as the
    # int 1, postcode "0800" as 800, org_unit_code "00042" as 42, and integer
    # columns holding NULLs (bed_count, parent_org_unit_id) as floats written
    # back as "12.0", which an integer column rejects. So each export file is
    # re-read with dtype=str. Still lossy: pandas cannot tell an empty string
    # from NULL, so the two "" notes of Delivery Centre come back as NULL
    # (2 updates below).
    upload_frames = {}
    for d in convention_downloads:
        table = next(t for t in CTX["tables_dev"].values() if t.key == d.table_definition_key)
        key = f"clin_{table.database_table_name}"
        text = fetch_text_frame(d)
        parsed = frames.get(key)
        same = parsed is not None and len(text) == len(parsed) and \
            sorted(text["trdm_record_id"]) == sorted(str(v) for v in parsed["trdm_record_id"])
        check(f"convention upload: {key} text frame = the convention download's rows", same)
        upload_frames[key] = prepare_export_for_import(text, keep_tran_code=False)
        check_eq(f"convention upload: {key} prepared columns", list(upload_frames[key].columns), user_columns(table.name))

    n_uploads = len(client.uploads)
    results = sync.upload_by_convention(dev.id, "Clinics", upload_frames, pattern="full")
    check_eq("convention upload: statuses", [r["status"] for r in results], ["success"] * 3)
    if not check_eq("convention upload: one import batch", len(client.uploads) - n_uploads, 1):
        return
    upload = client.uploads[-1]
    tables = wait_for_import(upload)
    check_eq("convention upload: batch completes", upload.status, "completed")
    by_key = {t.table_definition_key: t for t in tables}
    expect = {"Site": (0, 0, 0), "Delivery Centre": (0, 2, 0), "Org Unit": (0, 0, 0)}
    for name, counts in expect.items():
        t = by_key.get(CTX["tables_dev"][name].key)
        check_eq(f"convention upload: {name} status and counts (round trip of an export)",
                 (t.status, t.insert_row_count, t.update_row_count, t.delete_row_count) if t else None,
                 ("completed",) + counts)


def s_read_only_app() -> None:
    reader = TitanRDMClient(URL, READER_ID, READER_SECRET)
    prod = reader.get_branch_by_name("prod")
    check_eq("read-only app: can read branches", prod.name, "prod")
    d = download(reader, prod.id, CTX["tables_prod"]["Delivery Centre"].key)
    check_eq("read-only app: can export", len(d.receive()), 30)
    try:
        reader.get_upload(CTX["dev"].id, description="must be refused")
        check("read-only app: import creation refused with 403", False, "import created")
    except APIError as e:
        check_eq("read-only app: import creation refused with 403", e.status_code, 403)


def s_prod_untouched() -> None:
    client, prod = CTX["client"], CTX["prod"]
    for name in TABLES:
        _, raw = current_rows(client, prod.id, CTX["tables_prod"][name].key)
        compare_table(f"prod untouched: {name}", name, raw, seed_rows(name))


def main() -> int:
    if not URL:
        print("TITAN_URL is not set", file=sys.stderr)
        return 2
    print(f"incumbent conformance against {URL} (titan-rdm-sdk, pandas {pd.__version__})")
    section("auth", s_auth)
    if "client" not in CTX:
        print(f"{PASSED} passed, {FAILED} failed")
        return 1
    section("metadata", s_metadata)
    if {"prod", "dev", "tables_prod", "tables_dev", "mappings"} <= CTX.keys():
        section("full download (prod)", s_full_download_prod)
        section("uploads (dev)", s_uploads)
        if "site_changes" in CTX:
            section("incremental download (dev)", s_incremental_download)
            section("history download (dev)", s_history_download)
            section("convention sync (dev)", s_convention)
        section("read-only application", s_read_only_app)
        section("prod untouched", s_prod_untouched)
    else:
        check("metadata needed by the remaining checks", False, "missing; remaining checks skipped")
    print(f"{PASSED} passed, {FAILED} failed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
