"""The External Secrets controller is a principal of the access matrix with the reach its chart's RBAC gives
it (#15): by default a ClusterRole to read, overwrite and delete every Secret and to mint a token for every
service account, so it reaches whatever any service account reaches. Declared scoped (the chart's
`scopedNamespace` and `scopedRBAC`), its reach shrinks to that namespace; a stack that does not deploy the
chart is modelled from what it declares."""

from __future__ import annotations

import copy
from functools import cache

from components.config import parse_stack_spec
from offline.access.matrix import access_matrix, declared_controller
from offline.access.model import READ
from tests.conftest import by_type, plan_raw, shared_store_raw, stack_namespace
from tests.fixtures.refusal import spec_problems

CONTROLLER = "k8s:external-secrets/external-secrets"
SMTP = "aws:autolytiq/prod/smtp"  # read by the worker only (namespace autolytiq-workers)


def one_synced_namespace(scope: dict | None = None, install: bool = True) -> dict:
    """Prod with the worker reading directly: only namespace autolytiq syncs (a SecretStore of its own)."""
    raw = copy.deepcopy(stack_namespace("prod"))
    next(w for w in raw["workloads"] if w["name"] == "worker")["delivery"] = "direct"
    raw["kubernetes"]["eso"].update(scope or {}, install=install)
    return raw


@cache
def planned(scoped: bool, install: bool = True):
    raw = one_synced_namespace({"scoped_namespace": "autolytiq", "scoped_rbac": True} if scoped else None, install)
    plan = plan_raw(raw, stack="prod")
    return plan, access_matrix(plan.resources, plan.stack, controller=declared_controller(parse_stack_spec(raw, "Pulumi.prod.yaml")))


def reads(matrix, principal: str) -> set[str]:
    return {s for s, c in matrix.access(principal) if c == READ}


def test_with_the_charts_defaults_the_controller_reaches_what_every_service_account_reaches():
    plan, matrix = planned(scoped=False)
    controller = matrix.principals[CONTROLLER]
    assert "every namespace (ClusterRole external-secrets-controller)" in controller.detail and "create service account tokens" in controller.detail
    others = [p for p in matrix.principals.values() if p.kind == "service-account" and p.id != CONTROLLER and "*" not in p.id]
    assert {"k8s:autolytiq/api", "k8s:autolytiq-workers/worker"} <= {p.id for p in others}
    for other in others:
        assert matrix.access(other.id) <= matrix.access(CONTROLLER), other.id
    assert SMTP in reads(matrix, CONTROLLER)  # a token for autolytiq-workers/worker, then its IAM role
    chains = [e.chains for e in matrix.entries if e.principal == CONTROLLER and e.secret == SMTP and e.capability == READ][0]
    assert any("creates a token for service account autolytiq-workers/worker (serviceaccounts/token)" in chain[0] for chain in chains)
    synced = [e for e in matrix.entries if e.principal == CONTROLLER and any("reads (and may overwrite or delete) Secret autolytiq/" in c[0] for c in e.chains)]
    assert synced  # the synced copies themselves
    release = next(iter(by_type(plan, "kubernetes:helm.sh/v3:Release").values()))
    assert not {"scopedNamespace", "scopedRBAC"} & set(release.inputs["values"])


def test_declared_scoped_the_controller_reaches_only_its_namespace():
    plan, matrix = planned(scoped=True)
    release = next(iter(by_type(plan, "kubernetes:helm.sh/v3:Release").values()))
    assert release.inputs["values"]["scopedNamespace"] == "autolytiq" and release.inputs["values"]["scopedRBAC"] is True
    controller = matrix.principals[CONTROLLER]
    assert "namespace autolytiq (Role external-secrets-controller in autolytiq)" in controller.detail
    _, wide = planned(scoped=False)
    assert matrix.access(CONTROLLER) < wide.access(CONTROLLER)
    assert SMTP not in reads(matrix, CONTROLLER)  # autolytiq-workers is out of its reach
    assert matrix.access(CONTROLLER) == matrix.access("k8s:autolytiq/api") | matrix.access("k8s:autolytiq/external-secrets-store")
    # The consumers keep what they had: scoping the controller takes nothing from the namespace it serves.
    assert matrix.access("namespace:autolytiq") == wide.access("namespace:autolytiq")


def test_a_controller_the_stack_does_not_deploy_is_modelled_from_its_declaration():
    plan, matrix = planned(scoped=True, install=False)
    assert not by_type(plan, "kubernetes:helm.sh/v3:Release")
    controller = matrix.principals[CONTROLLER]
    assert "declared in kubernetes.eso: the stack does not deploy the chart" in controller.detail
    assert SMTP not in reads(matrix, CONTROLLER)
    _, default = planned(scoped=False, install=False)
    assert SMTP in reads(default, CONTROLLER)  # declared nothing: the chart's defaults, cluster-wide


def problems(raw: dict) -> list[str]:
    return spec_problems(raw)


def test_a_scope_that_would_leave_stores_or_namespaces_unreconciled_is_refused():
    at = "Pulumi.prod.yaml: secrets-platform:kubernetes.eso."
    raw = copy.deepcopy(stack_namespace("prod"))  # autolytiq and autolytiq-workers both sync
    raw["kubernetes"]["eso"]["scoped_namespace"] = "autolytiq"
    assert f"{at}scoped_namespace: the controller would reconcile namespace autolytiq only; autolytiq-workers also sync secrets" in problems(raw)
    raw = shared_store_raw(stack_namespace("prod"))  # one ClusterSecretStore for both namespaces
    raw["kubernetes"]["eso"]["process_cluster_store"] = False
    assert any(line.startswith(f"{at}process_cluster_store: the controller would not reconcile ClusterSecretStores") for line in problems(raw))
    parse_stack_spec(one_synced_namespace({"scoped_namespace": "autolytiq", "scoped_rbac": True, "process_cluster_store": False}), "Pulumi.prod.yaml")


def test_a_plan_whose_controller_ignores_cluster_stores_syncs_nothing_through_them(prod_shared_plan):
    """Read from a plan (e.g. a preview) the spec did not check: the chart's values decide what is reconciled."""
    def as_dict(r, values=None):
        props = dict(r.inputs) if values is None else {**r.inputs, "values": {**r.inputs["values"], **values}}
        return {"type": r.type, "urn": r.urn, "name": r.name, "props": props, "outputs": dict(r.outputs)}

    release = "kubernetes:helm.sh/v3:Release"
    before = access_matrix(prod_shared_plan.resources, prod_shared_plan.stack)
    after = access_matrix([as_dict(r, {"processClusterStore": False} if r.type == release else None) for r in prod_shared_plan.resources],
                          prod_shared_plan.stack)
    assert before.access("namespace:autolytiq-workers") and not after.access("namespace:autolytiq-workers")
    assert any("does not reconcile it" in n and "no ClusterSecretStores" in n for n in after.notes)
    assert "no ClusterSecretStores" in after.principals[CONTROLLER].detail
