"""trdm-sync's catalog conformance suite (crates/trdm-sync/src/catalog/conformance.rs) against the catalogs
written in Python: the smallest one (a dict of pyarrow tables) and the ``SparkCatalog`` that ``SparkSync``
drives, on the local PySpark session (one catalog, ``spark_catalog``, parquet tables), with tables crossing
as staged Parquet files and directly.

``_internal._catalog_conformance`` wraps the object in the same ``PyCatalog`` the sync engine uses and runs
the suite's checks by name; a broken clause is an ``AssertionError`` naming the check. Each check is its own
test. A check known to fail is marked ``xfail(strict=True)`` with the reason, and :func:`run` turns a failure
other than the known one into a plain test failure: a known failure must keep failing, and exactly so.
"""

from __future__ import annotations

import re
import threading
import uuid

import pytest
from conftest import ROOT, conformance_params, run_conformance
from test_sync_python_catalog import DictCatalog

from titan_rdm_sdk._internal import CATALOG_CONFORMANCE_CHECKS, _catalog_conformance

STORED_SCHEMA = "trdm.arrow_schema"

SUITE = ROOT / "crates" / "trdm-sync" / "src" / "catalog" / "conformance.rs"


def test_the_checks_are_the_suites_in_its_order():
    # The suite names its checks once (its `checks!` list yields CHECKS and run_check); every public check
    # function must be in it, in the order defined, or run_all and this package would skip it.
    source = SUITE.read_text(encoding="utf-8")
    public = re.findall(r"^pub async fn (\w+)\(", source, flags=re.MULTILINE)
    assert public[0] == "run_all"
    assert list(CATALOG_CONFORMANCE_CHECKS) == public[1:]


# ---- a dict of pyarrow tables (no merge of its own: PyCatalog merges in Rust by read + overwrite) ----

# Every clause holds: PyCatalog merges in Rust, checking the input against the schema stored with the table.
DICT_KNOWN: dict[str, tuple[str, ...]] = {}


@pytest.mark.parametrize("check", conformance_params(DICT_KNOWN))
def test_dict_catalog(check):
    run_conformance(DictCatalog(), "conformance.dict", check, DICT_KNOWN)


def test_the_suite_runs_against_the_object_given():
    catalog = DictCatalog()
    passing = [c for c in CATALOG_CONFORMANCE_CHECKS if c not in DICT_KNOWN]
    assert _catalog_conformance(catalog, "conformance.dict", passing) is None
    # Its tables are in this very object, as the last writes left them.
    assert ("conformance", "dict") in catalog.schemas
    assert catalog.tables[("conformance", "dict", "all_types")].num_rows == 4
    stored = catalog.props[("conformance", "dict", "merge_creates")]
    assert stored.pop(STORED_SCHEMA).startswith('{"fields":[')  # the schema written, for reads to restore
    assert stored == {"trdm.k": "v"}
    assert ("conformance", "dict", "never_written") not in catalog.tables
    assert ("conformance", "dict", "failed_first_write") not in catalog.tables


def test_catalog_calls_run_on_other_threads_while_the_caller_releases_the_gil():
    caller = threading.get_ident()
    threads = set()

    class Recording(DictCatalog):
        def create_schema(self, catalog, schema):
            threads.add(threading.get_ident())
            super().create_schema(catalog, schema)

    # The calls take the GIL on tokio's blocking pool; had the caller kept it, this would deadlock.
    checks = ["create_schema_is_idempotent", "names_are_exact"]
    _catalog_conformance(Recording(), "conformance.threads", checks)
    assert threads and caller not in threads


class CaseFolding(DictCatalog):
    """Finds tables whatever the case of their name: breaks `names_are_exact`."""

    def table_exists(self, catalog, schema, table):
        return (catalog, schema, table.lower()) in self.tables


