"""`just test` (`python -m scripts.ci.stages STAGE...`): runs each stage's `just` recipe in
turn and prints how long each took, failed or not.

The fuzzing shares no build with the other stages. It starts first, in its own process
group at the lowest priority, and runs on what the stages leave of the cores; the table's
last stage is what was left of it once the others ended. A failed stage ends the run and
stops the fuzzing with it.
"""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

JUST = os.environ.get("JUST", "just")
FUZZ_LOG = Path(".dev/fuzz.log")


def table(timings: list[tuple[str, float, bool]], total: float) -> str:
    """The timings as `just test` prints them, seconds rounded down, the total last."""
    rows = [f"  {name:<16} {int(seconds):5d}{'' if ok else '  FAILED'}" for name, seconds, ok in timings]
    return "\n".join(["stage timings (s):", *rows, f"  {'total':<16} {int(total):5d}"])


def fuzz_summary(log: str) -> list[str]:
    """libFuzzer's closing lines (`Done N runs in S second(s)`), one per target."""
    return re.findall(r"^Done \d+ runs.*$", log, flags=re.MULTILINE)


def start_fuzzing() -> subprocess.Popen:
    FUZZ_LOG.parent.mkdir(exist_ok=True)
    log = FUZZ_LOG.open("w")
    return subprocess.Popen(
        ["nice", "-n", "19", JUST, "fuzz"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def fuzzed(fuzz: subprocess.Popen) -> bool:
    ok = fuzz.wait() == 0
    log = FUZZ_LOG.read_text()
    done = fuzz_summary(log)
    print(*(done if ok and done else [log]), sep="\n")
    return ok and bool(done)


def main(stages: list[str]) -> int:
    start = time.monotonic()
    timings: list[tuple[str, float, bool]] = []
    fuzz = start_fuzzing()
    try:
        for name in stages:
            began = time.monotonic()
            ok = subprocess.run([JUST, name]).returncode == 0
            timings.append((name, time.monotonic() - began, ok))
            if not ok:
                return 1
        began = time.monotonic()
        ok = fuzzed(fuzz)
        timings.append(("fuzz, left", time.monotonic() - began, ok))
        return 0 if ok else 1
    finally:
        if fuzz.poll() is None:
            os.killpg(fuzz.pid, 15)
        print()
        print(table(timings, time.monotonic() - start))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
