#!/usr/bin/env bash
# `just up`: a kind cluster with ingress-nginx, metrics-server and the Strimzi operator, the
# Nix-built images loaded, route 3's Kafka cluster Ready, then k8s/overlays/kind applied with
# those images. Idempotent: run it again to load new images. Needs Docker, Nix, kind, kubectl.
set -euo pipefail
cd "$(dirname "$0")/../.."

# The pinned upstream manifests, each applied only if its sha256 is the one given here.
# ingress-nginx controller-v1.15.1, its deploy/static/provider/kind/deploy.yaml. Its tested
# Kubernetes versions are 1.31 to 1.35 (its README's "Supported Versions table").
ingress_nginx_url=https://raw.githubusercontent.com/kubernetes/ingress-nginx/controller-v1.15.1/deploy/static/provider/kind/deploy.yaml
ingress_nginx_sha256=2a3ae008c8786431115502644e77ab398fdebfb721a5d1195ed3089cde3299df
# metrics-server v0.9.0. Upstream publishes no checksum for it: this is the value several
# public repositories pin for the file, not recomputed here (no download).
metrics_server_url=https://github.com/kubernetes-sigs/metrics-server/releases/download/v0.9.0/components.yaml
metrics_server_sha256=1cec29a5267809306a2c6ec74a3e449abbb705b4a8beed0c8a1963910f72c79b
# The Kubernetes minors this cluster may run: metrics-server v0.9 needs 1.34 or later, and
# ingress-nginx is tested up to 1.35. kind/cluster.yaml pins a node image inside them.
oldest_minor=34 newest_minor=35
# The kind release that made that node image: kind supports an image with its own release,
# and with other releases best effort (kind's docs, design/node-image).
node_image_kind=v0.31.0

for tool in nix kind kubectl docker curl python3; do
    command -v $tool >/dev/null || { echo "just up needs $tool (nix develop has all but docker)" >&2; exit 1; }
done
case "$(kind version)" in
    "kind $node_image_kind "*) ;;
    *) echo "just up: kind/cluster.yaml's node image was made for kind $node_image_kind; this is $(kind version)" >&2 ;;
esac

# kind's nodes run Linux on this machine's CPU (inside Docker Desktop's VM on a Mac, where
# building them needs a Linux builder: nix/README.md).
case "$(uname -m)" in
    x86_64 | amd64) system=x86_64-linux ;;
    arm64 | aarch64) system=aarch64-linux ;;
    *) echo "just up: no images for $(uname -m)" >&2; exit 1 ;;
esac
mkdir -p .dev
nix build ".#packages.$system.all-images" --out-link .dev/images
kind get clusters | grep -qx notas || kind create cluster --config kind/cluster.yaml
kubectl config use-context kind-notas
minor=$(kubectl version -o json | python3 -c 'import json, sys; print(json.load(sys.stdin)["serverVersion"]["minor"].rstrip("+"))')
if [ "$minor" -lt $oldest_minor ] || [ "$minor" -gt $newest_minor ]; then
    echo "just up: the cluster runs Kubernetes 1.$minor, outside 1.$oldest_minor to 1.$newest_minor ('just down' first)" >&2
    exit 1
fi