def test_a_broken_clause_is_an_assertion_error_naming_the_check_and_the_failure():
    with pytest.raises(AssertionError) as failure:
        _catalog_conformance(CaseFolding(), "conformance.folding")
    message = str(failure.value)
    assert message.startswith("catalog conformance check `names_are_exact` failed: ")
    assert "folding.CASE_SENSITIVE found after writing conformance.folding.case_sensitive" in message


def test_checks_are_selected_by_name():
    catalog = CaseFolding()
    others = [c for c in CATALOG_CONFORMANCE_CHECKS if c != "names_are_exact" and c not in DICT_KNOWN]
    _catalog_conformance(catalog, "conformance.selected", others)
    assert ("conformance", "selected", "all_types") in catalog.tables
    assert ("conformance", "selected", "case_sensitive") not in catalog.tables  # names_are_exact did not run
    with pytest.raises(AssertionError, match="`names_are_exact`"):
        _catalog_conformance(catalog, "conformance.selected", ["names_are_exact"])


def test_an_unknown_check_is_refused_before_anything_runs():
    catalog = DictCatalog()
    checks = ["create_schema_is_idempotent", "names_are_exakt"]
    with pytest.raises(ValueError, match='unknown catalog conformance check "names_are_exakt"'):
        _catalog_conformance(catalog, "conformance.unknown", checks)
    assert catalog.schemas == set()


def test_a_python_exception_in_the_catalog_is_carried_into_the_failure():
    class Refusing(DictCatalog):
        def create_schema(self, catalog, schema):
            raise PermissionError(f"no CREATE SCHEMA on {catalog}")

    with pytest.raises(AssertionError) as failure:
        _catalog_conformance(Refusing(), "conformance.refused")
    message = str(failure.value)
    assert message.startswith("catalog conformance check `create_schema_is_idempotent` failed: ")
    assert "PermissionError" in message and "no CREATE SCHEMA on conformance" in message


# ---- SparkCatalog on local PySpark: spark_catalog, parquet tables ----

CAT = "spark_catalog"

# Spark cannot keep all of a schema (parquet tables make every column nullable, comments come back as Spark's
# own metadata, time of day and decimals past 38 digits are stored as text); PyCatalog stores the schema
# written as a table property and restores it on read, so those clauses hold. What remains is Spark's name
# resolution, case-insensitive by default (see the case-sensitive test below).
SPARK_KNOWN = {
    "names_are_exact": (
        "Spark resolves names case-insensitively (spark.sql.caseSensitive=false, the default): "
        "`CASE_SENSITIVE` is `case_sensitive`",
        ".CASE_SENSITIVE found after writing spark_catalog.",
    ),
}


@pytest.fixture
def spark_prefix(spark):
    schema = f"conformance_{uuid.uuid4().hex[:12]}"
    yield f"{CAT}.{schema}"
    spark.sql(f"DROP SCHEMA IF EXISTS {CAT}.{schema} CASCADE")


@pytest.mark.parametrize("check", conformance_params(SPARK_KNOWN))
def test_spark_catalog(spark, spark_prefix, check, transfer):
    # Once with tables crossing as staged Parquet files, once directly (createDataFrame / toArrow).
    from titan_rdm_sdk._spark_catalog import SparkCatalog

    run_conformance(SparkCatalog(spark, transfer["staging_location"]), spark_prefix, check, SPARK_KNOWN)


def test_spark_catalog_names_are_exact_on_a_case_sensitive_session(spark, spark_prefix):
    # The clause SparkCatalog misses above is Spark's name resolution, not its own: with it case-sensitive,
    # the session catalog keeps `CASE_SENSITIVE` and `case_sensitive` apart.
    from titan_rdm_sdk._spark_catalog import SparkCatalog

    previous = spark.conf.get("spark.sql.caseSensitive")
    spark.conf.set("spark.sql.caseSensitive", "true")
    try:
        _catalog_conformance(SparkCatalog(spark), spark_prefix, ["names_are_exact"])
    finally:
        spark.conf.set("spark.sql.caseSensitive", previous)
