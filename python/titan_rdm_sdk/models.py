"""Typed results of the client's lookups, with the incumbent SDK's class and attribute names.

Each model is built from the plain dict the compiled core returns (:meth:`from_dict`); unknown keys are
ignored, so the core can grow fields without breaking these classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any, Literal, TypeVar

_M = TypeVar("_M")


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
