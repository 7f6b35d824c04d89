"""A live ``SparkSession`` as a catalog of the Rust sync engine.

The engine (``trdm-sync``, compiled into ``_internal``) decides everything: which exports, how to decode
them, what to merge, what to validate before an upload. It calls this object for the five catalog
operations its contract names (see ``python/src/catalog.rs``), passing and taking Arrow:

* reads go through ``DataFrame.toArrow()`` (Spark 4). Spark 3 has none, and its ``toPandas()`` turns
  ``timestamp`` values into naive wall-clock times of the session time zone (lossy in a DST fall-back hour,
  and read back as UTC: shifted). So Spark 3 reads collect Arrow batches instead (``_collect_as_arrow``,
  what ``toPandas`` runs underneath: UTC instants), and only without it go through pandas, with timestamps
  selected as microseconds since the epoch (``unix_micros``): exact in any session time zone;
* writes go through ``createDataFrame(arrow_table, schema)`` with a Spark schema built from the Arrow
  schema, which the engine built from TitanRDM's column definitions; column descriptions become comments.
  Spark 3's ``createDataFrame`` takes no Arrow table: there it gets a pandas frame with nullable integer
  columns and UTC timestamps (see :func:`create_frame`);
* sync state (the high-water mark, the branch, ...) lives in table properties (``trdm.*``). Unity Catalog
  OSS keeps a property value in 255 characters (and a Hive metastore in 4,000), but the stored Arrow schema
  is kilobytes of JSON, so a longer value is written as numbered parts (``KEY.part.000``, ... with
  ``KEY.parts`` = their count) and :meth:`SparkCatalog.properties` joins them again;
* incremental downloads never truncate. A Delta table takes the changes with one ``MERGE INTO`` by
  ``trdm_record_id`` (deleted records are removed), then its new properties; for other providers (parquet in
  local Spark) :meth:`SparkCatalog.merge` declines and the engine reads the table, merges in Rust and writes
  the result back in one overwrite;
* full downloads replace the table: Delta with ``CREATE OR REPLACE TABLE ... AS SELECT`` (one commit, data
  and properties together). Other providers have no atomic replace, and ``saveAsTable`` in overwrite mode
  drops the old table before it writes the new one, so a failed write would lose it. Instead the data and
  properties go into a new table beside it (``DataFrameWriterV2.create`` with its table properties, one
  statement), and only once that succeeded is the old table renamed aside, the new one renamed into place
  and the old one dropped; a failed second rename renames the old table back. So a failed write or rename
  leaves the old table as it was. A table that does not exist yet is created the same way, in place.
* Unity Catalog (a catalog other than ``spark_catalog``: Databricks', or OSS's ``UCSingleCatalog``) holds
  only Delta managed tables and cannot rename tables. There new tables are Delta too (when the session has
  Delta, whatever ``spark.sql.sources.default`` says), so only ``CREATE OR REPLACE`` and ``MERGE INTO`` run,
  never a rename.
* with a staging location (a directory both this process and Spark can read and write: a Unity Catalog
  volume ``/Volumes/...`` on Databricks, by default a temporary directory on a local Spark 3 session), tables cross as
  Parquet files instead: writes save the Arrow data with pyarrow and Spark reads it (``spark.read.parquet``)
  inside the same replace or merge statement; reads have Spark write the table as Parquet and pyarrow read
  it. Both skip Spark's conversion between Arrow and its rows, which is most of a transfer's time, and
  Spark 3's detour through pandas. Each transfer gets its own directory, removed afterwards, also on
  failure (:meth:`SparkCatalog._staged`);
* ``createDataFrame(arrow_table)`` makes one partition per Arrow batch of
  ``spark.sql.execution.arrow.maxRecordsPerBatch`` rows (100 for a million rows), and each becomes a task
  and a file. Writes coalesce to one partition per :data:`_ROWS_PER_PARTITION` rows (measured on local
  Spark: a million rows written 2-3x faster, in a handful of files instead of a hundred).
* dates and timestamps before 1582-10-15 (``0001-01-01`` is a common "no date") are proleptic Gregorian in
  Arrow and TitanRDM. Spark 3 refuses to write or read them in Parquet unless told which calendar
  (``spark.sql.parquet.*RebaseMode*`` = ``EXCEPTION``, its default; Spark 4's is ``CORRECTED``). While
  this catalog moves data it sets those still at ``EXCEPTION`` to ``CORRECTED`` and restores them after
  (:meth:`SparkCatalog._proleptic`); a mode the user chose is left alone.

Identifiers are always backtick-quoted, so schema and table names need no escaping by the caller.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

_log = logging.getLogger("titan_rdm_sdk")

_PROPERTY_PREFIX = "trdm."
# The field metadata key under which Spark's toArrow() hands over a column's metadata (its comment), as JSON.
_SPARK_METADATA = b"SPARK::metadata::json"

# The longest table property value written as is; longer ones are split into parts of this length (see
# the module docs). Unity Catalog OSS stores values as VARCHAR(255).
_PROPERTY_VALUE_LIMIT = 250
_PART = ".part."
_PARTS = ".parts"


def split_long_values(properties: dict[str, str]) -> dict[str, str]:
    """``properties`` with every value longer than :data:`_PROPERTY_VALUE_LIMIT` written as numbered parts."""
    out: dict[str, str] = {}
    for key, value in properties.items():
        if len(value) <= _PROPERTY_VALUE_LIMIT:
            out[key] = value
            continue
        parts = [value[i : i + _PROPERTY_VALUE_LIMIT] for i in range(0, len(value), _PROPERTY_VALUE_LIMIT)]
        out[key + _PARTS] = str(len(parts))
        for n, part in enumerate(parts):
            out[f"{key}{_PART}{n:03d}"] = part
    return out


def join_long_values(properties: dict[str, str]) -> dict[str, str]:
    """The inverse of :func:`split_long_values`. Parts beyond the count (left by an earlier, longer value)
    are ignored; a value with a part missing is left out rather than returned cut short."""
    out = {k: v for k, v in properties.items() if _PART not in k and not k.endswith(_PARTS)}
    for key, count in properties.items():
        if not key.endswith(_PARTS) or _PART in key:
            continue
        name = key[: -len(_PARTS)]
        try:
            parts = [properties[f"{name}{_PART}{n:03d}"] for n in range(int(count))]
        except (KeyError, ValueError):
            _log.warning("table property %s is incomplete (%s parts announced); ignored", name, count)
            continue
        out[name] = "".join(parts)
    return out


# Rows per partition when a table is written (see the module docs): large enough that per-task and per-file
# costs vanish, small enough that a multi-million-row table still spreads over several cores.
_ROWS_PER_PARTITION = 500_000

# Spark 3's settings of how Parquet dates and timestamps before 1582-10-15 are written and read (see
# SparkCatalog._proleptic).
_REBASE_MODES = (
    "spark.sql.parquet.datetimeRebaseModeInWrite",
    "spark.sql.parquet.datetimeRebaseModeInRead",
    "spark.sql.parquet.int96RebaseModeInWrite",
    "spark.sql.parquet.int96RebaseModeInRead",
)

# Rows per row group of a staged Parquet file: Spark splits a file between tasks at row group boundaries.
_STAGED_ROW_GROUP_ROWS = 131_072


def quote(*parts: str) -> str:
    """``a.b.c`` with each part backtick-quoted (backticks inside doubled)."""
    return ".".join("`" + p.replace("`", "``") + "`" for p in parts)


def _sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def spark_schema(arrow_schema: Any) -> Any:
    """The Spark ``StructType`` for an Arrow schema made from column definitions.

    utf8 → string, int16/32/64 → short/int/long, decimal128(p,s) → decimal(p,s), float32/64 → float/double,
    bool → boolean, date32 → date, timestamp(us, UTC) → timestamp, timestamp(us) → timestamp_ntz. Types Spark
    cannot hold exactly (time of day, decimals past 38 digits) become strings in TitanRDM's own text form,
    which uploads read back unchanged. A field's ``comment`` metadata becomes the column comment.
    """
    import pyarrow as pa
    from pyspark.sql import types as T

    def convert(t: Any) -> Any:
        if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
            return T.StringType()
        if pa.types.is_int8(t):
            return T.ByteType()
        if pa.types.is_int16(t):
            return T.ShortType()
        if pa.types.is_int32(t):
            return T.IntegerType()
        if pa.types.is_int64(t):
            return T.LongType()
        if pa.types.is_decimal(t) and t.precision <= 38:
            return T.DecimalType(t.precision, t.scale)
        if pa.types.is_float32(t):
            return T.FloatType()
        if pa.types.is_float64(t):
            return T.DoubleType()
        if pa.types.is_boolean(t):
            return T.BooleanType()
        if pa.types.is_date32(t):
            return T.DateType()
        if pa.types.is_timestamp(t):
            return T.TimestampType() if t.tz is not None else T.TimestampNTZType()
        return T.StringType()

    fields = []
    for f in arrow_schema:
        metadata = {}
        if f.metadata and b"comment" in f.metadata:
            metadata["comment"] = f.metadata[b"comment"].decode("utf-8")
        fields.append(T.StructField(f.name, convert(f.type), f.nullable, metadata))
    return T.StructType(fields)


def _spark_ready(table: Any) -> Any:
    """Casts the columns :func:`spark_schema` maps to strings (time, wide decimals) to their text form."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    changed = False
    for i, f in enumerate(table.schema):
        t = f.type
        simple = (
            pa.types.is_string(t)
            or pa.types.is_large_string(t)
            or pa.types.is_integer(t)
            or (pa.types.is_decimal(t) and t.precision <= 38)
            or pa.types.is_floating(t)
            or pa.types.is_boolean(t)
            or pa.types.is_date32(t)
            or pa.types.is_timestamp(t)
        )
        if simple:
            columns.append(table.column(i))
        else:
            columns.append(pc.cast(table.column(i), pa.string()))
            changed = True
    if not changed:
        return table
    fields = [
        pa.field(f.name, c.type, f.nullable, f.metadata) for f, c in zip(table.schema, columns, strict=True)
    ]
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def _comments_from_spark(table: Any) -> Any:
    """``table`` with Spark's column metadata (``SPARK::metadata::json``, as ``toArrow()`` returns it) turned
    into the ``comment`` field metadata the engine reads."""
    import pyarrow as pa

    if not any(f.metadata and _SPARK_METADATA in f.metadata for f in table.schema):
        return table
    fields = []
    for f in table.schema:
        metadata = dict(f.metadata or {})
        spark_json = metadata.pop(_SPARK_METADATA, None)
        if spark_json is not None:
            comment = json.loads(spark_json).get("comment")
            if comment is not None:
                metadata[b"comment"] = str(comment).encode("utf-8")
        fields.append(f.with_metadata(metadata))
    return table.cast(pa.schema(fields, metadata=table.schema.metadata))


