import os
import subprocess
import sys
import time

from scripts.common.processes import busy_seconds, children_seconds, own_seconds, tree_seconds

SPIN = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"


def test_a_child_that_ended_is_counted_in_the_childrens_and_the_own_seconds():
    children, own, busy = children_seconds(), own_seconds(os.getpid()), busy_seconds()
    subprocess.run([sys.executable, "-c", SPIN], check=True)
    assert children_seconds() - children >= 0.3
    assert own_seconds(os.getpid()) - own >= 0.3
    assert busy_seconds() - busy >= 0.3


def test_a_running_tree_is_counted_and_a_gone_one_is_zero():
    child = subprocess.Popen([sys.executable, "-c", SPIN + "\ntime.sleep(30)"])
    try:
        while tree_seconds(child.pid) < 0.3 and child.poll() is None:
            time.sleep(0.05)
        assert tree_seconds(child.pid) >= 0.3
        # This process's own seconds, then the child's tree.
        assert own_seconds(child.pid) >= tree_seconds(child.pid)
    finally:
        child.kill()
        child.wait()
    assert tree_seconds(child.pid) == 0.0
