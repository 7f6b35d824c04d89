"""The parquet swap of SparkCatalog.overwrite on local Spark (spark_catalog, parquet): the new table is
written beside the old one, the old one renamed aside, the new one renamed in, the old one dropped. A
failure at any step leaves the old table with its data and properties (it used to be dropped before the
rename, so a failed rename lost it). Long property values (the stored Arrow schema) go in parts."""

from __future__ import annotations

import pyarrow as pa
import pytest

from titan_rdm_sdk._spark_catalog import SparkCatalog, join_long_values, split_long_values

CAT = "spark_catalog"


class _Delegating:
    def __init__(self, inner) -> None:
        self._inner = inner

    def __getattr__(self, name: str):
        return getattr(self._inner, name)


class FailingRenameIn(_Delegating):
    """A SparkSession whose rename of a staging table into place fails (as a lost metastore connection would)."""

    def __init__(self, inner) -> None:
        super().__init__(inner)
        self.failed = 0

    def sql(self, statement: str, *args, **kwargs):
        if (
            "RENAME TO" in statement
            and "__trdm_" in statement.split("RENAME TO")[0]
            and "__trdm_old_" not in statement
        ):
            self.failed += 1
            raise RuntimeError("injected: metastore connection lost")
        return self._inner.sql(statement, *args, **kwargs)


def tables(spark, schema: str) -> list[str]:
    return sorted(t.name for t in spark.catalog.listTables(f"{CAT}.{schema}"))


def test_a_failed_rename_into_place_leaves_the_old_table_and_its_properties(spark):
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {CAT}.swap_rename")
    catalog = SparkCatalog(spark)
    old = pa.table({"k": pa.array([1, 2, 3], pa.int64()), "v": ["a", "b", "c"]})
    catalog.overwrite(CAT, "swap_rename", "t", old, {"trdm.run": "1"})
    assert spark.conf.get("spark.sql.sources.default", "parquet") == "parquet"

    failing = FailingRenameIn(spark)
    new = pa.table({"k": pa.array([9], pa.int64()), "v": ["z"]})
    with pytest.raises(RuntimeError, match="metastore connection lost"):
        SparkCatalog(failing).overwrite(CAT, "swap_rename", "t", new, {"trdm.run": "2"})
    assert failing.failed == 1
    assert sorted(r["k"] for r in spark.table(f"{CAT}.swap_rename.t").collect()) == [1, 2, 3]
    assert catalog.properties(CAT, "swap_rename", "t") == {"trdm.run": "1"}
    assert tables(spark, "swap_rename") == ["t"]  # no staging table, nothing left aside

    catalog.overwrite(CAT, "swap_rename", "t", new, {"trdm.run": "2"})  # and the swap itself works
    assert [r["k"] for r in spark.table(f"{CAT}.swap_rename.t").collect()] == [9]
    assert catalog.properties(CAT, "swap_rename", "t") == {"trdm.run": "2"}
    assert tables(spark, "swap_rename") == ["t"]


def test_long_property_values_are_stored_in_parts_and_read_back_whole(spark):
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {CAT}.swap_props")
    catalog = SparkCatalog(spark)
    long_value = "Zürich " * 200  # 1,400 characters: more than Unity Catalog keeps in one value
    data = pa.table({"k": pa.array([1], pa.int64())})
    catalog.overwrite(CAT, "swap_props", "t", data, {"trdm.long": long_value, "trdm.short": "x"})
    raw = {r["key"]: r["value"] for r in spark.sql(f"SHOW TBLPROPERTIES {CAT}.swap_props.t").collect()}
    assert "trdm.long" not in raw and raw["trdm.long.parts"] == "6"
    assert all(len(v) <= 255 for k, v in raw.items() if k.startswith("trdm."))
    assert catalog.properties(CAT, "swap_props", "t") == {"trdm.long": long_value, "trdm.short": "x"}

    # A shorter value later: the parts it no longer needs are ignored, not appended.
    catalog.overwrite(CAT, "swap_props", "t", data, {"trdm.long": "y" * 300})
    assert catalog.properties(CAT, "swap_props", "t") == {"trdm.long": "y" * 300}


def test_a_value_with_a_missing_part_is_left_out_not_cut_short():
    parts = split_long_values({"trdm.s": "a" * 600})
    assert parts["trdm.s.parts"] == "3"
    del parts["trdm.s.part.001"]
    assert join_long_values(parts) == {}
    assert join_long_values(split_long_values({"trdm.s": "a" * 600, "trdm.t": "b"})) == {
        "trdm.s": "a" * 600,
        "trdm.t": "b",
    }
