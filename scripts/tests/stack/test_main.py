"""What `python -m scripts.stack` checks in the stack's logs."""

from scripts.stack.__main__ import passwords_in


def test_a_log_holding_a_password_of_the_stack_is_named():
    urls = [
        "mysql://notas_app:f00d@127.0.0.1:13306/notas",
        "redis://:beef@127.0.0.1:16379",
        "http://127.0.0.1:8080",
    ]
    logs = {"clean.log": "connected as notas_app:***", "leak.log": "AUTH beef failed"}
    assert passwords_in(logs, urls) == ["leak.log"]
