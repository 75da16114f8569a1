"""The supervisor on real short-lived processes: each test ends within seconds."""

import io
import signal
import time

import psutil
import pytest

from scripts.common.supervisor import Supervisor, ended_message, how_it_ended, read_procfile


@pytest.fixture
def supervise():
    """A Supervisor whose processes are stopped after the test, whatever it did."""
    made = []

    def make(commands: dict[str, str], **options) -> Supervisor:
        made.append(Supervisor(commands, **options))
        return made[-1]

    yield make
    for supervisor in made:
        supervisor.stop(timeout=2)


def eventually(condition, seconds: float = 5.0) -> bool:
    """Whether `condition()` turns true within `seconds` (the machine may be busy)."""
    deadline = time.time() + seconds
    while not condition():
        if time.time() > deadline:
            return False
        time.sleep(0.05)
    return True


def gone(pid: int) -> bool:
    """Whether process `pid` has ended (a zombie not reaped yet has ended too)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_read_procfile_keeps_the_order_and_the_colons(tmp_path):
    (tmp_path / "Procfile").write_text("# a comment\nb: sleep 1\n\na: echo x: y\n")
    assert read_procfile(tmp_path / "Procfile") == {"b": "sleep 1", "a": "echo x: y"}


def test_how_a_process_ended_in_words():
    assert how_it_ended(3) == "exit code 3"
    assert how_it_ended(-9) == "killed by signal 9"
    assert ended_message("mariadb", -9) == "the stack stopped because mariadb exited (killed by signal 9)"


def test_run_stops_the_rest_when_one_exits_by_itself(supervise):
    output = io.StringIO()
    supervisor = supervise({"sleeper": "sleep 30", "failing": "echo bye; sleep 0.3; exit 3"}, output=output)
    start = time.time()
    assert supervisor.run() == ("failing", 3)
    assert time.time() - start < 10
    assert not supervisor.running("sleeper")
    assert supervisor.procs["sleeper"].popen.returncode == -signal.SIGTERM
    assert "failing | bye" in output.getvalue()


def test_run_names_a_process_killed_with_9(supervise):
    supervisor = supervise({"victim": "sleep 0.3; kill -9 $$", "other": "exec sleep 30"}, output=io.StringIO())
    assert supervisor.run() == ("victim", -signal.SIGKILL)
    assert not supervisor.running("other")


def test_kill_and_restart_one_leaves_the_others(supervise, tmp_path):
    supervisor = supervise({"a": "exec sleep 30", "b": "echo started; exec sleep 30"}, logs=tmp_path)
    log = tmp_path / "b.log"
    supervisor.start_all()
    assert eventually(lambda: log.read_text() == "started\n")
    first = supervisor.procs["b"].popen.pid
    supervisor.kill("b")
    assert not supervisor.running("b") and supervisor.running("a")
    assert supervisor.exited() == []  # killed on purpose
    supervisor.restart("b")
    assert supervisor.running("b") and supervisor.procs["b"].popen.pid != first
    assert eventually(lambda: log.read_text() == "started\nstarted\n")


def test_a_signal_reaches_the_process_group(supervise, tmp_path):
    # The shell and its child both get SIGTERM: nothing is left behind.
    supervisor = supervise({"parent": "sleep 30 & echo $! > child.pid; wait"}, cwd=tmp_path, logs=tmp_path)
    supervisor.start_all()
    pid_file = tmp_path / "child.pid"
    assert eventually(lambda: pid_file.exists() and pid_file.read_text().strip())
    child = int(pid_file.read_text())
    supervisor.stop(timeout=5)
    assert eventually(lambda: gone(child))


def test_stop_kills_what_ignores_sigterm(supervise, tmp_path):
    supervisor = supervise({"stubborn": "trap '' TERM; echo ready; sleep 30 & wait; sleep 30"}, logs=tmp_path)
    supervisor.start_all()
    assert eventually(lambda: (tmp_path / "stubborn.log").read_text() == "ready\n")
    start = time.time()
    supervisor.stop(timeout=0.5)
    assert time.time() - start < 5
    assert supervisor.procs["stubborn"].popen.returncode == -signal.SIGKILL


def test_stop_runs_a_stopped_process_to_its_end(supervise, tmp_path):
    supervisor = supervise({"paused": "exec sleep 30"}, logs=tmp_path)
    supervisor.start_all()
    supervisor.signal("paused", signal.SIGSTOP)
    supervisor.stop(timeout=5)
    assert supervisor.procs["paused"].popen.returncode == -signal.SIGTERM


def test_stop_takes_as_long_as_the_slowest_not_the_sum(supervise, tmp_path):
    slow = "trap 'sleep 2; exit 0' TERM; sleep 30 & wait"
    supervisor = supervise({name: slow for name in ("a", "b", "c")}, logs=tmp_path)
    supervisor.start_all()
    time.sleep(0.3)
    start = time.time()
    supervisor.stop(timeout=10)
    assert time.time() - start < 5  # one after another: 6 s
    assert all(not supervisor.running(name) for name in "abc")
