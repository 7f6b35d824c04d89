"""Moving tables between the dataframe libraries users hold and Arrow, which is what the Rust core speaks.

Downloads arrive as Arrow typed from TitanRDM's column definitions; the conversions here keep those types:
codes stay strings (``"007"``), integer columns with NULLs stay integer (pandas' nullable ``Int64`` and
friends), decimals stay :class:`decimal.Decimal`, timestamps with a zone stay zoned. Nothing here looks at
values to decide a type.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

from titan_rdm_sdk.exceptions import ValidationError

FrameKind = Literal["pandas", "arrow", "polars"]
"""What a download returns: ``pandas`` (the incumbent's), ``arrow`` (``pyarrow.Table``) or ``polars``."""


def _pyarrow() -> Any:
    try:
        import pyarrow
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("moving data needs pyarrow: pip install 'trdm[pandas]'") from err
    return pyarrow


def to_arrow(frame: Any, what: str) -> Any:
    """Any table-like object as a ``pyarrow.Table``: Arrow PyCapsule exporters (pyarrow, polars, DuckDB
    relations, ...) without a copy, pandas through ``pyarrow.Table.from_pandas`` without its index."""
    pa = _pyarrow()
    if isinstance(frame, pa.Table):
        return frame
    if hasattr(frame, "__arrow_c_stream__") and not _is_pandas(frame):
        return pa.table(frame)
    if _is_pandas(frame):
        return pa.Table.from_pandas(frame, preserve_index=False)
    raise ValidationError(
        f"{what}: expected a pandas DataFrame, a pyarrow Table or a polars DataFrame, got {type(frame).__name__}"
    )


def _is_pandas(frame: Any) -> bool:
    module = type(frame).__module__
    return module.startswith("pandas.") and type(frame).__name__ == "DataFrame"


def _pandas_types(pa: Any, pd: Any) -> dict[Any, Any]:
    """Arrow types whose pandas default would lose something, and the nullable dtype that keeps it."""
    return {
        pa.int8(): pd.Int8Dtype(),
        pa.int16(): pd.Int16Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(),
        pa.bool_(): pd.BooleanDtype(),
    }


def from_arrow(table: Any, kind: FrameKind) -> Any:
    """A downloaded ``pyarrow.Table`` as the frame type the caller asked for."""
    if kind == "arrow":
        return table
    if kind == "polars":
        import polars

        return polars.from_arrow(table)
    if kind == "pandas":
        import pandas as pd

        mapping = _pandas_types(_pyarrow(), pd)
        return table.to_pandas(types_mapper=mapping.get)
    raise ValidationError(f"output must be 'pandas', 'arrow' or 'polars', got {kind!r}")


def high_water_mark_text(value: str | datetime | None) -> str | None:
    """A high-water mark as ISO 8601 text; a naive ``datetime`` means UTC."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.isoformat()
    raise ValidationError(f"high_water_mark must be an ISO 8601 string or a datetime, got {value!r}")
