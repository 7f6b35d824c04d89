"""Type stubs for the compiled core ``titan_rdm_sdk._internal`` (private API)."""

from typing import Any, Literal, Protocol

from titan_rdm_sdk.models import SyncTableResult

class ArrowStreamExportable(Protocol):
    """Anything exporting an Arrow C stream: pyarrow/arro3/polars/nanoarrow tables and readers."""

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...

__version__: str
EXPORT_SYSTEM_COLUMNS: tuple[str, ...]
TRAN_CODE_COLUMN: str
IMPORT_PATTERNS: tuple[str, ...]
EXPORT_PATTERNS: tuple[str, ...]

class TitanRDMError(Exception): ...
class AuthenticationError(TitanRDMError): ...

class APIError(TitanRDMError):
    status_code: int | None
    response: dict[str, Any] | None

class ValidationError(TitanRDMError): ...
class ExportNotReadyError(TitanRDMError): ...
class ExportFailedError(TitanRDMError): ...
class UploadError(TitanRDMError): ...

class RawClient:
    @staticmethod
    def connect(url: str, client_id: str, client_secret: str) -> RawClient: ...
    @property
    def url(self) -> str: ...
    def branches(self) -> list[dict[str, Any]]: ...
    def branch(self, branch_id: int) -> dict[str, Any]: ...
    def branch_by_name(self, name: str, owner_id: int | None = None) -> dict[str, Any]: ...
    def domains(self) -> list[dict[str, Any]]: ...
    def domain(self, domain_id: int) -> dict[str, Any]: ...
    def domain_by_name(self, name: str) -> dict[str, Any]: ...
    def deployed_table_definitions(
        self, branch_id: int, domain_id: int | None = None
    ) -> list[dict[str, Any]]: ...
    def deployed_table_definition(self, key: str, branch_id: int) -> dict[str, Any]: ...
    def default_import_mapping(self, table_definition_id: int) -> dict[str, Any]: ...
    def import_mapping_by_key(self, table_definition_id: int, key: str) -> dict[str, Any]: ...

class RedactedUrl:
    """A presigned URL that prints redacted (``str``/``repr`` hide the query and credentials)."""

    def expose(self) -> str:
        """The full URL, signature included."""
    def __bool__(self) -> bool: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

class RawDownload:
    @staticmethod
    def create(
        client: RawClient,
        branch_id: int,
        table_definition_key: str,
        pattern: Literal["full", "incremental"] | str = "full",
        correlation_code: str | None = None,
        high_water_mark: str | None = None,
        include_history: bool = False,
    ) -> RawDownload: ...
    @property
    def download_url(self) -> RedactedUrl | None: ...
    def info(self) -> dict[str, Any]: ...
    def refresh(self) -> dict[str, Any]: ...
    def wait(self, poll_interval: float = 2.0, max_wait: float = 300.0) -> str: ...
    def read_arrow(self) -> Any:
        """The export file as a ``pyarrow.Table`` (pyarrow must be installed)."""

class RawUpload:
    @staticmethod
    def create(
        client: RawClient,
        branch_id: int,
        description: str | None = None,
        correlation_code: str | None = None,
    ) -> RawUpload: ...
    @property
    def id(self) -> int: ...
    def info(self) -> dict[str, Any]: ...
    def results(self) -> dict[str, Any]:
        """``{"import": {...}, "tables": [{...}, ...]}``."""
    def wait(self, poll_interval: float = 2.0, max_wait: float = 300.0) -> dict[str, Any]: ...
    def complete(self, message: str | None = None) -> dict[str, Any]: ...

class RawTableUpload:
    @staticmethod
    def create(
        client: RawClient,
        import_id: int,
        branch_id: int,
        table_definition_key: str,
        import_mapping_key: str,
        pattern: Literal["full", "incremental_upsert_only", "incremental_with_delete", "incremental"] | str,
        correlation_code: str | None = None,
    ) -> RawTableUpload: ...
    @property
    def signed_s3_url(self) -> RedactedUrl | None: ...
    @property
    def deployed_table_definition_id(self) -> int: ...
    @property
    def primary_key_columns(self) -> list[str]: ...
    def column_types(self) -> dict[str, str]: ...
    def info(self) -> dict[str, Any]: ...
    def send(self, data: ArrowStreamExportable) -> dict[str, Any]:
        """Validates, encodes and sends ``data``; the dict adds ``rows_sent`` and ``bytes_sent``."""

class RawMemoryCatalog:
    def __init__(self) -> None: ...
    def tables(self) -> list[str]: ...
    def write_table(self, catalog: str, schema: str, table: str, data: ArrowStreamExportable) -> int:
        """Replaces the table; returns its row count."""
    def read_table(self, catalog: str, schema: str, table: str) -> ArrowStreamExportable:
        """The table as a ``pyarrow.Table`` (pyarrow must be installed)."""
    def properties(self, catalog: str, schema: str, table: str) -> dict[str, str]: ...

class PythonCatalog(Protocol):
    """A catalog written in Python (see ``src/catalog.rs``). ``read`` and ``properties`` raise
    ``LookupError`` (e.g. ``KeyError``) for a missing table. Merges are done in Rust as read + overwrite."""

    def table_exists(self, catalog: str, schema: str, table: str) -> bool: ...
    def read(self, catalog: str, schema: str, table: str) -> ArrowStreamExportable: ...
    def create_schema(self, catalog: str, schema: str) -> None: ...
    def overwrite(
        self,
        catalog: str,
        schema: str,
        table: str,
        data: ArrowStreamExportable,
        properties: dict[str, str],
    ) -> None: ...
    def properties(self, catalog: str, schema: str, table: str) -> dict[str, str]: ...

class RawSyncEngine:
    def __init__(
        self,
        client: RawClient,
        catalog: RawMemoryCatalog | PythonCatalog,
        concurrency: int | None = None,
    ) -> None: ...
    def download(
        self,
        branch_id: int,
        catalog: str,
        schema: str,
        domain: str,
        tables: list[str] | None = None,
        pattern: Literal["full", "incremental"] = "full",
        high_water_mark: str | None = None,
        include_history: bool = False,
        correlation_code: str | None = None,
        dry_run: bool = False,
        poll_interval: float = 2.0,
        max_wait: float = 300.0,
    ) -> list[SyncTableResult]: ...
    def upload(
        self,
        branch_id: int,
        catalog: str,
        schema: str,
        domain: str,
        tables: list[str] | None = None,
        pattern: Literal[
            "full", "incremental_upsert_only", "incremental_with_delete", "incremental"
        ] = "full",
        description: str | None = None,
        correlation_code: str | None = None,
        allow_partial: bool = False,
        dry_run: bool = False,
        allow_mass_delete: bool = False,
        upload_unchanged: bool = False,
        poll_interval: float = 2.0,
        max_wait: float = 300.0,
    ) -> dict[str, Any]: ...

CATALOG_CONFORMANCE_CHECKS: tuple[str, ...]
"""The checks of trdm-sync's catalog conformance suite, in the order it runs them."""

def _catalog_conformance(catalog: PythonCatalog, prefix: str, checks: list[str] | None = None) -> None:
    """Runs trdm-sync's catalog conformance suite against ``catalog`` (for tests: it writes tables under
    ``prefix``, ``catalog.schema``, and drops none). ``checks`` selects checks by name (default: all of
    ``CATALOG_CONFORMANCE_CHECKS``; ``ValueError`` for an unknown name). The first failing check raises
    ``AssertionError("catalog conformance check `<name>` failed: <message>")``."""
