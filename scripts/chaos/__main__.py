"""The fault suite's run (`just chaos`, `python -m scripts.chaos`): the stack up, then for
each fault the load, the fault, the checks once every grade has its answer; the same checks
once more at the end, then the report. Exits 1 on any violation."""

# gevent first: the faults' sleeps, subprocess waits and store connections must yield to
# the load's greenlets instead of pausing the arrivals. (So the imports below come after code.)
# ruff: noqa: E402
from gevent import monkey

monkey.patch_all()

import shutil
import sys
import time
from datetime import datetime, timezone

import gevent
from gevent.event import Event

from scripts.chaos.checks import acknowledged_and_stored, attempt_violations, kept_accepting_violations, times_to_stored
from scripts.chaos.faults import FAULTS, FAULTS_CHOSEN, QUEUE_KEEPS_ACCEPTING
from scripts.chaos.load import Load
from scripts.chaos.report import Outcome, write_report
from scripts.chaos.settings import GIVE_UP_AFTER, LEAD, REQUEST_TIMEOUT_MS, TAIL
from scripts.chaos.settle import caught_up_after, settled_violations
from scripts.chaos.stack import Stack
from scripts.stack import ROOT


def run_fault(stack: Stack, load: Load, name: str) -> Outcome:
    first_grade, first_attempt = len(load.grades), len(load.attempts)
    stack.notes, stack.fault_violations, stack.load = [], [], load
    stop = Event()
    senders = [gevent.spawn(load.send_until, stop), gevent.spawn(load.send_until, stop, True)]
    gevent.sleep(LEAD)
    start = time.time()
    back = FAULTS[name](stack)
    catching_up = gevent.spawn(caught_up_after, stack, back)
    gevent.sleep(max(0.0, back + TAIL - time.time()))
    stop.set()
    greenlets = [g for sender in senders for g in sender.get()]
    gevent.joinall(greenlets, timeout=GIVE_UP_AFTER + 30)
    violations = list(stack.fault_violations)
    if not all(g.dead for g in greenlets):
        violations.append(f"{sum(not g.dead for g in greenlets)} grades still unanswered")
    live_caught_up = catching_up.get()
    if live_caught_up is None:
        violations.append("the live view did not catch up within a minute of the recovery")
    settled, rows, drained = settled_violations(stack, load)
    violations += settled
    attempts = load.attempts[first_attempt:]
    answers, first_ok = attempt_violations(attempts, back, REQUEST_TIMEOUT_MS)
    violations += answers
    if name in QUEUE_KEEPS_ACCEPTING:
        violations += kept_accepting_violations(attempts, start, back, QUEUE_KEEPS_ACCEPTING[name])
    checked = time.time()
    peak = max((lag for at, lag in load.backlog if start <= at <= checked and lag is not None), default=None)
    if name == "mariadb down while queuing" and not peak:
        violations.append("route 3's queue did not grow while MariaDB was down: the fault tested nothing")
    grades = load.grades[first_grade:]
    return Outcome(
        name,
        start,
        back,
        range(first_grade, len(load.grades)),
        first_ok,
        live_caught_up,
        violations,
        acknowledged_and_stored(rows, grades),
        drained,
        peak,
        times_to_stored(rows, grades),
        list(stack.notes),
    )


def final_check(stack: Stack, load: Load) -> tuple[list[str], dict[int, tuple[int, int]]]:
    """After the last fault, with no load: the same checks over every grade sent."""
    violations, rows, _ = settled_violations(stack, load)
    return violations, acknowledged_and_stored(rows, load.grades)


def main() -> None:
    if unknown := [f for f in FAULTS_CHOSEN if f not in FAULTS]:
        sys.exit(f"chaos: unknown fault {unknown[0]!r}; CHAOS_FAULTS takes: {', '.join(FAULTS)}")
    run = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    folder = ROOT / ".dev" / "chaos" / run
    stack = Stack(folder / "stack")
    print(f"chaos: starting the stack in {stack.state}", flush=True)
    try:
        stack.up()
        load, outcomes, t0 = Load(stack.url, run), [], time.time()
        watcher = gevent.spawn(load.watch_backlog, stack.brokers)
        for name in FAULTS_CHOSEN:
            print(f"chaos: {name}", flush=True)
            outcomes.append(run_fault(stack, load, name))
            for v in outcomes[-1].violations:
                print(f"chaos:   VIOLATION {v}", flush=True)
        print("chaos: the end", flush=True)
        end = final_check(stack, load)
        for v in end[0]:
            print(f"chaos:   VIOLATION {v}", flush=True)
        watcher.kill()
        write_report(folder, load, outcomes, t0, end)
    finally:
        stack.down()
    shutil.rmtree(stack.state / "mariadb")  # the logs stay
    print((folder / "report.md").read_text())
    print(f"chaos: report in {folder}/report.md")
    sys.exit(1 if any(o.violations for o in outcomes) or end[0] else 0)


if __name__ == "__main__":
    main()
