"""The local stack behind `just dev` and `just dev-down`, split by phase:

- ports.py: its ports and stack.env, which every tool reads;
- render.py: nginx.conf from the kind overlay's Ingresses, prometheus.yml;
- mariadb.py: MariaDB's first start, the MySQL users and the migration step;
- commands.py: each process's command line, shared with the fault suite;
- control.py: the supervisor over the Procfile, starting in the background, waiting until ready;
- __main__.py: `python -m scripts.stack prepare|run|wait|down|url|logs-without-secrets`.

The names other tools use are re-exported here.
"""

from scripts.stack.control import (
    running_pid,
    start,
    summaries_owed,
    supervisor,
    wait_for,
    wait_for_summaries,
    wait_until_ready,
)
from scripts.stack.ports import (
    PREFERRED_PORTS,
    ROOT,
    STATE,
    assign_ports,
    choose_ports,
    free_port,
    read_env,
    read_ports,
    write_env,
)

__all__ = [
    "PREFERRED_PORTS",
    "ROOT",
    "STATE",
    "assign_ports",
    "choose_ports",
    "free_port",
    "read_env",
    "read_ports",
    "running_pid",
    "start",
    "summaries_owed",
    "supervisor",
    "wait_for",
    "wait_for_summaries",
    "wait_until_ready",
    "write_env",
]
