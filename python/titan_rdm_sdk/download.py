"""``Download``: one export of one table, and its file as a typed DataFrame.

The export is created when the object is (as ``titan-rdm-sdk`` does); polling, the transfer and CSV parsing
happen in the compiled core with the GIL released. Columns are typed from the table's column definitions,
never guessed from the data: ``"007"`` in a ``varchar`` stays ``"007"``, an ``integer`` column with NULLs is
pandas ``Int32`` with ``<NA>``, a ``decimal(14,2)`` holds exact :class:`decimal.Decimal` values.

What the file holds, by ``pattern`` and ``include_history``:

* ``full``: the current version of every record that is not deleted; with history, every version of every
  record, deleted ones included.
* ``incremental``: the current version of every record changed after ``high_water_mark``, tombstones
  included (so deletes can be applied downstream); with history, every version written after it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from titan_rdm_sdk._frames import from_arrow, high_water_mark_text
from titan_rdm_sdk._internal import RawDownload, RedactedUrl
from titan_rdm_sdk.client import _key
from titan_rdm_sdk.exceptions import ValidationError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from titan_rdm_sdk.client import TitanRDMClient
    from titan_rdm_sdk.models import ExportPatternLiteral

__all__ = ["Download"]

_TRUE = frozenset({"true", "t", "1", "yes", "y"})
_FALSE = frozenset({"false", "f", "0", "no", "n"})


def _coerce_bool_column(df: pd.DataFrame, name: str) -> None:
    """Turns a text column of ``true``/``false`` (also ``t``/``f``, ``1``/``0``, ``yes``/``no``, ``y``/``n``)
    into a nullable boolean one; a column holding anything else is left as it is."""
    import pandas as pd

    column = df[name]
    if isinstance(column.dtype, pd.BooleanDtype):
        return
    converted: list[bool | None] = []
    for value in column:
        if value is None or value is pd.NA or (isinstance(value, float) and value != value):
            converted.append(None)
            continue
        if isinstance(value, bool):
            converted.append(value)
            continue
        text = str(value).strip().lower()
        if text in _TRUE:
            converted.append(True)
        elif text in _FALSE:
            converted.append(False)
        else:
            return
    df[name] = pd.array(converted, dtype="boolean")


class Download:
    """An export of one table of a branch, created on construction (``TitanRDMClient.get_download`` is the
    usual way in).

    Attributes mirror the export as the service last reported it: ``id``, ``status`` (``created``,
    ``started``, ``completed`` or ``failed``), ``message``, ``started_datetime``, ``completed_datetime``,
    ``rows_exported``, ``files_exported``, ``bytes_exported``, ``compressed``, ``duration_secs`` and
    ``download_url`` (a :class:`~titan_rdm_sdk._internal.RedactedUrl`: it prints without its signature;
    ``.expose()`` gives the real URL), besides the request's ``branch_id``, ``table_definition_key``,
    ``pattern``, ``correlation_code``, ``high_water_mark`` and ``include_history``.

    Raises ``ValidationError`` for a bad pattern, an incremental export without ``high_water_mark`` or a mark
    that is not ISO 8601 (before any request), ``APIError`` if the service refuses the export.
    """

    VALID_PATTERNS = ("full", "incremental")

    #: Statuses meaning the file can be downloaded (``ready`` is an older servers' spelling of ``completed``).
    READY_STATUSES = ("completed", "ready")

    def __init__(
        self,
        client: TitanRDMClient,
        branch_id: int,
        table_definition_key: int | str,
        pattern: ExportPatternLiteral | str = "full",
        correlation_code: str | None = None,
        high_water_mark: str | datetime | None = None,
        include_history: bool = False,
    ) -> None:
        pattern = str(pattern)
        if pattern not in self.VALID_PATTERNS:
            raise ValidationError(f"pattern must be 'full' or 'incremental', got {pattern!r}")
        mark = high_water_mark_text(high_water_mark) or None
        if pattern == "incremental" and mark is None:
            raise ValidationError("an incremental export needs a high_water_mark")
        self._client = client
        self.branch_id: int = int(branch_id)
        self.table_definition_key: str = _key(table_definition_key)
        self.pattern: str = pattern
        self.correlation_code: str | None = correlation_code
        self.high_water_mark: str | None = mark
        self.include_history: bool = bool(include_history)
        self.id: int | None = None
        self.status: str | None = None
        self.message: str | None = None
        self.started_datetime: str | None = None
        self.completed_datetime: str | None = None
        self.rows_exported: int | None = None
        self.files_exported: int | None = None
        self.bytes_exported: int | None = None
        self.compressed: bool = False
        self.duration_secs: float | None = None
        self.download_url: RedactedUrl | None = None
        self._raw = RawDownload.create(
            client._raw,
            self.branch_id,
            self.table_definition_key,
            pattern,
            correlation_code,
            mark,
            self.include_history,
        )
        self._update(self._raw.info())

    def _update(self, data: dict[str, Any]) -> None:
        self.id = data.get("id", self.id)
        self.status = data.get("status", self.status)
        self.message = data.get("message")
        self.started_datetime = data.get("started_datetime")
        self.completed_datetime = data.get("complete_datetime")
        self.rows_exported = data.get("rows_exported")
        self.files_exported = data.get("files_exported")
        self.bytes_exported = data.get("bytes_exported")
        self.compressed = bool(data.get("compressed", False))
        self.duration_secs = data.get("duration_secs")
        self.download_url = self._raw.download_url
        if data.get("branch_id") is not None:
            self.branch_id = data["branch_id"]
        for name in ("table_definition_key", "pattern", "correlation_code", "high_water_mark"):
            if data.get(name):
                setattr(self, name, data[name])
        if data.get("include_history") is not None:
            self.include_history = bool(data["include_history"])

    def __repr__(self) -> str:
        return (
            f"Download(id={self.id!r}, table_definition_key={self.table_definition_key!r}, "
            f"pattern={self.pattern!r}, include_history={self.include_history!r}, status={self.status!r})"
        )

    @property
    def is_ready(self) -> bool:
        """Whether the file can be downloaded (as of the last status check)."""
        return self.status in self.READY_STATUSES

    def check_status(self) -> str:
        """Reads the export's status from the service, updates the attributes and returns the status."""
        self._update(self._raw.refresh())
        return self.status or ""

    def wait_until_ready(self, poll_interval: float = 2.0, max_wait: float = 300.0) -> str:
        """Polls until the export completes (first after 0.25 s, each wait 1.5x the last up to ``poll_interval`` seconds)
        and returns its status.

        Raises ``ExportFailedError`` if it fails and the built-in ``TimeoutError`` if it is still running
        after ``max_wait`` seconds. The attributes reflect the last poll either way. Waiting releases the GIL.
        """
        try:
            return self._raw.wait(float(poll_interval), float(max_wait))
        finally:
            self._update(self._raw.info())

    def receive_arrow(self) -> pa.Table:
        """The export's file as a ``pyarrow.Table`` typed from the table's column definitions (field metadata
        ``trdm.type`` holds each column's TitanRDM type): the table's columns, then the system columns.

        Checks the status first unless the export is known to be ready: ``ExportFailedError`` if it failed,
        ``ExportNotReadyError`` if it is still running (``wait_until_ready()`` waits). Download and decoding
        run in the core, streaming, with the GIL released.
        """
        try:
            table: pa.Table = self._raw.read_arrow()
            return table
        finally:
            self._update(self._raw.info())

    def receive(self, bool_columns: Iterable[str] | None = None) -> pd.DataFrame:
        """The export's file as a pandas DataFrame, typed from the table's column definitions (integers and
        booleans as pandas' nullable ``Int16``/``Int32``/``Int64`` and ``boolean``, text as ``object`` with
        ``None`` for NULL, as the incumbent's; decimals as ``Decimal``, dates as ``datetime.date``, timestamps
        as ``datetime64[us, UTC]``). ``trdm_is_deleted``
        and the table's ``boolean`` columns are booleans already; ``bool_columns`` names further text columns
        to read as booleans (``true``/``false``, ``t``/``f``, ...). Errors as :meth:`receive_arrow`.
        """
        frame: pd.DataFrame = from_arrow(self.receive_arrow(), "pandas")
        for name in bool_columns or ():
            if name in frame.columns:
                _coerce_bool_column(frame, name)
        return frame