def _is_local(spark: Any) -> bool:
    """A classic session whose master is ``local[...]``: Spark's driver and executors are this machine."""
    context = getattr(spark, "sparkContext", None)  # Spark Connect sessions have none
    try:
        return context is not None and str(context.master).startswith("local")
    except Exception:  # noqa: BLE001 - Connect raises on access to sparkContext
        return False


def _spark4(spark: Any) -> bool:
    """Whether the session is Spark 4 or later (``createDataFrame`` takes Arrow, frames have ``toArrow``)."""
    return not str(getattr(spark, "version", "4")).startswith(("1.", "2.", "3."))


def create_frame(spark: Any, table: Any, schema: Any) -> Any:
    """``spark.createDataFrame`` of a pyarrow Table with a Spark schema.

    Spark 4 takes the table itself. Spark 3 takes pandas only; the frame handed over keeps integer columns
    with NULLs integral (pandas' nullable dtypes, not float64, which would round past 2**53) and timestamps
    as UTC instants (tz-aware), so nothing is shifted or rounded on the way in.
    """
    if _spark4(spark):
        return spark.createDataFrame(table, schema=schema)
    import pandas as pd
    import pyarrow as pa

    nullable = {
        pa.int8(): pd.Int8Dtype(),
        pa.int16(): pd.Int16Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(),
        pa.bool_(): pd.BooleanDtype(),
    }
    frame = table.to_pandas(types_mapper=nullable.get, date_as_object=True)
    return spark.createDataFrame(frame, schema=schema)


