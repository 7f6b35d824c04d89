"""TitanRDM SDK over the trdm Rust core.

A drop-in for ``titan-rdm-sdk``: the same import name, client class, method names, models and exceptions.
The work is done by the compiled module :mod:`titan_rdm_sdk._internal` (private; its API may change).
"""

from titan_rdm_sdk._internal import __version__
from titan_rdm_sdk.client import TitanRDMClient
from titan_rdm_sdk.download import Download
from titan_rdm_sdk.exceptions import (
    APIError,
    AuthenticationError,
    ExportFailedError,
    ExportNotReadyError,
    TitanRDMError,
    UploadError,
    ValidationError,
)
from titan_rdm_sdk.models import (
    Branch,
    DeployedColumnDefinition,
    DeployedTableDefinition,
    Domain,
    ExportPattern,
    ImportMapping,
    ImportPattern,
    ImportTableResult,
    SyncTableResult,
    TranCode,
)
from titan_rdm_sdk.spark_sync import ConventionSync, SparkSync
from titan_rdm_sdk.table_upload import TableUpload
from titan_rdm_sdk.upload import Upload
from titan_rdm_sdk.utils import (
    EXPORT_SYSTEM_COLUMNS,
    HIGH_DATE,
    REMOVED_SYSTEM_COLUMNS,
    SYSTEM_COLUMNS,
    TRAN_CODE_COLUMN,
    prepare_export_for_import,
)

__all__ = [
    "TitanRDMClient",
    "ConventionSync",
    "SparkSync",
    "Download",
    "Upload",
    "TableUpload",
    "Branch",
    "Domain",
    "DeployedTableDefinition",
    "DeployedColumnDefinition",
    "ImportMapping",
    "ImportTableResult",
    "SyncTableResult",
    "ExportPattern",
    "ImportPattern",
    "TranCode",
    "SYSTEM_COLUMNS",
    "EXPORT_SYSTEM_COLUMNS",
    "REMOVED_SYSTEM_COLUMNS",
    "TRAN_CODE_COLUMN",
    "HIGH_DATE",
    "prepare_export_for_import",
    "TitanRDMError",
    "AuthenticationError",
    "APIError",
    "ExportNotReadyError",
    "ExportFailedError",
    "UploadError",
    "ValidationError",
    "__version__",
]
