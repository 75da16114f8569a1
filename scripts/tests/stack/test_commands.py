"""The broker's command line, and what the stack says of tansu's log left in .dev/kafka."""

from scripts.stack import commands


def test_the_broker_is_nisshi_on_a_log_of_its_own(tmp_path, monkeypatch):
    monkeypatch.setenv("NISSHI", "/bin/true")
    command = commands.kafka_command(19092, tmp_path)
    assert "exec /bin/true broker --listener-url tcp://127.0.0.1:19092" in command
    assert f"--storage-engine sqlite://{commands.BROKER_LOG}" in command
    assert f"--group-initial-rebalance-delay {commands.GROUP_DELAY}" in command


def test_tansus_log_is_named_once_with_what_its_loss_means(tmp_path):
    assert commands.old_broker_log(tmp_path) is None
    (tmp_path / "kafka").mkdir()
    (tmp_path / "kafka" / commands.TANSU_LOG).write_bytes(b"")
    notice = commands.old_broker_log(tmp_path)
    assert "tansu 0.6.0's log" in notice and "in MySQL and stay" in notice
    # Once nisshi has its own log, the notice is not repeated.
    (tmp_path / "kafka" / commands.BROKER_LOG).write_bytes(b"")
    assert commands.old_broker_log(tmp_path) is None
