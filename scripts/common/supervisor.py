"""The one process supervisor of the tools: `just dev` and `just bench` run the stack under it,
and the fault suite runs its two-replica stack under it too.

It starts each process of a Procfile-like list (name: shell command) in its own process
group, so that a signal reaches the process and its children, and nothing else. It can
signal, kill -9 and restart one process; it stops them all at once, signalling the last of
the list first (the services before the stores they write to). `run` stops the rest when
one exits by itself, and says which one and how it ended.

Each process writes either to its own log file (`logs`) or to one stream (`output`), each
line there prefixed with the process's name.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO


def read_procfile(path: Path) -> dict[str, str]:
    """The processes of a Procfile: `name: command` lines, in order (blank lines and # comments skipped)."""
    procs = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, command = line.split(":", 1)
            procs[name.strip()] = command.strip()
    return procs


def how_it_ended(returncode: int) -> str:
    """A process's exit status in words: "exit code 3", "killed by signal 9"."""
    return f"killed by signal {-returncode}" if returncode < 0 else f"exit code {returncode}"


def ended_message(name: str, returncode: int) -> str:
    """Why a run stopped: "the stack stopped because mariadb exited (killed by signal 9)"."""
    return f"the stack stopped because {name} exited ({how_it_ended(returncode)})"


@dataclass
class Process:
    name: str
    command: str
    popen: subprocess.Popen | None = None
    stopping: bool = False  # stopped on purpose: its exit is not a failure


class Supervisor:
    """The processes of `commands` (name: shell command, run by bash), with `env` and `cwd`.
    Their output goes to `logs`/NAME.log (appended) when `logs` is given, else to `output`
    (default stdout), each line prefixed with the process's name."""

    def __init__(
        self,
        commands: dict[str, str],
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        logs: Path | None = None,
        output: TextIO | None = None,
    ):
        self.procs = {name: Process(name, command) for name, command in commands.items()}
        self.env, self.cwd, self.logs = env, cwd, logs
        self.output = output or sys.stdout
        self.width = max((len(name) for name in commands), default=0)
        self.lock = threading.Lock()
        self.stop_asked = threading.Event()

    def start(self, name: str) -> None:
        """Starts (or starts again) process `name`, in a new session and process group."""
        proc = self.procs[name]
        proc.stopping = False
        if self.logs is not None:
            with open(self.logs / f"{name}.log", "a") as log:
                proc.popen = self._popen(proc, log)
            return
        proc.popen = self._popen(proc, subprocess.PIPE)
        threading.Thread(target=self._copy, args=(name, proc.popen.stdout), daemon=True).start()

    def _popen(self, proc: Process, stdout) -> subprocess.Popen:
        return subprocess.Popen(
            ["bash", "-c", proc.command],
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _copy(self, name: str, pipe) -> None:
        """Copies a process's output to `output`, a prefixed line at a time."""
        for raw in pipe:
            line = raw.decode(errors="replace").rstrip("\n")
            with self.lock:
                self.output.write(f"{time.strftime('%H:%M:%S')} {name:<{self.width}} | {line}\n")
                self.output.flush()
        pipe.close()

    def start_all(self, names: list[str] | None = None) -> None:
        for name in names or list(self.procs):
            self.start(name)

    restart = start

    def signal(self, name: str, sig: int) -> None:
        """Sends `sig` to process `name`'s group. SIGTERM and SIGKILL mark it as stopped on purpose."""
        proc = self.procs[name]
        if sig in (signal.SIGTERM, signal.SIGKILL):
            proc.stopping = True
        try:
            os.killpg(proc.popen.pid, sig)
        except ProcessLookupError:
            pass

    def kill(self, name: str) -> None:
        """kill -9 of process `name`'s group; returns once the process is gone."""
        self.signal(name, signal.SIGKILL)
        self.procs[name].popen.wait()

    def wait(self, name: str, timeout: float | None = None) -> int:
        """Process `name`'s exit status, once it has exited (subprocess.TimeoutExpired after `timeout`)."""
        return self.procs[name].popen.wait(timeout)

    def running(self, name: str) -> bool:
        popen = self.procs[name].popen
        return popen is not None and popen.poll() is None

    def exited(self) -> list[tuple[str, int]]:
        """The processes that exited without being asked to, with their exit status."""
        return [
            (p.name, p.popen.returncode)
            for p in self.procs.values()
            if p.popen is not None and not p.stopping and p.popen.poll() is not None
        ]

    def stop(self, timeout: float = 20.0) -> None:
        """Stops every process: SIGTERM to each, the last of the list first, then kill -9 of
        the groups still there `timeout` seconds later. All at once, so that stopping takes
        as long as the slowest process, not the sum of them."""
        running = [name for name in reversed(self.procs) if self.running(name)]
        for name in running:
            self.signal(name, signal.SIGTERM)
            self.signal(name, signal.SIGCONT)  # a stopped process must run to end
        deadline = time.time() + timeout
        for name in running:
            try:
                self.wait(name, max(0.0, deadline - time.time()))
            except subprocess.TimeoutExpired:
                self.kill(name)

    def run(self, poll: float = 0.1) -> tuple[str, int] | None:
        """Starts every process, then waits until one exits by itself or SIGINT or SIGTERM
        arrives, and stops them all. Returns the process that ended the run, with its exit
        status (None: it was asked to stop)."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stop_asked.set())
        self.start_all()
        ended = None
        while ended is None and not self.stop_asked.wait(poll):
            ended = next(iter(self.exited()), None)
        self.stop()
        return ended
