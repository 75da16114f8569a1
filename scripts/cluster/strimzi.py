#!/usr/bin/env python3
"""The Strimzi cluster operator that `just up` (kind) and `just deploy-gke` install, pinned
and hash-checked as the justfile pins ingress-nginx: nothing is applied unless every file is
byte for byte the one of the pinned release.

    python3 -m scripts.cluster.strimzi [--from DIR] > strimzi.yaml   then: kubectl apply --server-side -f strimzi.yaml
    python3 -m scripts.cluster.strimzi --settings                    the pins and namespaces, as JSON (crates/deploy-checks)

What is pinned: Strimzi 1.2.0, the files of `install/cluster-operator/` at its tag (commit
6c7b43c4af0db547c10463ba09d1dfa6f5e156a0 of strimzi/strimzi-kafka-operator), each fetched
from raw.githubusercontent.com/strimzi/strimzi-kafka-operator/1.2.0/install/cluster-operator/
with curl (or read from DIR) and refused unless its sha256 is the one below, computed from
the blob of that file at that commit. Strimzi's release asset strimzi-cluster-operator-1.2.0.yaml
is the same files joined in `find`'s order (the Makefile's release_single_file), an order no
one can reproduce, so its hash could not be computed here; the files' own can.

How it is rendered (documentation/modules/deploying/
proc-deploy-cluster-operator-watch-multiple-namespaces.adoc at that tag): the operator and its
RBAC in the namespace `strimzi` (the RoleBindings' subjects, upstream's `sed` over
*RoleBinding*.yaml), STRIMZI_NAMESPACE set to `so1p2`, the only namespace it watches, and the
three RoleBindings that procedure creates again in each watched namespace (020, 023, 031).
STRIMZI_OPERATOR_NAMESPACE_LABELS (con-configuring-cluster-operator.adoc) names the operator's
namespace, so the NetworkPolicy Strimzi generates for the brokers admits the operator from
`strimzi` only instead of from every namespace (NetworkPolicyUtils.clusterOperatorNamespaceSelector).
`kubectl apply --server-side`: the Kafka CRD (330 kB) is larger than the 256 kB annotation a
client-side apply would keep of it. Standard library only, like overlay.py.
"""

import argparse
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

VERSION = "1.2.0"
URL = "https://raw.githubusercontent.com/strimzi/strimzi-kafka-operator/{version}/install/cluster-operator/{file}"
OPERATOR_NAMESPACE = "strimzi"
WATCHED_NAMESPACE = "so1p2"
# Labels.fromString's `key=value,...`; Kubernetes gives every namespace this label.
OPERATOR_NAMESPACE_LABELS = f"kubernetes.io/metadata.name={OPERATOR_NAMESPACE}"