def _arrow_before_spark4(frame: Any) -> Any:
    """``frame`` as a pyarrow Table on Spark < 4 (no ``toArrow``), timestamps exact, comments kept.

    ``_collect_as_arrow()`` (what Spark 3's ``toPandas`` runs underneath) yields Arrow batches whose
    timestamps are UTC instants labelled with the session time zone; they are relabelled UTC. Without it
    (Spark Connect 3.x) ``toPandas()`` runs with the timestamp columns selected as ``unix_micros``, which no
    time zone shifts, and those become ``timestamp(us, UTC)`` again.
    """
    import pyarrow as pa

    fields = frame.schema.fields
    stamps = _instant_columns(fields)
    collect = getattr(frame, "_collect_as_arrow", None)
    if collect is not None:
        batches = collect()
        if batches:
            table = pa.Table.from_batches(batches)
        else:
            from pyspark.sql.pandas.types import to_arrow_schema

            table = to_arrow_schema(frame.schema).empty_table()
    else:
        selected = _as_micros(fields, stamps)
        table = pa.Table.from_pandas(frame.select(*selected).toPandas(), preserve_index=False)
    return _with_spark_fields(table, fields, stamps)


def _with_spark_fields(table: Any, fields: list[Any], stamps: set[str]) -> Any:
    """``table`` (the columns of Spark ``fields``, in order) with each field's nullability and comment, and
    the ``stamps`` columns, delivered as instants (timestamps labelled with any zone, or microseconds since
    the epoch), as ``timestamp(us, UTC)``."""
    import pyarrow as pa

    out_fields, columns = [], []
    for i, f in enumerate(fields):
        column = table.column(i)
        if f.name in stamps:
            if not pa.types.is_timestamp(column.type):  # microseconds (float when pandas saw NULLs)
                column = column.cast(pa.int64())
            column = column.cast(pa.timestamp("us", "UTC"))
        comment = (f.metadata or {}).get("comment")
        metadata = {b"comment": str(comment).encode("utf-8")} if comment is not None else None
        out_fields.append(pa.field(f.name, column.type, f.nullable, metadata))
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=pa.schema(out_fields))


