"""Convention sync: whole domains between TitanRDM and dataframes (:class:`ConventionSync`) or a Spark
catalog (:class:`SparkSync`), by the name ``{domain_abbreviation}_{database_table_name}``.

Both classes have the incumbent ``titan-rdm-sdk`` 2.0 names, parameters and result dicts, and both run on
the Rust sync engine, which is where they differ from it:

* types come from TitanRDM's column definitions, never from the data (``007`` stays ``"007"``, an integer
  column with a NULL stays integer), and a download uploads back unchanged;
* every export of a domain is created at once and the tables move concurrently;
* ``pattern="incremental"`` into Spark MERGES into the existing table by ``trdm_record_id`` (deleted
  records are removed) and remembers its high-water mark in the table's properties, so the next call needs
  none; a full download replaces the table;
* uploads are validated against the column definitions before anything is sent; if any table fails, the
  import batch is not completed (``allow_partial=True`` restores the incumbent's behaviour);
* a table that cannot be read or written is reported as an error, never as skipped or successful.

Each result dict has the incumbent's keys ``domain``, ``table``, ``rows`` and ``status`` (``success``,
``skipped (no source data)``, ``skipped (empty)``, ``error: …``, ``error (write): …``) plus ``failed``,
``display_name``, ``target``, ``inserted``, ``updated``, ``deleted``, ``bytes``, ``duration_secs``,
``export_id``, ``import_id``, ``import_table_id`` and ``high_water_mark``.

Progress is logged to the ``titan_rdm_sdk`` logger, never printed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from titan_rdm_sdk._frames import FrameKind, from_arrow, high_water_mark_text, to_arrow
from titan_rdm_sdk._internal import (
    EXPORT_PATTERNS,
    IMPORT_PATTERNS,
    RawMemoryCatalog,
    RawSyncEngine,
)
from titan_rdm_sdk.exceptions import ValidationError
from titan_rdm_sdk.models import SyncTableResult

if TYPE_CHECKING:
    from titan_rdm_sdk.client import TitanRDMClient

__all__ = ["ConventionSync", "SparkSync"]

_log = logging.getLogger("titan_rdm_sdk")

# Where ConventionSync keeps the frames it moves: an in-memory catalog of the engine, one per call.
_MEMORY_CATALOG = "memory"
_MEMORY_SCHEMA = "convention"

# The engine's pattern names (for uploads also the legacy alias "incremental").
_DOWNLOAD_PATTERNS = EXPORT_PATTERNS
_UPLOAD_PATTERNS = IMPORT_PATTERNS


def _text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _pattern(value: object, allowed: tuple[str, ...]) -> str:
    text = getattr(value, "value", value)  # the ExportPattern / ImportPattern enums are accepted too
    if text not in allowed:
        raise ValidationError(f"pattern must be one of {', '.join(allowed)}; got {value!r}")
    return str(text)


def _names(value: object, name: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError(f"{name} must be a list of table names, got {value!r}")
    names = list(value)
    if not all(isinstance(v, str) for v in names):
        raise ValidationError(f"{name} must be a list of table names, got {value!r}")
    return [str(v) for v in names]


def _log_results(direction: str, results: list[SyncTableResult]) -> None:
    for r in results:
        level = logging.WARNING if r["failed"] else logging.INFO
        _log.log(level, "%s %s: %s rows, %s", direction, r["target"], r["rows"], r["status"])


class ConventionSync:
    """Convention sync between TitanRDM and dataframes held in Python.

    ``download_by_convention`` returns ``{key: frame}`` with keys ``{abbreviation}_{database_table_name}``;
    ``upload_by_convention`` takes such a dict, whose values may be pandas DataFrames, pyarrow Tables or
    polars DataFrames.

    ``concurrency`` bounds how many tables move at once (default: the engine's).
    """

    def __init__(self, client: TitanRDMClient, *, concurrency: int | None = None) -> None:
        raw = getattr(client, "_raw", None)
        if raw is None:
            raise ValidationError("client must be a titan_rdm_sdk.TitanRDMClient")
        self._client = client
        self._concurrency = concurrency

    def __repr__(self) -> str:
        return f"{type(self).__name__}(client={self._client!r})"

    def _upload(self, catalog: Any, names: tuple[str, str, str], **options: Any) -> list[SyncTableResult]:
        """Runs the engine's upload from ``catalog`` (names: catalog, schema, domain); logs and returns the
        per-table results."""
        engine = RawSyncEngine(self._client._raw, catalog, self._concurrency)
        results: list[SyncTableResult] = engine.upload(int(options.pop("branch_id")), *names, **options)[
            "tables"
        ]
        _log_results("upload", results)
        return results

    def _download(self, catalog: Any, names: tuple[str, str, str], **options: Any) -> list[SyncTableResult]:
        """Runs the engine's download into ``catalog`` (names: catalog, schema, domain); logs and returns
        the per-table results."""
        engine = RawSyncEngine(self._client._raw, catalog, self._concurrency)
        results: list[SyncTableResult] = engine.download(int(options.pop("branch_id")), *names, **options)
        _log_results("download", results)
        return results

    def upload_by_convention(
        self,
        branch_id: int,
        domain_name: str,
        dataframes: Mapping[str, Any],
        table_names: list[str] | None = None,
        description: str | None = None,
        correlation_code: str | None = None,
        pattern: str = "full",
        *,
        allow_partial: bool = False,
        dry_run: bool = False,
        allow_mass_delete: bool = False,
        upload_unchanged: bool = False,
        poll_interval: float = 2.0,
        max_wait: float = 300.0,
    ) -> list[SyncTableResult]:
        """Uploads the frames of ``dataframes`` that belong to the domain's deployed tables (optionally only
        ``table_names``, by display name) in one import batch, and waits for TitanRDM's results.

        ``pattern``: ``full``, ``incremental_upsert_only`` or ``incremental_with_delete`` (frames then carry
        ``trdm_tran_code``). A deployed table with no frame is ``skipped (no source data)``; an empty frame
        ``skipped (empty)``. Every frame is validated before anything is sent; if any table fails, nothing
        is completed unless ``allow_partial``.

        Before anything is sent, each table's upload is planned against a full export of the branch's
        current records (taken while the source is read; each result's ``plan`` holds the counts and the
        first changes). ``dry_run=True`` stops there: every table is ``planned`` and nothing is created on
        the server. A ``full`` upload that would delete more than half of a table's records is refused
        unless ``allow_mass_delete=True``; a table the upload would not change is ``skipped (unchanged)``
        (no import table, no versions) unless ``upload_unchanged=True``.
        """
        domain_name = _text("domain_name", domain_name)
        pattern = _pattern(pattern, _UPLOAD_PATTERNS)
        tables = _names(table_names, "table_names")
        if not isinstance(dataframes, Mapping):
            raise ValidationError("dataframes must be a dict of {abbreviation_table: frame}")
        memory = RawMemoryCatalog()
        for key, frame in dataframes.items():
            memory.write_table(
                _MEMORY_CATALOG, _MEMORY_SCHEMA, _text("dataframes key", key), to_arrow(frame, key)
            )
        domain = self._client.get_domain_by_name(domain_name)
        return self._upload(
            memory,
            (_MEMORY_CATALOG, _MEMORY_SCHEMA, domain_name),
            branch_id=branch_id,
            tables=tables,
            pattern=pattern,
            description=description or f"Convention sync upload for {domain_name}",
            correlation_code=correlation_code or f"convention-upload-{domain.abbreviation}",
            allow_partial=allow_partial,
            dry_run=dry_run,
            allow_mass_delete=allow_mass_delete,
            upload_unchanged=upload_unchanged,
            poll_interval=poll_interval,
            max_wait=max_wait,
        )

    def download_by_convention(
        self,
        branch_id: int,
        domain_name: str,
        table_names: list[str] | None = None,
        correlation_code: str | None = None,
        poll_interval: float = 2.0,
        max_wait: float = 300.0,
        pattern: str = "full",
        high_water_mark: str | datetime | None = None,
        include_history: bool = False,
        *,
        output: FrameKind = "pandas",
    ) -> tuple[list[SyncTableResult], dict[str, Any]]:
        """Downloads the domain's deployed tables (optionally only ``table_names``, by display name).

        Returns ``(results, frames)``; ``frames`` maps ``{abbreviation}_{database_table_name}`` to a frame of
        the kind ``output`` names (pandas by default), for every table that succeeded. With
        ``pattern="incremental"`` the frames hold the changes after ``high_water_mark`` (required here:
        there is no stored state), deleted records included as tombstones.
        """
        domain_name = _text("domain_name", domain_name)
        pattern = _pattern(pattern, _DOWNLOAD_PATTERNS)
        mark = high_water_mark_text(high_water_mark)
        if pattern == "incremental" and not mark:
            raise ValidationError("high_water_mark is required when pattern='incremental'")
        if output not in ("pandas", "arrow", "polars"):
            raise ValidationError(f"output must be 'pandas', 'arrow' or 'polars', got {output!r}")
        memory = RawMemoryCatalog()
        results = self._download(
            memory,
            (_MEMORY_CATALOG, _MEMORY_SCHEMA, domain_name),
            branch_id=branch_id,
            tables=_names(table_names, "table_names"),
            pattern=pattern,
            high_water_mark=mark,
            include_history=bool(include_history),
            correlation_code=correlation_code,
            poll_interval=poll_interval,
            max_wait=max_wait,
        )
        frames: dict[str, Any] = {}
        for r in results:
            if r["failed"]:
                continue
            key = r["target"].rsplit(".", 1)[-1]
            frames[key] = from_arrow(memory.read_table(_MEMORY_CATALOG, _MEMORY_SCHEMA, key), output)
        return results, frames


class SparkSync(ConventionSync):
    """Convention sync between TitanRDM and a Spark catalog: ``{catalog}.{schema}.{abbreviation}_{table}``.

    ``spark`` is a ``SparkSession`` (classic or Spark Connect); without it, the active session is used, and
    a ``RuntimeError`` says so when there is none.

    ``staging_location`` is a directory that this Python process and Spark both reach under the same path,
    on Databricks a Unity Catalog volume (``/Volumes/<catalog>/<schema>/<volume>/trdm``). Tables then cross
    between the engine and Spark as Parquet files there (each transfer in a directory of its own, removed
    afterwards, also on failure), which skips Spark's conversion between Arrow and its rows: most of the
    time of a large transfer where Spark is a cluster. The default, ``None``, stages in a temporary
    directory when Spark 3 runs on this machine (a classic ``local[...]`` session, whose direct way goes
    through pandas) and transfers directly otherwise (on one machine Spark 4 takes Arrow faster than it
    reads Parquet); ``False`` always transfers directly.
    """

    def __init__(
        self,
        client: TitanRDMClient,
        spark: Any | None = None,
        *,
        concurrency: int | None = None,
        staging_location: str | os.PathLike[str] | bool | None = None,
    ) -> None:
        super().__init__(client, concurrency=concurrency)
        if spark is None:
            from pyspark.sql import SparkSession

            spark = SparkSession.getActiveSession()
            if spark is None:
                raise RuntimeError("no active SparkSession: pass spark=... or start a session first")
        from titan_rdm_sdk._spark_catalog import SparkCatalog

        self._spark = spark
        try:
            self._catalog = SparkCatalog(spark, staging_location)
        except (TypeError, ValueError) as e:
            raise ValidationError(str(e)) from None

    def upload_sync_by_convention(
        self,
        branch_id: int,
        source_catalog: str,
        source_schema: str,
        target_domain_name: str,
        target_table_names: list[str] | None = None,
        description: str | None = None,
        correlation_code: str | None = None,
        pattern: str = "full",
        *,
        allow_partial: bool = False,
        dry_run: bool = False,
        allow_mass_delete: bool = False,
        upload_unchanged: bool = False,
        poll_interval: float = 2.0,
        max_wait: float = 300.0,
    ) -> list[SyncTableResult]:
        """Uploads ``{source_catalog}.{source_schema}.{abbreviation}_{table}`` for the domain's deployed
        tables (optionally only ``target_table_names``, by display name) in one import batch.

        A table that does not exist is ``skipped (no source data)``; one that exists but cannot be read is
        an error. Validation, batch completion, ``allow_partial`` and the checks (``dry_run``,
        ``allow_mass_delete``, ``upload_unchanged``) as in :meth:`ConventionSync.upload_by_convention`.
        """
        source_schema = _text("source_schema", source_schema)
        return self._upload(
            self._catalog,
            (
                _text("source_catalog", source_catalog),
                source_schema,
                _text("target_domain_name", target_domain_name),
            ),
            branch_id=branch_id,
            tables=_names(target_table_names, "target_table_names"),
            pattern=_pattern(pattern, _UPLOAD_PATTERNS),
            description=description or f"Convention sync upload from {source_schema}",
            correlation_code=correlation_code or f"convention-upload-{source_schema}",
            allow_partial=allow_partial,
            dry_run=dry_run,
            allow_mass_delete=allow_mass_delete,
            upload_unchanged=upload_unchanged,
            poll_interval=poll_interval,
            max_wait=max_wait,
        )

    def download_sync_by_convention(
        self,
        branch_id: int,
        target_catalog: str,
        target_schema: str,
        source_domain_name: str,
        source_table_names: list[str] | None = None,
        correlation_code: str | None = None,
        poll_interval: float = 2.0,
        max_wait: float = 300.0,
        pattern: str = "full",
        high_water_mark: str | datetime | None = None,
        include_history: bool = False,
        *,
        dry_run: bool = False,
    ) -> list[SyncTableResult]:
        """Downloads the domain's deployed tables (optionally only ``source_table_names``, by display name)
        into ``{target_catalog}.{target_schema}.{abbreviation}_{table}``, creating the schema if needed.

        ``pattern="full"`` replaces each table. ``pattern="incremental"`` merges the changes since
        ``high_water_mark`` (default: the mark the previous download stored in the table's properties; with
        none, a full download, said in the result) into the table by ``trdm_record_id``.

        ``dry_run=True`` reads the exports but writes nothing: every table is ``planned``, and its result's
        ``plan`` says how many rows the target would gain (``inserted``), change (``updated``) and lose
        (``deleted``), with the first changes.
        """
        # Spark warms up while TitanRDM prepares the exports (see SparkCatalog.warm_up).
        warming = self._catalog.warm_up()
        try:
            return self._download(
                self._catalog,
                (
                    _text("target_catalog", target_catalog),
                    _text("target_schema", target_schema),
                    _text("source_domain_name", source_domain_name),
                ),
                branch_id=branch_id,
                tables=_names(source_table_names, "source_table_names"),
                pattern=_pattern(pattern, _DOWNLOAD_PATTERNS),
                high_water_mark=high_water_mark_text(high_water_mark),
                include_history=bool(include_history),
                correlation_code=correlation_code,
                dry_run=bool(dry_run),
                poll_interval=poll_interval,
                max_wait=max_wait,
            )
        finally:
            warming.join()
