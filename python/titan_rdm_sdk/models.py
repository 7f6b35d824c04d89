"""Typed results of the client's lookups, with the incumbent SDK's class and attribute names.

Each model is built from the plain dict the compiled core returns (:meth:`from_dict`); unknown keys are
ignored, so the core can grow fields without breaking these classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any, Literal, TypedDict, TypeVar

_M = TypeVar("_M")


class SyncTableResult(TypedDict):
    """One table of a convention sync's results: the shape the engine serialises (``trdm-sync``'s
    ``TableResult``), identical to each table of the CLI's ``--output json``. ``table``, ``rows`` and
    ``status`` (``success``, ``skipped (no source data)``, ``skipped (empty)``, ``error: …``,
    ``error (write): …``) are the incumbent's keys and strings; the rest are ours, and so are the statuses
    ``skipped (unchanged)`` and ``planned``."""

    domain: str
    table: str
    display_name: str
    target: str
    rows: int
    status: str
    failed: bool
    inserted: int | None
    updated: int | None
    deleted: int | None
    bytes: int
    duration_secs: float
    export_id: int | None
    import_id: int | None
    import_table_id: int | None
    high_water_mark: str | None
    applied: bool | None
    note: str | None
    plan: dict[str, Any] | None
    """Uploads: ``{"current", "inserted", "updated", "deleted", "unchanged", "changes", "missing_columns"}``
    (``changes``: the first ones, each ``{"change", "key", "columns": [{"column", "old", "new"}]}``)."""


def _known(cls: type[Any], data: dict[str, Any]) -> dict[str, Any]:
    """The items of ``data`` that are fields of ``cls``."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


@dataclass
class Branch:
    """A branch: ``prod``, ``test`` or a developer's private branch."""

    id: int | None = None
    name: str | None = None
    description: str | None = None
    branch_type: str | None = None
    status: str | None = None
    database_suffix: str | None = None
    is_default_dev_branch: bool = False
    is_integration_branch: bool = False
    parent_branch_id: int | None = None
    parent_branch_name: str | None = None
    owner_id: int | None = None
    owner_email: str | None = None
    created_at: str | None = None
    updated_at: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Branch:
        """Builds a branch from the core's dict."""
        return cls(**_known(cls, data))


@dataclass
class Domain:
    """A subject area; its ``abbreviation`` prefixes convention-sync table names (``clin_sites``)."""

    id: int | None = None
    name: str | None = None
    abbreviation: str | None = None
    description: str | None = None
    created_at: str | None = None
    updated_at: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Domain:
        """Builds a domain from the core's dict."""
        return cls(**_known(cls, data))


@dataclass
class DeployedColumnDefinition:
    """One column of a deployed table."""

    id: int | None = None
    key: str | None = None
    name: str | None = None
    data_type: str | None = None
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    is_primary_key: bool = False
    is_required: bool = False
    display_order: int | None = None
    is_deleted: bool = False
    description: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeployedColumnDefinition:
        """Builds a column from the core's dict."""
        return cls(**_known(cls, data))


@dataclass
class DeployedTableDefinition:
    """A table as deployed on one branch, with its columns."""

    id: int | None = None
    key: str | None = None
    name: str | None = None
    database_table_name: str | None = None
    description: str | None = None
    allow_manual_rows: bool | None = None
    table_definition_id: int | None = None
    domain_id: int | None = None
    domain_name: str | None = None
    domain_abbreviation: str | None = None
    branch_id: int | None = None
    branch_name: str | None = None
    column_definitions: list[DeployedColumnDefinition] = field(default_factory=list)
    created_at: str | None = None
    updated_at: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeployedTableDefinition:
        """Builds a table from the core's dict (whose column list is called ``columns``)."""
        values = _known(cls, data)
        columns = data.get("columns") or data.get("column_definitions") or []
        values["column_definitions"] = [DeployedColumnDefinition.from_dict(c) for c in columns]
        return cls(**values)

    @property
    def primary_key_columns(self) -> list[str]:
        """Names of the primary-key columns that are not deleted."""
        return [c.name for c in self.column_definitions if c.is_primary_key and not c.is_deleted and c.name]


@dataclass
class ImportMapping:
    """How a file's columns map onto a table's columns."""

    id: int | None = None
    key: str | None = None
    table_definition_id: int | None = None
    table_definition_name: str | None = None
    name: str | None = None
    is_default: bool = False
    branch_id: int | None = None
    branch_name: str | None = None
    mapping_config: dict[str, Any] = field(default_factory=dict)
    created_at: str | None = None
    updated_at: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImportMapping:
        """Builds a mapping from the core's dict."""
        values = _known(cls, data)
        if not isinstance(values.get("mapping_config"), dict):
            values["mapping_config"] = {}
        return cls(**values)


@dataclass
class ImportTableResult:
    """What happened to one table file of an import (:meth:`Upload.get_results`).

    The three row counts are filled for every pattern once the table has been processed: records inserted,
    records given a new version, records tombstoned.
    """

    id: int | None = None
    status: str | None = None
    message: str | None = None
    pattern: str | None = None
    file_size: int | None = None
    insert_row_count: int | None = None
    update_row_count: int | None = None
    delete_row_count: int | None = None
    duration_secs: float | None = None
    start_datetime: str | None = None
    end_datetime: str | None = None
    table_definition_key: str | None = None
    table_definition_name: str | None = None
    actions: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImportTableResult:
        """Builds a result from the core's dict (or the service's JSON, whose table is nested)."""
        values = _known(cls, data)
        nested = data.get("deployed_table_definition")
        if isinstance(nested, dict):
            if values.get("table_definition_key") is None:
                values["table_definition_key"] = nested.get("key")
            if values.get("table_definition_name") is None:
                values["table_definition_name"] = nested.get("name")
        if values.get("table_definition_key") is not None:
            values["table_definition_key"] = str(values["table_definition_key"])
        if not isinstance(values.get("actions"), list):
            values["actions"] = []
        return cls(**values)

    @classmethod
    def from_api_response(cls, data: dict[str, Any]) -> ImportTableResult:
        """The incumbent's name for :meth:`from_dict`."""
        return cls.from_dict(data)


class ExportPattern(str, Enum):
    """What an export contains: every current record, or the changes after a high-water mark."""

    FULL = "full"
    INCREMENTAL = "incremental"

    def __str__(self) -> str:
        return self.value


class ImportPattern(str, Enum):
    """How an uploaded file is applied (``incremental`` is the legacy name of ``incremental_upsert_only``)."""

    FULL = "full"
    INCREMENTAL_UPSERT_ONLY = "incremental_upsert_only"
    INCREMENTAL_WITH_DELETE = "incremental_with_delete"
    INCREMENTAL = "incremental"

    def __str__(self) -> str:
        return self.value


class TranCode(str, Enum):
    """Values of the ``trdm_tran_code`` column."""

    INSERT = "i"
    UPDATE = "u"
    DELETE = "d"

    def __str__(self) -> str:
        return self.value


ExportPatternLiteral = Literal["full", "incremental"]
ImportPatternLiteral = Literal["full", "incremental_upsert_only", "incremental_with_delete", "incremental"]
TranCodeLiteral = Literal["i", "u", "d"]
