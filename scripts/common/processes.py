"""The stack's processes and the CPU seconds they spent, read with psutil: the load test's
report and the bench both charge a record's cost to the processes honcho started."""

import psutil


def stack_processes(honcho: int, names: tuple[str, ...]) -> dict[str, list[int]]:
    """The processes honcho (pid `honcho`) started, by program name (`names`), with their
    children (nginx's workers). Matched by ancestry and by the kernel's name for them,
    which redis-server keeps though it rewrites its command line."""
    found = {name: [] for name in names}
    for proc in psutil.Process(honcho).children(recursive=True):
        try:
            if proc.name() in found:
                found[proc.name()].append(proc.pid)
        except psutil.NoSuchProcess:
            continue
    return found


def cpu_seconds(procs: dict[str, list[int]]) -> dict[str, float]:
    """User and system CPU seconds so far of each name's processes (`stack_processes`)."""
    seconds = {}
    for name, pids in procs.items():
        seconds[name] = 0.0
        for pid in pids:
            try:
                times = psutil.Process(pid).cpu_times()
                seconds[name] += times.user + times.system
            except psutil.NoSuchProcess:
                pass
    return seconds


def tree_seconds(pid: int) -> float:
    """User and system CPU seconds so far of process `pid` and all its descendants (0: gone)."""
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    seconds = 0.0
    for proc in tree:
        try:
            times = proc.cpu_times()
            seconds += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return seconds


def executable(pid: int) -> str:
    """The path of the program process `pid` runs ("": gone or not ours to read)."""
    try:
        return psutil.Process(pid).exe()
    except psutil.Error:
        return ""
