"""``TitanRDMClient``: the incumbent SDK's client class over the Rust client.

Authentication, token caching and refresh, retries, pagination and error mapping all happen in the compiled
core (``trdm-client``); this class checks arguments, keeps the incumbent's method names and signatures, and
turns the core's dicts into the model dataclasses. Calls release the GIL while they wait on the network.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from titan_rdm_sdk._internal import RawClient
from titan_rdm_sdk.exceptions import ValidationError
from titan_rdm_sdk.models import Branch, DeployedTableDefinition, Domain, ImportMapping

if TYPE_CHECKING:
    from titan_rdm_sdk.download import Download
    from titan_rdm_sdk.models import ExportPatternLiteral
    from titan_rdm_sdk.upload import Upload


def _require_text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{name} must be a non-empty string")
    return value


def _key(value: object) -> str:
    """Keys are opaque strings; the incumbent's signatures sometimes say ``int``, so accept anything."""
    if value is None or value == "":
        raise ValidationError("key must not be empty")
    return str(value)


class TitanRDMClient:
    """A connected TitanRDM client (OAuth 2.0 client credentials).

    The constructor authenticates at once, like the incumbent's: wrong credentials raise
    :class:`~titan_rdm_sdk.exceptions.AuthenticationError`, empty arguments
    :class:`~titan_rdm_sdk.exceptions.ValidationError`.
    """

    def __init__(self, url: str, client_id: str, client_secret: str) -> None:
        url = _require_text("url", url).rstrip("/")
        self.client_id = _require_text("client_id", client_id)
        self._raw = RawClient.connect(url, self.client_id, _require_text("client_secret", client_secret))
        self.url = url

    def __repr__(self) -> str:
        return f"TitanRDMClient(url={self.url!r}, client_id={self.client_id!r})"

    # Branches

    def get_branches(self) -> list[Branch]:
        """Every branch the credentials can see."""
        return [Branch.from_dict(b) for b in self._raw.branches()]

    def get_branch(self, branch_id: int) -> Branch:
        """One branch by id (``APIError`` with ``status_code`` 404 if there is none)."""
        return Branch.from_dict(self._raw.branch(int(branch_id)))

    def get_branch_by_name(self, name: str, owner_id: int | None = None) -> Branch:
        """The one branch called ``name``; private branches of several owners may share a name, so
        ``owner_id`` picks one. None or several matches raise ``ValidationError``."""
        owner = None if owner_id is None else int(owner_id)
        return Branch.from_dict(self._raw.branch_by_name(_require_text("name", name), owner))

    # Domains

    def get_domains(self) -> list[Domain]:
        """Every domain."""
        return [Domain.from_dict(d) for d in self._raw.domains()]

    def get_domain(self, domain_id: int) -> Domain:
        """One domain by id."""
        return Domain.from_dict(self._raw.domain(int(domain_id)))

    def get_domain_by_name(self, name: str) -> Domain:
        """The domain with exactly this name (``ValidationError`` if none or several)."""
        return Domain.from_dict(self._raw.domain_by_name(_require_text("name", name)))

    # Deployed tables and import mappings

    def get_deployed_table_definitions(
        self, branch_id: int, domain_id: int | None = None
    ) -> list[DeployedTableDefinition]:
        """The tables deployed on a branch, optionally only one domain's, each with its columns."""
        domain = None if domain_id is None else int(domain_id)
        tables = self._raw.deployed_table_definitions(int(branch_id), domain)
        return [DeployedTableDefinition.from_dict(t) for t in tables]

    def get_deployed_table_definition(self, key: str, branch_id: int) -> DeployedTableDefinition:
        """One deployed table by its key on a branch."""
        return DeployedTableDefinition.from_dict(
            self._raw.deployed_table_definition(_key(key), int(branch_id))
        )

    def get_default_import_mapping(self, table_definition_id: int) -> ImportMapping:
        """A table's default import mapping (``ValidationError`` if it has none)."""
        return ImportMapping.from_dict(self._raw.default_import_mapping(int(table_definition_id)))

    def get_import_mapping_by_key(self, table_definition_id: int, key: str) -> ImportMapping:
        """A table's import mapping by key (``ValidationError`` if there is none)."""
        return ImportMapping.from_dict(self._raw.import_mapping_by_key(int(table_definition_id), _key(key)))

    # Exports and imports

    def get_download(
        self,
        branch_id: int,
        table_definition_key: int | str,
        pattern: ExportPatternLiteral | str = "full",
        correlation_code: str | None = None,
        high_water_mark: str | datetime | None = None,
        include_history: bool = False,
    ) -> Download:
        """Creates an export of one table (``incremental`` needs ``high_water_mark``, ISO 8601 or a
        ``datetime``; naive means UTC) and returns its :class:`~titan_rdm_sdk.Download`."""
        from titan_rdm_sdk.download import Download

        return Download(
            self,
            branch_id,
            table_definition_key,
            pattern=pattern,
            correlation_code=correlation_code,
            high_water_mark=high_water_mark,
            include_history=include_history,
        )

    def get_upload(
        self, branch_id: int, description: str | None = None, correlation_code: str | None = None
    ) -> Upload:
        """Creates an import batch on a branch and returns its :class:`~titan_rdm_sdk.Upload`."""
        from titan_rdm_sdk.upload import Upload

        return Upload(self, branch_id, description=description, correlation_code=correlation_code)