def _instant_columns(fields: list[Any]) -> set[str]:
    """The names of the ``timestamp`` (instant, not ``timestamp_ntz``) columns among Spark ``fields``."""
    from pyspark.sql import types as T

    return {f.name for f in fields if isinstance(f.dataType, T.TimestampType)}


def _as_micros(fields: list[Any], stamps: set[str]) -> list[Any]:
    """Spark columns selecting ``fields``, the ``stamps`` ones as microseconds since the epoch
    (``unix_micros``: no session time zone shifts them, and no writer turns them into INT96)."""
    from pyspark.sql import functions as F

    return [
        F.unix_micros(F.col(quote(f.name))).alias(f.name) if f.name in stamps else F.col(quote(f.name))
        for f in fields
    ]


def merge_statement(target: str, source: str, key_columns: list[str], delete_column: str | None) -> str:
    """The ``MERGE INTO`` that applies an increment: source rows replace target rows with the same key; a
    source row whose ``delete_column`` is true deletes its key and is not inserted (NULL counts as false)."""
    on = " AND ".join(f"t.{quote(k)} = s.{quote(k)}" for k in key_columns)
    clauses = []
    if delete_column is not None:
        deleted = f"s.{quote(delete_column)}"
        clauses.append(f"WHEN MATCHED AND {deleted} IS TRUE THEN DELETE")
        clauses.append("WHEN MATCHED THEN UPDATE SET *")
        clauses.append(f"WHEN NOT MATCHED AND {deleted} IS NOT TRUE THEN INSERT *")
    else:
        clauses.append("WHEN MATCHED THEN UPDATE SET *")
        clauses.append("WHEN NOT MATCHED THEN INSERT *")
    return f"MERGE INTO {target} AS t USING {source} AS s ON {on} " + " ".join(clauses)


