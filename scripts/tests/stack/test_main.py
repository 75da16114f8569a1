"""What `python -m scripts.stack` checks in the stack's logs, and what it prints once up."""

from scripts.stack.__main__ import passwords_in, ready_message
from scripts.stack.ports import PREFERRED_PORTS


def test_a_log_holding_a_password_of_the_stack_is_named():
    urls = [
        "mysql://notas_app:f00d@127.0.0.1:13306/notas",
        "redis://:beef@127.0.0.1:16379",
        "http://127.0.0.1:8080",
    ]
    logs = {"clean.log": "connected as notas_app:***", "leak.log": "AUTH beef failed"}
    assert passwords_in(logs, urls) == ["leak.log"]


def test_the_ready_message_gives_the_entry_points_address_and_hides_the_passwords():
    env = {
        "NOTAS_URL": "http://127.0.0.1:8080",
        "PROMETHEUS_URL": "http://127.0.0.1:9090",
        "MYSQL_URL": "mysql://notas_app:f00d@127.0.0.1:13306/notas",
        "REDIS_URL": "redis://:beef@127.0.0.1:16379",
    }
    message = ready_message(dict(PREFERRED_PORTS), env)
    assert "  dashboard        http://127.0.0.1:8080/\n" in message
    assert "  route 3 queued   http://127.0.0.1:8080/queue/notas" in message
    assert "f00d" not in message and "beef" not in message
