"""``Upload``: one import batch, holding one file per table (:class:`~titan_rdm_sdk.TableUpload`).

The usual sequence: ``client.get_upload(branch_id)``, then per table
``upload.get_table_upload(...).send(df)``, then ``upload.complete()``, then ``upload.get_results()`` (or
``wait_for_results()``) for the per-table counts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from titan_rdm_sdk._internal import RawUpload
from titan_rdm_sdk.exceptions import ValidationError
from titan_rdm_sdk.models import ImportTableResult
from titan_rdm_sdk.table_upload import TableUpload

if TYPE_CHECKING:
    from titan_rdm_sdk.client import TitanRDMClient
    from titan_rdm_sdk.models import ImportPatternLiteral

__all__ = ["Upload"]


class Upload:
    """An import batch on a branch, created on construction (``TitanRDMClient.get_upload`` is the usual way
    in).

    Attributes mirror the batch as the service last reported it: ``id``, ``status`` (``created``,
    ``processing``, ``completed``, ``completed_with_errors`` or ``failed``), ``message``, ``created_date``,
    ``file_size``, ``insert_row_count``, ``update_row_count``, ``delete_row_count`` and ``duration_secs``,
    besides the request's ``branch_id``, ``description`` and ``correlation_code``.
    """

    def __init__(
        self,
        client: TitanRDMClient,
        branch_id: int,
        description: str | None = None,
        correlation_code: str | None = None,
    ) -> None:
        if branch_id is None:
            raise ValidationError("branch_id is required")
        self._client = client
        self.branch_id: int = int(branch_id)
        self.description: str | None = description
        self.correlation_code: str | None = correlation_code
        self.id: int | None = None
        self.status: str | None = None
        self.message: str | None = None
        self.created_date: str | None = None
        self.file_size: int | None = None
        self.insert_row_count: int | None = None
        self.update_row_count: int | None = None
        self.delete_row_count: int | None = None
        self.duration_secs: float | None = None
        self._raw = RawUpload.create(client._raw, self.branch_id, description, correlation_code)
        self._update(self._raw.info())

    def _update(self, data: dict[str, Any]) -> None:
        self.id = data.get("id", self.id)
        self.status = data.get("status", self.status)
        self.message = data.get("message")
        self.created_date = data.get("created_date") or data.get("created_at")
        self.file_size = data.get("file_size")
        self.insert_row_count = data.get("insert_row_count")
        self.update_row_count = data.get("update_row_count")
        self.delete_row_count = data.get("delete_row_count")
        self.duration_secs = data.get("duration_secs")
        for name in ("description", "correlation_code"):
            if data.get(name):
                setattr(self, name, data[name])

    def __repr__(self) -> str:
        return f"Upload(id={self.id!r}, branch_id={self.branch_id!r}, status={self.status!r})"

    def get_table_upload(
        self,
        table_definition_key: int | str,
        import_mapping_key: int | str,
        pattern: ImportPatternLiteral | str,
        correlation_code: str | None = None,
        validate_data: bool = True,
    ) -> TableUpload:
        """Adds a file for one table to this batch; send its data with :meth:`TableUpload.send`.

        ``pattern`` is required (it decides whether records missing from the file are deleted): ``full``,
        ``incremental_upsert_only``, ``incremental_with_delete`` or the legacy ``incremental``.
        """
        return TableUpload(
            client=self._client,
            upload=self,
            table_definition_key=table_definition_key,
            import_mapping_key=import_mapping_key,
            pattern=pattern,
            correlation_code=correlation_code,
            validate_data=validate_data,
        )

    def get_results(self) -> list[ImportTableResult]:
        """The batch's tables with their status and counts, as of now (tables still being processed have no
        counts yet; :meth:`wait_for_results` waits). Updates this object's attributes too."""
        data = self._raw.results()
        self._update(data["import"])
        return [ImportTableResult.from_dict(t) for t in data["tables"]]

    def wait_for_results(
        self, poll_interval: float = 2.0, max_wait: float = 300.0
    ) -> list[ImportTableResult]:
        """Polls until the batch has settled (it finished, or every table in it did), then returns
        :meth:`get_results`. Raises the built-in ``TimeoutError`` after ``max_wait`` seconds. Not in the
        incumbent SDK. Waiting releases the GIL."""
        data = self._raw.wait(float(poll_interval), float(max_wait))
        self._update(data["import"])
        return [ImportTableResult.from_dict(t) for t in data["tables"]]

    def complete(self, message: str | None = None) -> Upload:
        """Tells the service every file of the batch is in place, so it finishes processing; returns self."""
        self._update(self._raw.complete(message))
        return self