# sha256 of a file, the same on Linux and macOS.
sha256() { python3 -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$1"; }
pinned() { # URL FILE SHA256: the upstream manifest, applied only if it is the pinned one
    curl -fsSL "$1" -o "$2"
    [ "$(sha256 "$2")" = "$3" ] || { echo "$1: unexpected sha256 (want $3)" >&2; exit 1; }
    kubectl apply -f "$2"
}
pinned "$ingress_nginx_url" .dev/ingress-nginx.yaml "$ingress_nginx_sha256"
# The edge's rate limit answers 429, the contract's, not the controller's default 503 (its
# ConfigMap's limit-req-status-code; the Ingress sets the limit, k8s/components/ingress-nginx-split).
kubectl -n ingress-nginx patch configmap ingress-nginx-controller --type merge -p '{"data":{"limit-req-status-code":"429"}}'
pinned "$metrics_server_url" .dev/metrics-server.yaml "$metrics_server_sha256"
# kind's kubelets serve self-signed certificates.
kubectl -n kube-system patch deployment metrics-server --type=json \
    -p '[{"op":"add","path":"/spec/template/spec/containers/0/args/-","value":"--kubelet-insecure-tls"}]' || true
for image in .dev/images/*.tar; do kind load image-archive "$image" --name notas; done
kubectl create namespace so1p2 --dry-run=client -o yaml | kubectl apply -f -

# The development MySQL passwords: random, made once, kept only in the cluster. root is the
# server's; the migration user owns the schema; the services' user (url) may only read and
# write the tables (crates/notas-core/src/mysql/migrate.rs).
random() { head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9'; }
if ! kubectl -n so1p2 get secret notas-mysql >/dev/null 2>&1; then
    root=$(random) migrate=$(random) app=$(random)
    kubectl -n so1p2 create secret generic notas-mysql --from-literal=root-password="$root" \
        --from-literal=migrate-password="$migrate" --from-literal=migrate-url="mysql://notas_migrate:$migrate@mysql:3306/notas" \
        --from-literal=url="mysql://notas_app:$app@mysql:3306/notas"
elif [ -z "$(kubectl -n so1p2 get secret notas-mysql -o jsonpath='{.data.migrate-url}')" ]; then
    echo "just up: this cluster's MySQL was made by an older notas (the services connected as root): 'just down', then 'just up'" >&2
    exit 1
fi
# Redis asks for a password too; the services' URL carries it.
if ! kubectl -n so1p2 get secret notas-redis >/dev/null 2>&1; then
    redis=$(random)
    kubectl -n so1p2 create secret generic notas-redis --from-literal=password="$redis" \
        --from-literal=url="redis://:$redis@redis:6379"
fi

# Route 3's broker: the Strimzi operator, pinned and hash-checked like ingress-nginx
# (scripts/cluster/strimzi.py), in the namespace strimzi, watching so1p2. Server-side: the
# Kafka CRD is too large for the annotation of a client-side apply.
python3 -m scripts.cluster.strimzi > .dev/strimzi.yaml
kubectl apply --server-side --force-conflicts -f .dev/strimzi.yaml
kubectl wait --for=condition=Established --timeout=120s \
    crd/kafkas.kafka.strimzi.io crd/kafkanodepools.kafka.strimzi.io crd/kafkatopics.kafka.strimzi.io
kubectl -n strimzi wait --for=condition=Available deployment/strimzi-cluster-operator --timeout=300s
kubectl -n ingress-nginx wait --for=condition=Available deployment/ingress-nginx-controller --timeout=180s
python3 -m scripts.cluster.overlay kind --images .dev/images/images.json > .dev/kind.yaml
# The Kafka cluster and its topics first (k8s/components/strimzi-kafka), the services once
# they are Ready: queue-api is ready only when the broker answers for its topic.
kubectl apply -f .dev/kind.yaml -l strimzi.io/cluster=notas
kubectl -n so1p2 wait --for=condition=Ready kafka/notas --timeout=600s
kubectl -n so1p2 wait --for=condition=Ready kafkatopic --all --timeout=180s
kubectl -n so1p2 delete job notas-migrate --ignore-not-found
kubectl apply -f .dev/kind.yaml
kubectl -n so1p2 wait --for=condition=Complete job/notas-migrate --timeout=300s
for d in $(kubectl -n so1p2 get deploy -o name); do kubectl -n so1p2 rollout status $d --timeout=180s; done
echo "dashboard: http://localhost/   load test: just loadtest brief http://localhost"
echo "POST /notas: routes 1 and 2, 50/50   POST /queue/notas: route 3 (queued, 202)"
