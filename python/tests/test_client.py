"""TitanRDMClient against the emulator: the incumbent's lookups, models and exceptions."""

from __future__ import annotations

import pickle

import pytest
from conftest import CLIENT_ID, CLIENT_SECRET

import titan_rdm_sdk
from titan_rdm_sdk import (
    APIError,
    AuthenticationError,
    Branch,
    DeployedTableDefinition,
    Domain,
    ImportMapping,
    TitanRDMClient,
    TitanRDMError,
    ValidationError,
    exceptions,
)


def test_exception_hierarchy_matches_the_incumbent():
    for name in exceptions.__all__:
        cls = getattr(exceptions, name)
        assert cls is getattr(titan_rdm_sdk, name)
        assert issubclass(cls, Exception)
        if name != "TitanRDMError":
            assert issubclass(cls, TitanRDMError)
    assert APIError("x").status_code is None
    assert APIError("x").response is None
    err = APIError("boom", status_code=502, response={"error": "bad gateway"})
    assert (str(err), err.status_code, err.response) == ("boom", 502, {"error": "bad gateway"})
    assert APIError.__module__ == "titan_rdm_sdk.exceptions"
    err = pickle.loads(pickle.dumps(ValidationError("bad")))
    assert isinstance(err, ValidationError) and str(err) == "bad"


@pytest.mark.parametrize(
    "args",
    [("", CLIENT_ID, CLIENT_SECRET), ("http://x", "", CLIENT_SECRET), ("http://x", CLIENT_ID, None)],
)
def test_empty_arguments_are_validation_errors(args):
    with pytest.raises(ValidationError):
        TitanRDMClient(*args)


def test_bad_secret_is_an_authentication_error(emulator_url):
    with pytest.raises(AuthenticationError):
        TitanRDMClient(emulator_url, CLIENT_ID, "wrong-secret")


def test_branches(client):
    branches = client.get_branches()
    assert all(isinstance(b, Branch) for b in branches)
    assert {"prod", "dev"} <= {b.name for b in branches}
    dev = client.get_branch_by_name("dev")
    assert dev.name == "dev" and isinstance(dev.id, int)
    assert client.get_branch(dev.id) == dev


def test_unknown_branch_name_is_a_validation_error(client):
    with pytest.raises(ValidationError):
        client.get_branch_by_name("no-such-branch")


def test_unknown_branch_id_is_a_404_api_error(client):
    with pytest.raises(APIError) as raised:
        client.get_branch(987654)
    assert raised.value.status_code == 404


def test_domain_by_name(client):
    domain = client.get_domain_by_name("Clinics")
    assert isinstance(domain, Domain)
    assert domain.abbreviation == "clin"
    assert client.get_domain(domain.id) == domain
    assert domain in client.get_domains()
    with pytest.raises(ValidationError):
        client.get_domain_by_name("No Such Domain")


def test_deployed_tables(client):
    branch = client.get_branch_by_name("prod")
    domain = client.get_domain_by_name("Clinics")
    tables = client.get_deployed_table_definitions(branch.id, domain.id)
    assert all(isinstance(t, DeployedTableDefinition) for t in tables)
    assert {t.database_table_name for t in tables} == {"sites", "delivery_centre", "org_unit"}
    sites = next(t for t in tables if t.database_table_name == "sites")
    assert sites.column_definitions and sites.primary_key_columns
    assert sites.domain_abbreviation in (None, "clin")
    again = client.get_deployed_table_definition(sites.key, branch.id)
    assert again.id == sites.id and again.key == sites.key


def test_import_mappings(client):
    branch = client.get_branch_by_name("prod")
    table = client.get_deployed_table_definitions(branch.id)[0]
    mapping = client.get_default_import_mapping(table.id)
    assert isinstance(mapping, ImportMapping) and mapping.is_default
    assert client.get_import_mapping_by_key(table.id, mapping.key).id == mapping.id
    with pytest.raises(ValidationError):
        client.get_import_mapping_by_key(table.id, "no-such-mapping")