# Every file of install/cluster-operator/ at the tag, in name order, with its sha256.
FILES = {
    "010-ServiceAccount-strimzi-cluster-operator.yaml": "4d97ccc6f380ef3225ccfba90a48e36fe9bda7ca661b2f854a38a100fddb02a4",
    "020-ClusterRole-strimzi-cluster-operator-role.yaml": "e8c0c0778295e3fcf0dd0af836f13599f444246b5d0aec929607e6aabd1fe789",
    "020-RoleBinding-strimzi-cluster-operator.yaml": "0ebf0aaa608717ca112ba72d465a25fcfa256bc9adffeb6132e79f70bd32d209",
    "021-ClusterRole-strimzi-cluster-operator-role.yaml": "6295543b93bafc7a3daba4ee8ae1872d1367aa5eb934aa2623f32f011bcd5f3a",
    "021-ClusterRoleBinding-strimzi-cluster-operator.yaml": "dc58aea5ec07871ba9318e2375368b9eade9762fa68d7233fa9a512b1d429ccb",
    "022-ClusterRole-strimzi-cluster-operator-role.yaml": "9985c0576bc5151400aeecb5621c6db8d6b75ab5aabd49b7e0c2123f9e57ff0f",
    "022-RoleBinding-strimzi-cluster-operator.yaml": "0982f32038c20ebed6c605fc2f1edecf81786e1ed31030d1f135cbb3314f9fbf",
    "023-ClusterRole-strimzi-cluster-operator-role.yaml": "cdb63a3e93591e231bbc5708c5260407bb0585a91d64a58dbdb8116a7d9fc2dc",
    "023-RoleBinding-strimzi-cluster-operator.yaml": "c8689bea8faededabce438604cd5a8bb5e57436527e5feff264e602ed0d6d24b",
    "030-ClusterRole-strimzi-kafka-broker.yaml": "89031e599d2f23db1fbd21321b7317fc59c8d21351160cb68aba7520866aac3f",
    "030-ClusterRoleBinding-strimzi-cluster-operator-kafka-broker-delegation.yaml": "9f9ad0b0dce34044d3baa26ec82a07bd27a16968264d45c82c39e1a4f6d80d3c",
    "031-ClusterRole-strimzi-entity-operator.yaml": "c4c6c84725427a38f95ed29e75e845092c147729bdb828cd3c3a2588332e8611",
    "031-RoleBinding-strimzi-cluster-operator-entity-operator-delegation.yaml": "df9424a94b72a936adb4584566a8f233e866d3c4b09535123003bf2bf47ab97a",
    "033-ClusterRole-strimzi-kafka-client.yaml": "5ac197ef0f228e83d15396af9afdc5567dc6a9d8bad30931f4dcb0b9a087647a",
    "033-ClusterRoleBinding-strimzi-cluster-operator-kafka-client-delegation.yaml": "b16b05adb731af3e8ab9ac181a3189bdaf5f6b34b8680e41d7b6e48b7ffe5908",
    "040-Crd-kafka.yaml": "b5b27fc8d52068a77cde7c40d47c068023c7b4e92fc266c45200db2d2506392a",
    "041-Crd-kafkaconnect.yaml": "00339af1b873aefbfc4406ef251d03d0928a8d7f6a85c45bd322080e21d6f3be",
    "042-Crd-strimzipodset.yaml": "e669bc6b5bbebd4dd911e5ad0b9817cbbee9b920f1a8a1ab0fc8dda116bb2fc8",
    "043-Crd-kafkatopic.yaml": "36390f0731c699448076d4ee739e8b7f331d083e91a7fb71500aaa830ab1127e",
    "044-Crd-kafkauser.yaml": "c7e91b9b027a516b43dc7d369e781ee23a6ea177ae15fe0c33af6f722e26e05f",
    "045-Crd-kafkanodepool.yaml": "411c1b32ef8c1a6408ac9d4fe791115a6ce2b41107204588f976a3ed19be2430",
    "046-Crd-kafkabridge.yaml": "0b20cb76e3217b9183a40464b51e2344cbd672bdf5bab33f39c9f67e9326a411",
    "047-Crd-kafkaconnector.yaml": "8050325edfec7ac90718f9e40f3f808b5489d7ae6c11b1634bc82426955b8fff",
    "048-Crd-kafkamirrormaker2.yaml": "ca92dcb51e1982838150682d6de820392d3f046adf4ec9a9f049b522c90cb3e0",
    "049-Crd-kafkarebalance.yaml": "e84ffcd975c62025436ead73298c53b3e3409746986295d57dc156b6710201b2",
    "050-ConfigMap-strimzi-cluster-operator.yaml": "291384fccc3eca08dca361684d0c69bc874e4fd6c0a46735cec547e028a6420b",
    "060-Deployment-strimzi-cluster-operator.yaml": "3dc05f435359dd09564fb49b741c9c217df8cc9be8659c368e152a26f12eb0dc",
}
# What upstream's procedure creates again in every watched namespace.
WATCHED_ROLE_BINDINGS = [
    "020-RoleBinding-strimzi-cluster-operator.yaml",
    "023-RoleBinding-strimzi-cluster-operator.yaml",
    "031-RoleBinding-strimzi-cluster-operator-entity-operator-delegation.yaml",
]
# The files whose objects live in a namespace (the others: ClusterRoles, ClusterRoleBindings
# and CustomResourceDefinitions).
NAMESPACED = re.compile(r"-(ServiceAccount|RoleBinding|ConfigMap|Deployment)-")

