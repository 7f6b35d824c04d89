"""The SDK's exceptions.

The classes are created by the compiled core (so Rust errors map onto them directly) and only re-exported
here. The hierarchy matches ``titan-rdm-sdk`` 2.0::

    TitanRDMError
    ├── AuthenticationError    getting a token failed
    ├── APIError               a request failed; ``status_code`` and ``response`` (``None`` when unknown)
    ├── ValidationError        a bad argument, or a lookup by name/key with no (or several) matches
    ├── ExportNotReadyError
    ├── ExportFailedError
    └── UploadError

A polling deadline raises the built-in :class:`TimeoutError`.
"""

from titan_rdm_sdk._internal import (
    APIError,
    AuthenticationError,
    ExportFailedError,
    ExportNotReadyError,
    TitanRDMError,
    UploadError,
    ValidationError,
)

__all__ = [
    "APIError",
    "AuthenticationError",
    "ExportFailedError",
    "ExportNotReadyError",
    "TitanRDMError",
    "UploadError",
    "ValidationError",
]
