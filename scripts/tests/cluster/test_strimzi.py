"""The Strimzi operator `just up` and `just deploy-gke` install: only the pinned files, rendered
for the namespace `strimzi` watching so1p2 (scripts/cluster/strimzi.py). Offline: the pins are swapped
for fakes shaped like upstream's files, whose hashes the tests compute."""

import hashlib
import json
import subprocess

import pytest
import yaml

from scripts.cluster import strimzi

# Shapes of upstream's install/cluster-operator files at 1.2.0 (trimmed).
SERVICE_ACCOUNT = """\
apiVersion: v1
kind: ServiceAccount
metadata:
  name: strimzi-cluster-operator
  labels:
    app: strimzi
"""
CLUSTER_ROLE = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: strimzi-cluster-operator-namespaced
rules: []
"""


def role_binding(kind: str, name: str, role: str) -> str:
    return f"""\
apiVersion: rbac.authorization.k8s.io/v1
kind: {kind}
metadata:
  name: {name}
  labels:
    app: strimzi
# A comment, as 031's.
subjects:
  - kind: ServiceAccount
    name: strimzi-cluster-operator
    namespace: myproject
roleRef:
  kind: ClusterRole
  name: {role}
  apiGroup: rbac.authorization.k8s.io
"""


CONFIG_MAP = """\
kind: ConfigMap
apiVersion: v1
metadata:
  name: strimzi-cluster-operator
data:
  log4j2.properties: |
    name = COConfig
