"""`python -m scripts.stack run` on a Procfile of short-lived processes: what `just dev`,
`just dev-down` and the bench's SIGTERM to its process group see."""

import os
import signal
import subprocess
import sys

from scripts.stack import ROOT, running_pid


def run(state, procfile: str) -> subprocess.Popen:
    (state / "Procfile").write_text(procfile)
    (state / "stack.env").write_text("GREETING=hello\n")
    env = {**os.environ, "NOTAS_STATE": str(state)}
    return subprocess.Popen(
        [sys.executable, "-m", "scripts.stack", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def test_a_process_that_dies_ends_the_stack_naming_itself(tmp_path):
    stack = run(tmp_path, "sleeper: exec sleep 30\nfailing: echo $GREETING; sleep 0.5; kill -9 $$\n")
    output, _ = stack.communicate(timeout=30)
    assert stack.returncode == 1
    assert "failing | hello" in output
    assert output.rstrip().endswith(
        "stack: the stack stopped because failing exited (killed by signal 9); see its lines above (failing |)"
    )


def test_sigterm_to_its_group_stops_it_cleanly(tmp_path):
    stack = run(tmp_path, "sleeper: echo up; exec sleep 30\n")
    assert "sleeper | up" in stack.stdout.readline()  # its processes have started
    assert running_pid(tmp_path) == stack.pid
    os.killpg(stack.pid, signal.SIGTERM)
    output, _ = stack.communicate(timeout=30)
    assert stack.returncode == 0, output
    assert "stopped because" not in output
