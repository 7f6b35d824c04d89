"""Names of TitanRDM's system columns, and the helper that turns a downloaded table into an uploadable one.

An export file holds the table's own columns, then the system columns below in this order, then
``trdm_tran_code`` (``i``/``u``/``d``; empty in a plain full export, filled in incremental and history
exports). The values match ``titan-rdm-sdk`` 2.0.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

from titan_rdm_sdk._internal import EXPORT_SYSTEM_COLUMNS as _EXPORT_SYSTEM_COLUMNS
from titan_rdm_sdk._internal import TRAN_CODE_COLUMN as _TRAN_CODE_COLUMN

__all__ = [
    "EXPORT_SYSTEM_COLUMNS",
    "HIGH_DATE",
    "REMOVED_SYSTEM_COLUMNS",
    "SYSTEM_COLUMNS",
    "TRAN_CODE_COLUMN",
    "prepare_export_for_import",
]

#: Every column an export appends to the table's own, in file order (from the compiled core, which reads and
#: writes these files).
EXPORT_SYSTEM_COLUMNS: tuple[str, ...] = tuple(_EXPORT_SYSTEM_COLUMNS)

#: The transaction-code column: last in every export, required by ``incremental_with_delete`` uploads and
#: refused by the other patterns.
TRAN_CODE_COLUMN: str = _TRAN_CODE_COLUMN

#: The system columns the service maintains itself, in the order an export writes them.
SYSTEM_COLUMNS: tuple[str, ...] = tuple(c for c in EXPORT_SYSTEM_COLUMNS if c != TRAN_CODE_COLUMN)

#: System columns found only in files from older servers.
REMOVED_SYSTEM_COLUMNS: tuple[str, ...] = ("trdm_updated_at", "trdm_updated_by")

#: The ``trdm_effective_to`` of a current version, as the service writes it.
HIGH_DATE = "9999-12-31T00:00:00+00"

_Frame = TypeVar("_Frame")


def _column_names(data: object) -> list[Any]:
    names = getattr(data, "column_names", None)  # pyarrow.Table
    if names is None:
        names = getattr(data, "columns", None)  # pandas / polars
    if names is None:
        raise TypeError(
            "prepare_export_for_import takes a pandas DataFrame, a pyarrow Table or a polars DataFrame, "
            f"not {type(data).__name__}"
        )
    return list(names)


def prepare_export_for_import(df: _Frame, keep_tran_code: bool = True) -> _Frame:
    """A downloaded table reduced to what an upload may carry: the table's own columns, plus
    ``trdm_tran_code`` moved last when ``keep_tran_code`` is true (for an ``incremental_with_delete``
    upload; pass ``False`` for ``full`` and ``incremental_upsert_only``, which refuse the column).

    The system columns (:data:`SYSTEM_COLUMNS` and the older :data:`REMOVED_SYSTEM_COLUMNS`) are dropped.
    Takes a pandas DataFrame (the usual case, from :meth:`Download.receive`), a pyarrow Table or a polars
    DataFrame, and returns a new object of the same kind; the input is not changed.
    """
    dropped = set(SYSTEM_COLUMNS) | set(REMOVED_SYSTEM_COLUMNS) | {TRAN_CODE_COLUMN}
    names = _column_names(df)
    kept = [n for n in names if n not in dropped]
    if keep_tran_code and TRAN_CODE_COLUMN in names:
        kept.append(TRAN_CODE_COLUMN)
    data: Any = df
    if _is_pandas(data):
        return cast(_Frame, data.loc[:, kept].copy())
    return cast(_Frame, data.select(kept))


def _is_pandas(data: object) -> bool:
    module = type(data).__module__
    return module.startswith("pandas.") and hasattr(data, "loc")
