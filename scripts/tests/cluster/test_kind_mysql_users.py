"""kind's MySQL makes its migration user at its first start with `users.sh`, which the
image's entrypoint sources (docker-library/mysql's docker_process_init_files) with
`docker_process_sql` running SQL as root. Here the script is taken from the rendered kind
overlay and run the same way against the test server, under a user name of the test's own,
and the user must hold what the migration step needs: the schema's rights with the grant
option, and CREATE USER (crates/notas-core/src/mysql/migrate.rs)."""

import os
import subprocess
import uuid
from urllib.parse import urlparse

import yaml

from scripts.cluster.overlay import ROOT

SERVER = urlparse(os.environ.get("TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306"))
ADDRESS = ["mysql", "--protocol=tcp", "-h", SERVER.hostname or "127.0.0.1", "-P", str(SERVER.port or 3306)]
MYSQL = [*ADDRESS, "-u", SERVER.username or "root"] + ([f"-p{SERVER.password}"] if SERVER.password else [])


def users_script() -> str:
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / "k8s/overlays/kind")], check=True, capture_output=True, text=True
    ).stdout
    (config,) = [d for d in yaml.safe_load_all(rendered) if d and d["metadata"]["name"] == "mysql-initdb"]
    return config["data"]["users.sh"]


def test_users_sh_makes_a_migration_user_that_may_create_users_and_grant():
    user = f"nt_kind_{uuid.uuid4().hex[:12]}"
    script = users_script().replace("notas_migrate", user)
    sql = " ".join(MYSQL)
    run = f'docker_process_sql() {{ {sql} "$@"; }}\n{script}'
    subprocess.run(["bash", "-euc", run], check=True, env={**os.environ, "NOTAS_MIGRATE_PASSWORD": "k1nd-pass"})
    try:
        grants = subprocess.run(
            [*MYSQL, "-N", "-e", f"SHOW GRANTS FOR '{user}'@'%'"], check=True, capture_output=True, text=True
        ).stdout
        assert "CREATE USER ON *.*" in grants, grants
        assert "ALL PRIVILEGES ON `notas`.*" in grants and "WITH GRANT OPTION" in grants, grants
        subprocess.run([*ADDRESS, "-u", user, "-pk1nd-pass", "-e", "SELECT 1"], check=True, capture_output=True)
    finally:
        subprocess.run([*MYSQL, "-e", f"DROP USER IF EXISTS '{user}'@'%'"], check=True)