"""
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: strimzi-cluster-operator
spec:
  template:
    metadata:
      labels:
        name: strimzi-cluster-operator
    spec:
      containers:
        - name: strimzi-cluster-operator
          image: quay.io/strimzi/operator:1.2.0
          env:
            - name: STRIMZI_NAMESPACE
              valueFrom:
                fieldRef:
                  fieldPath: metadata.namespace
            - name: STRIMZI_OPERATOR_NAMESPACE
              valueFrom:
                fieldRef:
                  fieldPath: metadata.namespace
"""
CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: kafkas.kafka.strimzi.io
"""

FAKES = {
    "010-ServiceAccount-strimzi-cluster-operator.yaml": SERVICE_ACCOUNT,
    "020-ClusterRole-strimzi-cluster-operator-role.yaml": CLUSTER_ROLE,
    "020-RoleBinding-strimzi-cluster-operator.yaml": role_binding(
        "RoleBinding", "strimzi-cluster-operator", "strimzi-cluster-operator-namespaced"
    ),
    "021-ClusterRoleBinding-strimzi-cluster-operator.yaml": role_binding(
        "ClusterRoleBinding", "strimzi-cluster-operator", "strimzi-cluster-operator-global"
    ),
    "023-RoleBinding-strimzi-cluster-operator.yaml": role_binding(
        "RoleBinding", "strimzi-cluster-operator-watched", "strimzi-cluster-operator-watched"
    ),
    "031-RoleBinding-strimzi-cluster-operator-entity-operator-delegation.yaml": role_binding(
        "RoleBinding", "strimzi-cluster-operator-entity-operator-delegation", "strimzi-entity-operator"
    ),
    "040-Crd-kafka.yaml": CRD,
    "050-ConfigMap-strimzi-cluster-operator.yaml": CONFIG_MAP,
    "060-Deployment-strimzi-cluster-operator.yaml": DEPLOYMENT,
}


@pytest.fixture
def fakes(monkeypatch) -> dict[str, bytes]:
    """The fakes pinned in place of the real files; the files themselves, as fetched."""
    files = {name: text.encode() for name, text in FAKES.items()}
    monkeypatch.setattr(strimzi, "FILES", {name: hashlib.sha256(b).hexdigest() for name, b in files.items()})
    return files


def objects(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d]


def test_the_pins_are_sha256s_of_every_file_in_name_order():
    assert list(strimzi.FILES) == sorted(strimzi.FILES)
    assert all(len(h) == 64 and int(h, 16) >= 0 for h in strimzi.FILES.values())
    assert set(strimzi.WATCHED_ROLE_BINDINGS) <= set(strimzi.FILES)


def test_a_file_that_is_not_the_pinned_one_is_refused(fakes):
    fakes["060-Deployment-strimzi-cluster-operator.yaml"] += b"# changed\n"
    with pytest.raises(SystemExit, match="060-Deployment-strimzi-cluster-operator.yaml: unexpected sha256"):
        strimzi.render(fakes)


def test_a_missing_file_is_refused(fakes):
    del fakes["040-Crd-kafka.yaml"]
    with pytest.raises(SystemExit, match="040-Crd-kafka.yaml is missing"):
        strimzi.render(fakes)


def test_the_operator_runs_in_its_namespace_and_watches_so1p2(fakes):
    rendered = objects(strimzi.render(fakes))
    assert rendered[0] == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "strimzi"}}
    by_place = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in rendered}
    for kind, name in [
        ("ServiceAccount", "strimzi-cluster-operator"),
        ("ConfigMap", "strimzi-cluster-operator"),
        ("Deployment", "strimzi-cluster-operator"),
        ("RoleBinding", "strimzi-cluster-operator"),
    ]:
        assert (kind, "strimzi", name) in by_place
    # Cluster-wide objects stay without a namespace.
    assert ("ClusterRole", None, "strimzi-cluster-operator-namespaced") in by_place
    assert ("CustomResourceDefinition", None, "kafkas.kafka.strimzi.io") in by_place
    # Upstream's procedure: 020, 023 and 031 again in every watched namespace.
    watched = {o["metadata"]["name"] for o in rendered if o["metadata"].get("namespace") == "so1p2"}
    assert watched == {
        "strimzi-cluster-operator",
        "strimzi-cluster-operator-watched",
        "strimzi-cluster-operator-entity-operator-delegation",
    }
    # Every binding's subject is the operator's account, in the operator's namespace.
    for o in rendered:
        for subject in o.get("subjects", []):
            assert subject["namespace"] == "strimzi", o["metadata"]
    deployment = next(o for o in rendered if o["kind"] == "Deployment")
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["STRIMZI_NAMESPACE"] == {"name": "STRIMZI_NAMESPACE", "value": "so1p2"}
    assert env["STRIMZI_OPERATOR_NAMESPACE_LABELS"]["value"] == "kubernetes.io/metadata.name=strimzi"
    assert "valueFrom" in env["STRIMZI_OPERATOR_NAMESPACE"]


def test_a_deployment_that_does_not_watch_its_own_namespace_stops_the_render(fakes, monkeypatch):
    changed = FAKES["060-Deployment-strimzi-cluster-operator.yaml"].replace(
        "fieldPath: metadata.namespace\n            - name: STRIMZI_OPERATOR",
        "fieldPath: x\n            - name: STRIMZI_OPERATOR",
    )
    fakes["060-Deployment-strimzi-cluster-operator.yaml"] = changed.encode()
    monkeypatch.setitem(
        strimzi.FILES, "060-Deployment-strimzi-cluster-operator.yaml", hashlib.sha256(changed.encode()).hexdigest()
    )
    with pytest.raises(SystemExit, match="STRIMZI_NAMESPACE is not set from the pod's namespace"):
        strimzi.render(fakes)


def test_each_file_is_fetched_from_the_release_tag(monkeypatch):
    asked = []

    def curl(command, capture_output):
        asked.append(command)
        return subprocess.CompletedProcess(command, 0, stdout=b"x", stderr=b"")

    monkeypatch.setattr(strimzi.subprocess, "run", curl)
    assert strimzi.fetch("040-Crd-kafka.yaml") == b"x"
    assert asked == [
        [
            "curl",
            "-fsSL",
            "https://raw.githubusercontent.com/strimzi/strimzi-kafka-operator/1.2.0/install/cluster-operator/040-Crd-kafka.yaml",
        ]
    ]


def test_settings_name_the_pins_and_the_namespaces(capsys, monkeypatch):
    monkeypatch.setattr(strimzi.sys, "argv", ["strimzi.py", "--settings"])
    strimzi.main()
    settings = json.loads(capsys.readouterr().out)
    assert settings["sha256"] == strimzi.FILES
    assert settings["watched_namespace"] == "so1p2"
    assert settings["operator_namespace_labels"] == "kubernetes.io/metadata.name=strimzi"
