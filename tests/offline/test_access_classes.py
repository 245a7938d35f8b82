"""Classes the planned resources cannot carry (Vault paths, Key Vault secret names) come from the spec:
labels only, the access itself is the same."""

from __future__ import annotations

from offline.access import access_matrix, declared_classifications
from offline.run import plan_stack

PHAGEN = "examples/phagen/Pulumi.phagen-prod.yaml"


def test_vault_and_azure_secrets_take_their_declared_class_and_nothing_else_changes():
    plan = plan_stack(PHAGEN)
    spec = plan.spec
    bare = access_matrix(plan.resources, plan.stack)
    labelled = access_matrix(plan.resources, plan.stack, declared_classifications(spec))
    declared = {s.name: s.classification.value for s in spec.secrets}
    expected = {
        "vault:secret/db_password": declared["db-password"],
        "vault:secret/api_keys/ncbi": declared["ncbi-api-key"],
        "azure:phagen-vault/phagen-prod-llm-api-key": declared["llm-api-key"],
        "azure:phagen-vault/phagen-prod-analytics-db-password": declared["analytics-db-password"],
    }
    for sid, classification in expected.items():
        assert bare.secrets[sid].classification == "unknown"  # nothing in the plan says it
        assert labelled.secrets[sid].classification == classification
    # AWS secrets keep the class their tags carry.
    assert labelled.secrets["aws:phagen/db_password"] == bare.secrets["aws:phagen/db_password"]
    assert labelled.entries == bare.entries
    assert not [s for s in labelled.secrets.values() if s.classification == "unknown" and not s.pattern and s.backend != "unknown"]
