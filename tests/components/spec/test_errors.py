"""Config error lines name list items by their name and suggest the closest known key, never a value."""

from __future__ import annotations

import copy

import pytest

from components.spec.errors import format_key_path
from tests.conftest import CANARY, stack_namespace
from tests.fixtures.refusal import spec_problems

SOURCE = "Pulumi.prod.yaml"


@pytest.fixture
def raw():
    return copy.deepcopy(stack_namespace("prod"))


def lines(raw) -> list[str]:
    return spec_problems(raw, SOURCE)


def test_a_list_item_is_named_after_its_name(raw):
    raw["secrets"][7]["rotation"]["days"] = 0
    assert lines(raw) == [f"{SOURCE}: secrets-platform:secrets[7] (external-apis).rotation.days: input should be greater than or equal to 1 (got 0)"]


def test_cross_check_problems_name_the_item_too(raw):
    raw["workloads"][0]["reads"].append("databse")
    assert lines(raw)[0].startswith(f"{SOURCE}: secrets-platform:workloads[0] (api).reads[5]: unknown secret 'databse'")


def test_an_item_whose_name_is_not_a_name_is_not_labelled(raw):
    """The name field itself may hold a value pasted into the wrong place: it labels nothing."""
    raw["secrets"][2]["name"] = CANARY
    raw["secrets"][2]["rotation"]["days"] = 0
    found = lines(raw)
    assert f"{SOURCE}: secrets-platform:secrets[2].rotation.days: input should be greater than or equal to 1 (got 0)" in found
    assert not any(CANARY in line for line in found)


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda r: r["secrets"][0].update(clasification=r["secrets"][0].pop("classification")),
     "secrets-platform:secrets[0] (database).clasification: unknown key; did you mean 'classification'?"),
    (lambda r: r["secrets"][3]["rotation"].update(dayz=1),
     "secrets-platform:secrets[3] (pii-encryption).rotation.dayz: unknown key; did you mean 'days'?"),
    (lambda r: r.update(workload=[]), "secrets-platform:workload: unknown key; did you mean 'workloads'?"),
    (lambda r: r["aws"].update(regoin="us-east-1"), "secrets-platform:aws.regoin: unknown key; did you mean 'region'?"),
    (lambda r: r["kubernetes"]["eso"].update(namespce="x"),
     "secrets-platform:kubernetes.eso.namespce: unknown key; did you mean 'namespace'?"),
])
def test_an_unknown_key_suggests_the_closest_known_one(raw, mutate, expected):
    mutate(raw)
    assert f"{SOURCE}: {expected}" in lines(raw)


def test_an_unknown_key_without_a_close_one_lists_the_allowed_keys(raw):
    raw["tags"]["colour"] = CANARY
    found = lines(raw)
    assert found == [f"{SOURCE}: secrets-platform:tags.colour: unknown key; allowed: owner, cost_centre, extra"]


def test_suggestions_use_the_key_as_written_for_aliased_fields():
    """DatabaseGrantSpec's `schema_name` is written `schema` in the stack file."""
    raw = copy.deepcopy(stack_namespace("examples/emr/Pulumi.emr-prod.yaml"))
    grant = raw["vault"]["databases"][0]["roles"][0]["grants"][0]
    grant["shema"] = grant.pop("schema", "public")
    database, role = raw["vault"]["databases"][0]["name"], raw["vault"]["databases"][0]["roles"][0]["name"]
    assert (f"{SOURCE}: secrets-platform:vault.databases[0] ({database}).roles[0] ({role}).grants[0].shema: "
            "unknown key; did you mean 'schema'?") in lines(raw)


def test_key_paths_survive_documents_of_any_shape():
    """The path is rendered from a document that failed validation: anything may sit where a list is expected."""
    assert format_key_path(("secrets", 3, "name"), {"secrets": "not a list"}) == "secrets-platform:secrets[3].name"
    assert format_key_path(("secrets", 3, "name"), {"secrets": [{"name": "a"}]}) == "secrets-platform:secrets[3].name"
    assert format_key_path(("secrets", -1), {"secrets": [{"name": "a"}]}) == "secrets-platform:secrets[-1]"
    assert format_key_path(("secrets", 0), {"secrets": [{"name": ["x"]}]}) == "secrets-platform:secrets[0]"
    assert format_key_path(()) == "secrets-platform"
