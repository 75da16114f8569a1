"""MariaDB's first start and the stack's MySQL users: the data folder initialised once, a
migration user with new random passwords at every start, and the migration step run as it
before the services connect as `notas_app`."""

import os
import secrets
import subprocess
from pathlib import Path
from urllib.parse import urlparse

from scripts.stack.commands import PROFILE, find
from scripts.stack.ports import ROOT, STATE


def init_mariadb(state: Path = STATE) -> None:
    data = state / "mariadb" / "data"
    if (data / "mysql").exists():
        return
    data.mkdir(parents=True, exist_ok=True)
    user = ["--user=root"] if os.geteuid() == 0 else []
    subprocess.run(
        [
            find("mariadb-install-db"),
            "--no-defaults",
            f"--datadir={data}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            *user,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


# Where the migration user's URL is kept: only the migration step reads it, not the services.
MIGRATE_ENV = "migrate.env"


def mysql_users(port: int, state: Path = STATE) -> tuple[str, str]:
    """For the stack's own MariaDB: the URLs of the migration user and of the services' user,
    with new random passwords. The migration user is made by state/mariadb/users.sql, which
    mariadbd runs at every start (`--init-file`); the services' user by the migration step."""
    migrate, app = secrets.token_hex(16), secrets.token_hex(16)
    users = state / "mariadb" / "users.sql"
    users.parent.mkdir(parents=True, exist_ok=True)
    users.touch()
    users.chmod(0o600)
    users.write_text(
        f"CREATE USER IF NOT EXISTS 'notas_migrate'@'%' IDENTIFIED BY '{migrate}';\n"
        f"ALTER USER 'notas_migrate'@'%' IDENTIFIED BY '{migrate}';\n"
        "GRANT ALL ON `notas`.* TO 'notas_migrate'@'%' WITH GRANT OPTION;\n"
        "GRANT CREATE USER ON *.* TO 'notas_migrate'@'%';\n"
    )
    server = f"127.0.0.1:{port}"
    return (
        f"mysql://notas_migrate:{migrate}@{server}/notas",
        f"mysql://notas_app:{app}@{server}/notas",
    )


def as_app_user(admin_url: str) -> str:
    """`admin_url` (an existing server's account) with the services' user and a new password."""
    u = urlparse(admin_url)
    return u._replace(netloc=f"notas_app:{secrets.token_hex(16)}@{u.hostname}:{u.port or 3306}").geturl()


def write_migrate_env(migrate_url: str, app_url: str, state: Path = STATE) -> None:
    """state/migrate.env, readable by this user only: the migration step's two URLs."""
    path = state / MIGRATE_ENV
    path.touch()
    path.chmod(0o600)
    path.write_text(f"MYSQL_URL={migrate_url}\nAPP_MYSQL_URL={app_url}\n")


def migration_command(state: Path = STATE, profile: str = PROFILE) -> str:
    """The migration step (`grpc-server --migrate-only`) as the migration user, in a subshell
    so that the server started after it does not inherit that user's URL."""
    return f"(set -a && . {state}/{MIGRATE_ENV} && exec {ROOT}/target/{profile}/grpc-server --migrate-only)"


def redacted(url: str) -> str:
    """`url` without its password, for printing."""
    u = urlparse(url)
    if not u.password:
        return url
    return u._replace(netloc=f"{u.username}:***@{u.hostname}" + (f":{u.port}" if u.port else "")).geturl()