# The operator watches its own namespace unless told otherwise (060-Deployment...yaml).
WATCH_OWN_NAMESPACE = """\
            - name: STRIMZI_NAMESPACE
              valueFrom:
                fieldRef:
                  fieldPath: metadata.namespace
"""
WATCH = f"""\
            - name: STRIMZI_NAMESPACE
              value: {WATCHED_NAMESPACE}
            - name: STRIMZI_OPERATOR_NAMESPACE_LABELS
              value: {OPERATOR_NAMESPACE_LABELS}
"""


def fetch(file: str) -> bytes:
    url = URL.format(version=VERSION, file=file)
    result = subprocess.run(["curl", "-fsSL", url], capture_output=True)
    if result.returncode != 0:
        sys.exit(f"strimzi: {url}: {result.stderr.decode().strip()}")
    return result.stdout


def checked(files: dict[str, bytes]) -> dict[str, str]:
    """The files as text, once each is the pinned one; stops at the first that is not."""
    for name, sha256 in FILES.items():
        if name not in files:
            sys.exit(f"strimzi: {name} is missing")
        got = hashlib.sha256(files[name]).hexdigest()
        if got != sha256:
            sys.exit(f"strimzi: {name}: unexpected sha256 {got} (want {sha256}, Strimzi {VERSION})")
    return {name: files[name].decode() for name in FILES}


def in_namespace(text: str, namespace: str, what: str) -> str:
    """`text` (one object) with `metadata.namespace`, placed under its top-level `metadata:`."""
    rendered, count = re.subn(r"^metadata:\n", f"metadata:\n  namespace: {namespace}\n", text, flags=re.M)
    if count != 1:
        sys.exit(f"strimzi: {what} has {count} top-level metadata sections, not 1")
    return rendered


def subjects_in(text: str, namespace: str, what: str) -> str:
    """A RoleBinding's subjects in `namespace`, as upstream's sed makes them: there, every
    `namespace:` line of a *RoleBinding* file is a subject's."""
    rendered, count = re.subn(r"^(\s+)namespace: .*$", rf"\g<1>namespace: {namespace}", text, flags=re.M)
    if count == 0:
        sys.exit(f"strimzi: {what} names no subject's namespace")
    return rendered


def render(files: dict[str, bytes]) -> str:
    texts = checked(files)
    documents = [f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {OPERATOR_NAMESPACE}\n"]
    for name, text in texts.items():
        if "RoleBinding" in name:
            text = subjects_in(text, OPERATOR_NAMESPACE, name)
        if name.startswith("060-Deployment"):
            if text.count(WATCH_OWN_NAMESPACE) != 1:
                sys.exit(f"strimzi: {name}: STRIMZI_NAMESPACE is not set from the pod's namespace")
            text = text.replace(WATCH_OWN_NAMESPACE, WATCH)
        if NAMESPACED.search(name):
            documents.append(in_namespace(text, OPERATOR_NAMESPACE, name))
        else:
            documents.append(text)
    for name in WATCHED_ROLE_BINDINGS:
        documents.append(in_namespace(subjects_in(texts[name], OPERATOR_NAMESPACE, name), WATCHED_NAMESPACE, name))
    return "---\n".join(d if d.endswith("\n") else d + "\n" for d in documents)


def settings() -> dict:
    return {
        "version": VERSION,
        "urls": {name: URL.format(version=VERSION, file=name) for name in FILES},
        "sha256": FILES,
        "operator_namespace": OPERATOR_NAMESPACE,
        "watched_namespace": WATCHED_NAMESPACE,
        "operator_namespace_labels": OPERATOR_NAMESPACE_LABELS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="folder", type=Path, help="read the files from this folder, not the network")
    parser.add_argument("--settings", action="store_true", help="print the pins and namespaces as JSON, fetch nothing")
    args = parser.parse_args()
    if args.settings:
        print(json.dumps(settings(), indent=2))
        return
    if args.folder:
        files = {name: (args.folder / name).read_bytes() for name in FILES if (args.folder / name).exists()}
    else:
        files = {name: fetch(name) for name in FILES}
    sys.stdout.write(render(files))


if __name__ == "__main__":
    main()