def staging_root(spark: Any, location: str | os.PathLike[str] | bool | None) -> str | None:
    """The directory staged transfers use, or ``None`` for direct ones (see the module docs).

    ``None``: a temporary directory when Spark 3 runs on this machine (a classic ``local[...]`` session),
    where the direct way goes through pandas; else direct (measured on local Spark 4: Arrow straight into
    ``createDataFrame`` is faster than writing and reading Parquet when both sides share one machine).
    ``False``: direct. A path: that directory, which Spark and this process must both reach
    as the same path (a Unity Catalog volume ``/Volumes/catalog/schema/volume/...`` on Databricks).
    """
    if location is None:
        return tempfile.gettempdir() if _is_local(spark) and not _spark4(spark) else None
    if location is False:
        return None
    if location is True or not isinstance(location, (str, os.PathLike)):
        raise TypeError(f"staging_location must be a directory path, None or False, got {location!r}")
    path = os.fspath(location)
    if not path or "://" in path:
        raise ValueError(
            "staging_location must be a directory path that this Python process and Spark both reach "
            f"(e.g. /Volumes/<catalog>/<schema>/<volume>/trdm), got {path!r}"
        )
    return os.path.abspath(path)


class SparkCatalog:
    """The catalog protocol of ``RawSyncEngine`` over a ``SparkSession`` (classic or Spark Connect).

    ``staging``: where tables cross as Parquet files (see :func:`staging_root`); ``None`` keeps the
    default, ``False`` always transfers directly.
    """

    def __init__(self, spark: Any, staging: str | os.PathLike[str] | bool | None = None) -> None:
        self._spark = spark
        self._staging = staging_root(spark, staging)
        # _proleptic: how many transfers are running, and the modes they replaced.
        self._calendar_lock = threading.Lock()
        self._calendar_users = 0
        self._calendar_saved: dict[str, str] = {}

    def __repr__(self) -> str:
        transfer = f"staged in {self._staging}" if self._staging else "direct"
        return f"SparkCatalog(spark version {getattr(self._spark, 'version', '?')}, {transfer})"

    # The engine's catalog protocol.

    def table_exists(self, catalog: str, schema: str, table: str) -> bool:
        return bool(self._spark.catalog.tableExists(quote(catalog, schema, table)))

    def read(self, catalog: str, schema: str, table: str) -> Any:
        if not self.table_exists(catalog, schema, table):
            raise LookupError(f"table {catalog}.{schema}.{table} does not exist")
        frame = self._spark.table(quote(catalog, schema, table))
        with self._proleptic():
            if self._staging is not None:
                return self._read_staged(frame)
            if hasattr(frame, "toArrow"):
                return _comments_from_spark(frame.toArrow())
            return _arrow_before_spark4(frame)

    def create_schema(self, catalog: str, schema: str) -> None:
        # Check first: a user allowed to write into an existing schema may not be allowed to create one.
        if not self._spark.catalog.databaseExists(quote(catalog, schema)):
            self._spark.sql(f"CREATE SCHEMA IF NOT EXISTS {quote(catalog, schema)}")

    def overwrite(self, catalog: str, schema: str, table: str, data: Any, properties: dict[str, str]) -> None:
        exists = self.table_exists(catalog, schema, table)
        provider = self._provider(catalog, schema, table, exists)
        with self._proleptic(), self._incoming(data) as frame:
            self._replace(frame, catalog, schema, table, exists, provider, properties)

    def _replace(
        self,
        frame: Any,
        catalog: str,
        schema: str,
        table: str,
        exists: bool,
        provider: str,
        properties: dict[str, str],
    ) -> None:
        """The work of :meth:`overwrite`, with the incoming rows as ``frame``."""
        name = quote(catalog, schema, table)
        if provider == "delta":
            with self._view(frame) as view:
                self._spark.sql(
                    f"CREATE OR REPLACE TABLE {name} USING delta"
                    f"{self._tblproperties(properties)} AS SELECT * FROM {quote(view)}"
                )
            return
        if not exists:
            self._create(frame, name, provider, properties)
            return
        # Write beside the table, then swap: a failed write leaves the old table as it was.
        suffix = uuid.uuid4().hex[:12]
        staging = quote(catalog, schema, f"{table}__trdm_{suffix}")
        try:
            self._create(frame, staging, provider, properties)
        except Exception:
            self._spark.sql(f"DROP TABLE IF EXISTS {staging}")
            raise
        # Old table aside, new one in, old one dropped: until the last step the old data exists under one
        # of the two names, and a failed rename of the new table puts the old one back.
        aside = f"{table}__trdm_old_{suffix}"
        self._spark.sql(f"ALTER TABLE {name} RENAME TO {quote(schema, aside)}")
        try:
            self._spark.sql(f"ALTER TABLE {staging} RENAME TO {quote(schema, table)}")
        except Exception:
            self._spark.sql(f"ALTER TABLE {quote(catalog, schema, aside)} RENAME TO {quote(schema, table)}")
            self._spark.sql(f"DROP TABLE IF EXISTS {staging}")
            raise
        try:
            self._spark.sql(f"DROP TABLE {quote(catalog, schema, aside)}")
        except Exception:  # noqa: BLE001 - the new table is in place; only the old copy is left over
            _log.warning("replaced %s but could not drop its previous version %s", name, aside, exc_info=True)

    def merge(
        self,
        catalog: str,
        schema: str,
        table: str,
        data: Any,
        key_columns: list[str],
        delete_column: str | None,
        properties: dict[str, str],
    ) -> Any:
        """``MERGE INTO`` a Delta table, returning the counts the engine reports (``rows_after``,
        ``rows_written``, ``rows_deleted``, from Delta's merge metrics); ``NotImplemented`` (the engine
        rewrites instead) for other providers."""
        if not self.table_exists(catalog, schema, table):
            return NotImplemented
        if self._provider(catalog, schema, table, exists=True) != "delta":
            return NotImplemented
        name = quote(catalog, schema, table)
        before = self._stored_keys(name)
        with self._proleptic(), self._incoming(data) as frame, self._view(frame) as view:
            metrics = self._spark.sql(
                merge_statement(name, quote(view), key_columns, delete_column)
            ).collect()
        # The new set, then the keys of the old one it lacks: each write replaces the whole set.
        if properties:
            self._spark.sql(f"ALTER TABLE {name} SET{self._tblproperties(properties)}")
        stale = sorted(before.keys() - split_long_values(properties).keys())
        if stale:
            keys = ", ".join(_sql_string(k) for k in stale)
            self._spark.sql(f"ALTER TABLE {name} UNSET TBLPROPERTIES IF EXISTS ({keys})")
        rows_after = int(self._spark.sql(f"SELECT count(*) FROM {name}").collect()[0][0])
        counts = metrics[0].asDict() if metrics else {}
        try:
            updated, deleted, inserted = (
                int(counts[k]) for k in ("num_updated_rows", "num_deleted_rows", "num_inserted_rows")
            )
        except (KeyError, TypeError, ValueError):  # a MERGE without Delta's metrics: what is known
            import pyarrow as pa

            return {"rows_after": rows_after, "rows_written": pa.table(data).num_rows, "rows_deleted": 0}
        # A replaced row is written and removed; a deleted one only removed.
        return {
            "rows_after": rows_after,
            "rows_written": updated + inserted,
            "rows_deleted": updated + deleted,
        }

    def properties(self, catalog: str, schema: str, table: str) -> dict[str, str]:
        if not self.table_exists(catalog, schema, table):
            raise LookupError(f"table {catalog}.{schema}.{table} does not exist")
        return join_long_values(self._stored_keys(quote(catalog, schema, table)))

    def warm_up(self) -> threading.Thread:
        """Starts, on a background thread, one write of a one-row table with every type a download writes
        into Spark's ``noop`` sink, which runs the job and stores nothing.

        The first writes of a fresh session pay for the JVM's warm-up: a thousand-row table takes about two
        seconds where later ones take a quarter of one (PySpark 4.3, local mode). Downloads start this while
        the server prepares the exports, so that cost is paid during a wait instead of after it (measured:
        the first write after it takes about one second). Failures are logged and ignored: nothing depends
        on it but speed.
        """
        thread = threading.Thread(target=self._warm_up_quietly, name="trdm-spark-warm-up", daemon=True)
        thread.start()
        return thread

    def _warm_up_quietly(self) -> None:
        try:
            self.warm_up_now()
        except Exception:  # noqa: BLE001 - an optimisation only; the real writes report their own errors
            _log.debug("Spark warm-up failed", exc_info=True)

    def warm_up_now(self) -> None:
        """The work of :meth:`warm_up`, on the calling thread, raising what fails."""
        import pyarrow as pa

        sample = pa.table(
            {
                "text": pa.array(["0001"]),
                "small": pa.array([1], pa.int16()),
                "integer": pa.array([1], pa.int32()),
                "big": pa.array([1], pa.int64()),
                "amount": pa.array([Decimal("1.50")], pa.decimal128(18, 2)),
                "ratio": pa.array([0.5], pa.float64()),
                "flag": pa.array([True]),
                "day": pa.array([date(2024, 1, 31)], pa.date32()),
                "at": pa.array([datetime(2024, 1, 31, tzinfo=timezone.utc)], pa.timestamp("us", "UTC")),
                "local": pa.array([datetime(2024, 1, 31)], pa.timestamp("us")),
            }
        )
        frame = create_frame(self._spark, sample, spark_schema(sample.schema))
        if _is_local(self._spark):
            # Spark runs in this process's machine, so a temporary directory is somewhere it can write: the
            # Parquet writer and the commit of a table's files warm up too.
            with tempfile.TemporaryDirectory(prefix="trdm-warm-up-") as scratch:
                frame.write.mode("overwrite").parquet(os.path.join(scratch, "sample"))
        else:
            frame.write.format("noop").mode("overwrite").save()

    # Helpers.

    def _stored_keys(self, name: str) -> dict[str, str]:
        """The ``trdm.*`` properties of table ``name`` (quoted) as stored: long values still in parts."""
        rows = self._spark.sql(f"SHOW TBLPROPERTIES {name}").collect()
        return {str(r[0]): str(r[1]) for r in rows if str(r[0]).startswith(_PROPERTY_PREFIX)}

    @staticmethod
    def _tblproperties(properties: dict[str, str]) -> str:
        if not properties:
            return ""
        items = ", ".join(
            f"{_sql_string(k)} = {_sql_string(v)}" for k, v in sorted(split_long_values(properties).items())
        )
        return f" TBLPROPERTIES ({items})"

    @contextlib.contextmanager
    def _incoming(self, data: Any) -> Iterator[Any]:
        """``data`` as a DataFrame typed by :func:`spark_schema`, valid inside the ``with``.

        Staged: a Parquet file in a directory of its own, read by Spark with that schema (row groups of
        :data:`_STAGED_ROW_GROUP_ROWS` rows, so Spark can split the file over its cores). Direct:
        ``createDataFrame``, in partitions of about :data:`_ROWS_PER_PARTITION` rows.
        """
        import pyarrow as pa

        arrow = _spark_ready(pa.table(data))
        schema = spark_schema(arrow.schema)
        if self._staging is None:
            frame = create_frame(self._spark, arrow, schema)
            yield frame.coalesce(max(1, -(-arrow.num_rows // _ROWS_PER_PARTITION)))
            return
        import pyarrow.parquet as pq

        with self._staged() as directory:
            os.makedirs(directory)
            pq.write_table(
                arrow, os.path.join(directory, "part-00000.parquet"), row_group_size=_STAGED_ROW_GROUP_ROWS
            )
            yield self._spark.read.schema(schema).parquet(directory)

    def _read_staged(self, frame: Any) -> Any:
        """``frame`` as a pyarrow Table through Parquet files in the staging location: Spark writes them
        (timestamps as microseconds, see :func:`_as_micros`), pyarrow reads them."""
        import pyarrow.parquet as pq

        fields = frame.schema.fields
        stamps = _instant_columns(fields)
        with self._staged() as directory:
            frame.select(*_as_micros(fields, stamps)).write.parquet(directory)
            table = pq.read_table(directory)
        return _with_spark_fields(table, fields, stamps)

    @contextlib.contextmanager
    def _proleptic(self) -> Iterator[None]:
        """On Spark 3, the Parquet calendar modes still at ``EXCEPTION`` are ``CORRECTED`` inside the ``with``
        (see the module docs). Transfers overlap (the engine runs several tables at once): the first one in
        sets the modes, the last one out restores them."""
        if _spark4(self._spark):
            yield
            return
        with self._calendar_lock:
            if self._calendar_users == 0:
                self._calendar_saved = {}
                for key in _REBASE_MODES:
                    value = str(self._spark.conf.get(key, "EXCEPTION"))
                    if value.upper() == "EXCEPTION":
                        self._calendar_saved[key] = value
                        self._spark.conf.set(key, "CORRECTED")
            self._calendar_users += 1
        try:
            yield
        finally:
            with self._calendar_lock:
                self._calendar_users -= 1
                if self._calendar_users == 0:
                    for key, value in self._calendar_saved.items():
                        self._spark.conf.set(key, value)

    @contextlib.contextmanager
    def _staged(self) -> Iterator[str]:
        """A new directory path under the staging location (not created), removed with everything in it
        when the ``with`` ends, also on failure."""
        assert self._staging is not None
        directory = os.path.join(self._staging, f"trdm-staging-{uuid.uuid4().hex}")
        try:
            yield directory
        finally:
            try:
                shutil.rmtree(directory)
            except FileNotFoundError:  # nothing was staged (the failure came first)
                pass
            except OSError as e:  # the transfer succeeded or failed on its own; say what is left over
                _log.warning("could not remove the staged files in %s: %s", directory, e)

    @contextlib.contextmanager
    def _view(self, frame: Any) -> Iterator[str]:
        """``frame`` as a temporary view, whose name is yielded; dropped afterwards."""
        view = f"trdm_incoming_{uuid.uuid4().hex}"
        frame.createOrReplaceTempView(view)
        try:
            yield view
        finally:
            self._spark.catalog.dropTempView(view)

    @staticmethod
    def _create(frame: Any, name: str, provider: str, properties: dict[str, str]) -> None:
        """Creates table ``name`` (which must not exist) from ``frame``, with its properties, in one
        statement (``DataFrameWriterV2``: cheaper than a temporary view and ``CREATE TABLE AS SELECT``)."""
        writer = frame.writeTo(name).using(provider)
        for key, value in sorted(split_long_values(properties).items()):
            writer = writer.tableProperty(key, value)
        writer.create()

    def _provider(self, catalog: str, schema: str, table: str, exists: bool) -> str:
        """The table's provider when it exists, else the session's default for new tables (lower case)."""
        if exists:
            rows = self._spark.sql(f"DESCRIBE TABLE EXTENDED {quote(catalog, schema, table)}").collect()
            for r in rows:
                if str(r[0]).strip().lower() == "provider":
                    return str(r[1]).strip().lower()
        default = str(self._spark.conf.get("spark.sql.sources.default", "parquet")).strip().lower()
        if default != "delta" and catalog.lower() != "spark_catalog" and self._has_delta():
            # Unity Catalog refuses managed tables that are not Delta (its default is the session's).
            return "delta"
        return default

    def _has_delta(self) -> bool:
        """Whether the session has Delta Lake's SQL extension. (Databricks has Delta built in and as the
        default format, which :meth:`_provider` sees first.)"""
        try:
            extensions = str(self._spark.conf.get("spark.sql.extensions", "") or "")
        except Exception:  # noqa: BLE001 - a session that cannot say has no Delta we could rely on
            return False
        return "DeltaSparkSessionExtension" in extensions
