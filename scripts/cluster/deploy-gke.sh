#!/usr/bin/env bash
# `just deploy-gke`: the images to Artifact Registry, the frontend to Cloud Run, the GKE
# overlay to the cluster kubectl points at. Idempotent: run it again to roll out new code
# (each image is pushed under its content tag and pinned by digest). docs/gke.md lists the variables and
# what must exist first.
set -euo pipefail
cd "$(dirname "$0")/../.."

for var in GCP_PROJECT GCP_REGION AR_REPOSITORY INSTANCE_CONNECTION_NAME GCP_SERVICE_ACCOUNT MEMORYSTORE_INSTANCE NOTAS_DOMAIN; do
    [ -n "${!var:-}" ] || { echo "deploy-gke: set $var (docs/gke.md)" >&2; exit 1; }
done
for tool in nix skopeo gcloud kubectl curl python3; do
    command -v $tool >/dev/null || { echo "deploy-gke needs $tool (nix develop has them all)" >&2; exit 1; }
done

# GKE's nodes and Cloud Run run x86_64 Linux. Nix builds it here if it is the `system` or in
# `extra-platforms`, else on a machine of `builders` that lists it: `@file` or machines one per
# line or `;`, the second field their comma-separated systems (Nix's
# src/libstore/include/nix/store/globals.hh). nix-darwin's Linux builder lists only its own,
# aarch64-linux on Apple Silicon (modules/nix/linux-builder.nix): stop now, naming the fix.
builds_x86_64_linux() {
    local builders
    for system in $(nix config show system) $(nix config show extra-platforms); do
        [ "$system" = x86_64-linux ] && return 0
    done
    builders=$(nix config show builders)
    [[ $builders == @* ]] && builders=$(cat "${builders#@}" 2>/dev/null || true)
    tr ';' '\n' <<<"$builders" | awk '!/^[[:space:]]*#/ { print $2 }' | tr ',' '\n' | grep -x x86_64-linux >/dev/null
}
builds_x86_64_linux || {
    echo "deploy-gke: this machine's Nix has no builder for x86_64-linux, which GKE and Cloud Run run." >&2
    echo "  On a Mac with nix-darwin's Linux builder, let it emulate x86_64 (nix/README.md, 'Systems'):" >&2
    echo '    nix.linux-builder.systems = [ "x86_64-linux" "aarch64-linux" ];' >&2
    echo '    nix.linux-builder.config.boot.binfmt.emulatedSystems = [ "x86_64-linux" ];' >&2
    exit 1
}

project=(--project "$GCP_PROJECT")
registry="$GCP_REGION-docker.pkg.dev/$GCP_PROJECT/$AR_REPOSITORY"
work=.dev/gke
mkdir -p "$work"

# GKE's nodes and Cloud Run run x86_64 Linux, whatever this machine is (a Mac builds them
# through a Linux builder: nix/README.md).
nix build .#packages.x86_64-linux.all-images --out-link "$work/images"

# Each image under its content tag, then pinned by the digest the registry stored.
creds="oauth2accesstoken:$(gcloud auth print-access-token)"
pushed=()
for name in grpc-server grpc-client redis-api queue-api grade-consumer dashboard-api monitor frontend; do
    tag=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]].rsplit(":", 1)[1])' \
        "$work/images/images.json" "$name")
    skopeo copy --dest-creds "$creds" "docker-archive:$work/images/$name.tar" "docker://$registry/$name:$tag"
    digest=$(skopeo inspect --creds "$creds" --format '{{.Digest}}' "docker://$registry/$name:$tag")
    pushed+=("\"$name\": \"$registry/$name@$digest\"")
done
(IFS=,; echo "{${pushed[*]}}") > "$work/images.json"

# The cluster's workloads act as the Google service account that may use Cloud SQL; GMP's
# query frontend (the route comparison's Prometheus) reads metrics as it too, which takes
# roles/monitoring.viewer (k8s/components/managed-prometheus/query-frontend.yaml).
for ksa in grpc-server redis-api queue-api grade-consumer dashboard-api notas-migrate gmp-frontend; do
    gcloud iam service-accounts add-iam-policy-binding "$GCP_SERVICE_ACCOUNT" "${project[@]}" --quiet \
        --role=roles/iam.workloadIdentityUser --member="serviceAccount:$GCP_PROJECT.svc.id.goog[so1p2/$ksa]" >/dev/null
