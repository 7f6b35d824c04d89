"""TitanRDM SDK over the trdm Rust core.

A drop-in for ``titan-rdm-sdk``: the same import name, client class, method names, models and exceptions.
The work is done by the compiled module :mod:`titan_rdm_sdk._internal` (private; its API may change).
"""

from titan_rdm_sdk._internal import __version__
from titan_rdm_sdk.client import TitanRDMClient
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
    TranCode,
)

__all__ = [
    "APIError",
    "AuthenticationError",
    "Branch",
    "DeployedColumnDefinition",
    "DeployedTableDefinition",
    "Domain",
    "ExportFailedError",
    "ExportNotReadyError",
    "ExportPattern",
    "ImportMapping",
    "ImportPattern",
    "TitanRDMClient",
    "TitanRDMError",
    "TranCode",
    "UploadError",
    "ValidationError",
    "__version__",
]
