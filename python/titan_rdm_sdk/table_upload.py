"""``TableUpload``: one table's file in an import batch.

``send`` takes a pandas DataFrame, a pyarrow Table or RecordBatchReader, a polars DataFrame or anything else
exporting an Arrow C stream. The compiled core checks every value against the table's column definitions
(types, lengths, precision, required values, primary keys unique within the file, ``trdm_tran_code``) and
writes the file in the service's CSV dialect before anything is sent; then it streams the file to the
presigned URL and announces it. The service then applies it by ``pattern``:

* ``full``: the file is the whole table; records missing from it are deleted (unless the table allows rows
  to be added by hand).
* ``incremental_upsert_only`` (legacy spelling ``incremental``): inserts and updates; nothing is deleted.
* ``incremental_with_delete``: inserts, updates and deletes by each row's ``trdm_tran_code``
  (``i``/``u``/``d``, any case); the column is required here and refused by the other patterns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from titan_rdm_sdk._internal import RawTableUpload, RedactedUrl
from titan_rdm_sdk.client import _key
from titan_rdm_sdk.exceptions import ValidationError

if TYPE_CHECKING:
    from titan_rdm_sdk._internal import ArrowStreamExportable
    from titan_rdm_sdk.client import TitanRDMClient
    from titan_rdm_sdk.models import ImportPatternLiteral
    from titan_rdm_sdk.upload import Upload

__all__ = ["TableUpload"]


def _arrow_stream(data: object) -> ArrowStreamExportable:
    """``data`` as an object exporting an Arrow C stream. pandas goes through pyarrow without its index (a
    pandas frame's own ``__arrow_c_stream__`` would keep a non-default index as a column)."""
    if type(data).__module__.startswith("pandas.") and hasattr(data, "columns"):
        import pyarrow as pa

        table: ArrowStreamExportable = pa.Table.from_pandas(cast(Any, data), preserve_index=False)
        return table
    if hasattr(data, "__arrow_c_stream__"):
        return cast("ArrowStreamExportable", data)
    raise TypeError(
        "send() takes a pandas or polars DataFrame, a pyarrow Table or RecordBatchReader, or any object with "
        f"__arrow_c_stream__; got {type(data).__name__}"
    )


class TableUpload:
    """A table file in an import batch; its slot (and presigned URL) is created on construction, usually by
    :meth:`Upload.get_table_upload`.

    Attributes: ``id``, ``status``, ``message``, ``s3_key``, ``created_at``, ``file_size``,
    ``insert_row_count``, ``update_row_count``, ``delete_row_count``, ``duration_secs``, ``start_datetime``,
    ``end_datetime``, ``primary_key_columns``, ``deployed_table_definition_id``, besides the request's
    ``table_definition_key``, ``import_mapping_key``, ``pattern``, ``correlation_code`` and ``validate_data``.
    ``signed_s3_url`` is a :class:`~titan_rdm_sdk._internal.RedactedUrl`: it prints without its signature, and
    ``.expose()`` gives the real URL.

    Raises ``ValidationError`` for a missing or unknown pattern or key (before any request), ``APIError`` if
    the table is not deployed on the batch's branch or the service refuses the slot.
    """

    VALID_PATTERNS = ("full", "incremental_upsert_only", "incremental_with_delete", "incremental")

    #: The patterns whose file is a delta rather than the whole table.
    INCREMENTAL_PATTERNS = ("incremental_upsert_only", "incremental_with_delete", "incremental")

    def __init__(
        self,
        client: TitanRDMClient,
        upload: Upload,
        table_definition_key: int | str,
        import_mapping_key: int | str,
        pattern: ImportPatternLiteral | str,
        correlation_code: str | None = None,
        validate_data: bool = True,
    ) -> None:
        if pattern is None or str(pattern) not in self.VALID_PATTERNS:
            raise ValidationError(
                f"pattern is required and must be one of {', '.join(self.VALID_PATTERNS)}; got {pattern!r}"
            )
        if table_definition_key is None:
            raise ValidationError("table_definition_key is required")
        if import_mapping_key is None:
            raise ValidationError("import_mapping_key is required")
        if upload.id is None:
            raise ValidationError("the upload has no id: it was not created")
        self._client = client
        self._upload = upload
        self.table_definition_key: str = _key(table_definition_key)
        self.import_mapping_key: str = _key(import_mapping_key)
        self.pattern: str = str(pattern)
        self.correlation_code: str | None = correlation_code
        #: The file is always checked against the column definitions (encoding it needs that); kept for the
        #: incumbent's signature.
        self.validate_data: bool = bool(validate_data)
        self.id: int | None = None
        self.status: str | None = None
        self.message: str | None = None
        self.s3_key: str | None = None
        self.created_at: str | None = None
        self.file_size: int | None = None
        self.insert_row_count: int | None = None
        self.update_row_count: int | None = None
        self.delete_row_count: int | None = None
        self.duration_secs: float | None = None
        self.start_datetime: str | None = None
        self.end_datetime: str | None = None
        self.rows_sent: int | None = None
        self._raw = RawTableUpload.create(
            client._raw,
            upload.id,
            upload.branch_id,
            self.table_definition_key,
            self.import_mapping_key,
            self.pattern,
            correlation_code,
        )
        self.deployed_table_definition_id: int = self._raw.deployed_table_definition_id
        self.primary_key_columns: list[str] = self._raw.primary_key_columns
        self._update(self._raw.info())

    def _update(self, data: dict[str, Any]) -> None:
        self.id = data.get("id", self.id)
        self.status = data.get("status", self.status)
        self.message = data.get("message")
        self.s3_key = data.get("s3_key")
        self.created_at = data.get("created_date") or data.get("created_at")
        self.file_size = data.get("file_size")
        self.insert_row_count = data.get("insert_row_count")
        self.update_row_count = data.get("update_row_count")
        self.delete_row_count = data.get("delete_row_count")
        self.duration_secs = data.get("duration_secs")
        self.start_datetime = data.get("start_datetime")
        self.end_datetime = data.get("end_datetime")
        for name in ("pattern", "correlation_code"):
            if data.get(name):
                setattr(self, name, data[name])

    @property
    def signed_s3_url(self) -> RedactedUrl | None:
        """The presigned ``PUT`` URL, redacted when printed (``.expose()`` gives it in full)."""
        return self._raw.signed_s3_url

    def __repr__(self) -> str:
        return (
            f"TableUpload(id={self.id!r}, table_definition_key={self.table_definition_key!r}, "
            f"pattern={self.pattern!r}, status={self.status!r})"
        )

    def send(self, df: object) -> TableUpload:
        """Validates ``df`` against the table's column definitions, sends it as this table's file and tells
        the service it is there; returns self.

        Raises ``ValidationError`` naming table, column, row and value for data the table cannot hold (a
        wrong type, text too long, a missing required value, a repeated primary key, a bad or misplaced
        ``trdm_tran_code``, a column the table does not have); nothing is sent then. ``UploadError`` if the
        transfer fails (the service is told), ``APIError`` if announcing the file fails. Encoding and
        transfer run in the core with the GIL released; the file is streamed from a temporary file.
        """
        data = self._raw.send(_arrow_stream(df))
        self.rows_sent = data.get("rows_sent")
        self._update(data)
        return self