done
gcloud projects add-iam-policy-binding "$GCP_PROJECT" --quiet \
    --member="serviceAccount:$GCP_SERVICE_ACCOUNT" --role=roles/monitoring.viewer >/dev/null

# The HTTPS entry point: a static address and a Google-managed certificate, made once.
gcloud compute addresses describe notas-ip --global "${project[@]}" >/dev/null 2>&1 ||
    gcloud compute addresses create notas-ip --global "${project[@]}"
address=$(gcloud compute addresses describe notas-ip --global "${project[@]}" --format='value(address)')
gcloud compute ssl-certificates describe notas-cert --global "${project[@]}" >/dev/null 2>&1 ||
    gcloud compute ssl-certificates create notas-cert --domains="$NOTAS_DOMAIN" --global "${project[@]}"

# The edge's rate limit per client address (Cloud Armor, on each route's backend through
# its GCPBackendPolicy, k8s/components/gateway-api-split): 5,000 grades a second from one
# address, counted over a minute; past it a 429. Made once. Cloud Armor counts it for each
# backend on its own, so through the split one address gets about twice kind's limit.
gcloud compute security-policies describe notas-edge "${project[@]}" >/dev/null 2>&1 ||
    gcloud compute security-policies create notas-edge "${project[@]}" --description="notas: per-address rate limit"
gcloud compute security-policies rules describe 1000 --security-policy=notas-edge "${project[@]}" >/dev/null 2>&1 ||
    gcloud compute security-policies rules create 1000 --security-policy=notas-edge "${project[@]}" \
        --src-ip-ranges='*' --action=throttle --rate-limit-threshold-count=300000 \
        --rate-limit-threshold-interval-sec=60 --conform-action=allow --exceed-action=deny-429 --enforce-on-key=IP

# The frontend on Cloud Run: its config.js (the API's https origin) from Secret Manager,
# readable by the service's runtime account, and the service open to every browser.
number=$(gcloud projects describe "$GCP_PROJECT" --format='value(projectNumber)')
export FRONTEND_SERVICE_ACCOUNT=${FRONTEND_SERVICE_ACCOUNT:-$number-compute@developer.gserviceaccount.com}
gcloud secrets describe notas-frontend-config "${project[@]}" >/dev/null 2>&1 ||
    gcloud secrets create notas-frontend-config --replication-policy=automatic "${project[@]}"
printf 'window.NOTAS_CONFIG = { apiOrigin: "https://%s", refreshMs: 3000 };\n' "$NOTAS_DOMAIN" |
    gcloud secrets versions add notas-frontend-config --data-file=- "${project[@]}"
gcloud secrets add-iam-policy-binding notas-frontend-config "${project[@]}" --quiet \
    --member="serviceAccount:$FRONTEND_SERVICE_ACCOUNT" --role=roles/secretmanager.secretAccessor >/dev/null
python3 -m scripts.cluster.overlay cloudrun --images "$work/images.json" > "$work/cloudrun-frontend.yaml"
gcloud run services replace "$work/cloudrun-frontend.yaml" "${project[@]}" --region "$GCP_REGION"
gcloud run services add-iam-policy-binding notas-frontend "${project[@]}" --region "$GCP_REGION" --quiet \
    --member=allUsers --role=roles/run.invoker >/dev/null
