"""The Secret `notas-redis` of GKE, from a Memorystore for Redis instance as
`gcloud redis instances describe --format=json` gives it and its AUTH string (empty when AUTH
is off, as `gcloud redis instances get-auth-string` answers then): the services' REDIS_URL,
and the server CA that REDIS_CA_FILE names when in-transit encryption is on
(k8s/components/memorystore). Standard library only: `scripts/cluster/deploy-gke.sh` runs it as

    python3 -m scripts.cluster.memorystore INSTANCE_JSON AUTH_FILE URL_FILE CA_FILE
"""

import json
import sys
from urllib.parse import quote


def redis_settings(instance: dict, auth: str) -> tuple[str, str]:
    """The URL and the CA (PEM, empty without TLS) to reach `instance`. Its fields are those
    of the Memorystore API's Instance: host, port, transitEncryptionMode (SERVER_AUTHENTICATION
    with TLS, on port 6378), serverCaCerts[].cert."""
    tls = instance.get("transitEncryptionMode") == "SERVER_AUTHENTICATION"
    ca = "".join(c["cert"] for c in instance.get("serverCaCerts", [])) if tls else ""
    password = f":{quote(auth, safe='')}@" if auth else ""
    url = f"{'rediss' if tls else 'redis'}://{password}{instance['host']}:{instance['port']}"
    return url, ca


def main() -> None:
    instance_json, auth_file, url_file, ca_file = sys.argv[1:5]
    with open(instance_json) as f:
        instance = json.load(f)
    with open(auth_file) as f:
        auth = f.read().strip()
    url, ca = redis_settings(instance, auth)
    with open(url_file, "w") as f:
        f.write(url)
    with open(ca_file, "w") as f:
        f.write(ca)


if __name__ == "__main__":
    main()
