"""The stack's processes and the CPU seconds they spent, read with psutil: the load test's
report and the bench both charge a record's cost to the processes the stack's supervisor started. The bench
also reads its own CPU seconds, and the whole machine's, to say how much of the machine
other processes used while it ran."""

import resource

import psutil

# Each route's own processes, by program name (the same as their cluster containers'): what
# the dashboard's route panel, the load test's report and the bench charge to a route.
ROUTE_PROCESSES = {
    "grpc": ("grpc-client", "grpc-server"),
    "redis": ("redis-api",),
    "queue": ("queue-api", "grade-consumer"),
}


def stack_processes(supervisor: int, names: tuple[str, ...]) -> dict[str, list[int]]:
    """The processes the supervisor (pid `supervisor`) started, by program name (`names`), with their
    children (nginx's workers). Matched by ancestry and by the kernel's name for them,
    which redis-server keeps though it rewrites its command line."""
    found = {name: [] for name in names}
    for proc in psutil.Process(supervisor).children(recursive=True):
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


def children_seconds() -> float:
    """User and system CPU seconds of this process's children that have ended and been
    waited for (a load generator, once it has exited)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (every core, every process) since boot."""
    t = psutil.cpu_times()
    return sum(getattr(t, f, 0.0) for f in ("user", "nice", "system", "irq", "softirq", "steal"))


def own_seconds(pid: int) -> float:
    """CPU seconds of this process, of its children that ended, and of process `pid` and its
    descendants so far (`tree_seconds`): a tool's own share of the machine."""
    own = sum(
        getattr(resource.getrusage(who), f)
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        for f in ("ru_utime", "ru_stime")
    )
    return own + tree_seconds(pid)