# Cloud Run serves the page at two URLs, the deterministic https://SERVICE-NUMBER.REGION.run.app
# and a hashed one, and `status.url` names only one (cloud.google.com/run/docs/triggering/
# https-request, "Service URL"): CORS admits every URL of the annotation run.googleapis.com/urls
# (the Admin API v1 form of v2's Service.urls, "all URLs serving traffic"), status.url and the
# deterministic URL, in case the annotation is missing.
FRONTEND_ORIGINS=$(gcloud run services describe notas-frontend "${project[@]}" --region "$GCP_REGION" --format=json |
    python3 -c 'import json, sys
service = json.load(sys.stdin)
urls = json.loads(service["metadata"].get("annotations", {}).get("run.googleapis.com/urls", "[]"))
urls += [service["status"]["url"], sys.argv[1]]
print(",".join(dict.fromkeys(u.rstrip("/") for u in urls)))' "https://notas-frontend-$number.$GCP_REGION.run.app")
export FRONTEND_ORIGINS

# The cluster: the GKE overlay with the pushed digests and this environment's values.
python3 -m scripts.cluster.overlay gke --images "$work/images.json" > "$work/gke.yaml"
kubectl create namespace so1p2 --dry-run=client -o yaml | kubectl apply -f -
kubectl -n so1p2 get secret notas-mysql >/dev/null ||
    { echo "deploy-gke: create the notas-mysql secret first (docs/gke.md)" >&2; exit 1; }
# Memorystore as the services reach it (k8s/components/memorystore), in the Secret notas-redis:
# its address; its AUTH string when AUTH is on (empty otherwise); rediss:// with its server CA
# when in-transit encryption is on (SERVER_AUTHENTICATION, port 6378). Through files, so no
# password is on a command line.
gcloud redis instances describe "$MEMORYSTORE_INSTANCE" --region "$GCP_REGION" "${project[@]}" --format=json > "$work/memorystore.json"
(umask 077 && gcloud redis instances get-auth-string "$MEMORYSTORE_INSTANCE" --region "$GCP_REGION" "${project[@]}" \
    --format='value(authString)' > "$work/redis-auth")
(umask 077 && python3 -m scripts.cluster.memorystore "$work/memorystore.json" "$work/redis-auth" "$work/redis-url" "$work/redis-ca.pem")
kubectl -n so1p2 create secret generic notas-redis --from-file=url="$work/redis-url" \
    --from-file=ca.pem="$work/redis-ca.pem" --dry-run=client -o yaml | kubectl apply -f -
rm -f "$work/redis-auth" "$work/redis-url"
# Route 3's broker: Kafka run by Strimzi on this cluster, as on kind (docs/decisions/
# 0012-strimzi-not-managed-kafka.md says why not Managed Service for Apache Kafka). The operator from the same pinned,
# hash-checked manifests as `just up` (scripts/cluster/strimzi.py; server-side: the Kafka
# CRD is too large for a client-side apply), then the Kafka cluster and its topics, and the
# services only once those are Ready.
python3 -m scripts.cluster.strimzi > "$work/strimzi.yaml"
kubectl apply --server-side --force-conflicts -f "$work/strimzi.yaml"
kubectl wait --for=condition=Established --timeout=120s \
    crd/kafkas.kafka.strimzi.io crd/kafkanodepools.kafka.strimzi.io crd/kafkatopics.kafka.strimzi.io
kubectl -n strimzi wait --for=condition=Available deployment/strimzi-cluster-operator --timeout=300s
kubectl apply -f "$work/gke.yaml" -l strimzi.io/cluster=notas
kubectl -n so1p2 wait --for=condition=Ready kafka/notas --timeout=900s
kubectl -n so1p2 wait --for=condition=Ready kafkatopic --all --timeout=180s
kubectl -n so1p2 delete job notas-migrate --ignore-not-found
kubectl apply -f "$work/gke.yaml"
kubectl -n so1p2 wait --for=condition=Complete job/notas-migrate --timeout=300s
for d in $(kubectl -n so1p2 get deploy -o name); do kubectl -n so1p2 rollout status "$d" --timeout=300s; done

echo "dashboard: ${FRONTEND_ORIGINS//,/ or }"
echo "API:       https://$NOTAS_DOMAIN (its DNS A record must point at $address; the certificate"
echo "           becomes active some minutes after that: gcloud compute ssl-certificates describe notas-cert --global)"
echo "load test: just loadtest brief https://$NOTAS_DOMAIN   (LT_MYSQL / LT_REDIS to reconcile)"
echo "route 3:   POST https://$NOTAS_DOMAIN/queue/notas; all three routes: POST /notas with the header x-notas-split: all"
