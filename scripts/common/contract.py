"""The facts the Python tools share with the Rust services, written once for every tool.

The Rust side defines each of them; `crates/deploy-checks/tests/contract.rs` runs
`python3 -m scripts.common.contract` and fails, naming the fact and both values, when one differs:
- the courses (`notas_core::grade::Course`, seeded into the `courses` table) and semesters;
- the pass mark (`grade::PASS_THRESHOLD`, which the report summaries count with);
- the live view's keys in Redis (`notas_core::live`): the total, the counts per course term,
  and the bitmaps that mark each grade of routes 2 and 3 as applied;
- the defaults of the settings the tools set or rely on (each binary's clap definition).
The same test holds the frontend's copies (`frontend/src/api.ts`) to them.

`python3 -m scripts.common.contract [ID ...]` prints them as JSON, with the key and bit that mark
each ID as applied. Standard library only, like overlay.py: it runs with any python3.
"""

import json
import sys

COURSES = ("SO1", "BD1", "LFP", "SA", "AYD1")
SEMESTERS = ("1S", "2S")
# USAC's passing grade: a grade at or above it is a pass.
PASS_MARK = 61

# The binaries' defaults: the live view's key prefix, and the timeouts the fault suite
# sets explicitly so that its report can name them.
KEY_PREFIX = "notas:"
DEFAULTS = {
    "REDIS_KEY_PREFIX": KEY_PREFIX,
    "STORE_TIMEOUT_MS": 2000,
    "REDIS_TIMEOUT_MS": 500,
    "REQUEST_TIMEOUT_MS": 5000,
}

# Grade ids per `applied` bitmap: bit `id mod 2^20` of bitmap `id / 2^20`.
APPLIED_BITS = 20


class LiveKeys:
    """The live view's key names under one prefix (`REDIS_KEY_PREFIX`)."""

    def __init__(self, prefix: str = KEY_PREFIX):
        self.prefix = prefix

    def total(self) -> str:
        """String counter: the records routes 2 and 3 wrote."""
        return f"{self.prefix}total"

    def counts(self) -> str:
        """Hash: `count_field` → records."""
        return f"{self.prefix}counts"

    def applied(self, grade_id: int) -> tuple[str, int]:
        """The bitmap that records whether grade `grade_id` was applied, and its bit."""
        return f"{self.prefix}applied:{grade_id >> APPLIED_BITS}", grade_id & ((1 << APPLIED_BITS) - 1)


def count_field(curso: str, semestre: str, year: int) -> str:
    """The field of the counts hash for one course in one semester of one year."""
    return f"{curso}:{semestre}:{year}"


def facts(ids: list[int]) -> dict:
    """Every fact, as the Rust test reads them; `ids` are the grade ids to place in the bitmaps."""
    keys = LiveKeys()
    return {
        "courses": list(COURSES),
        "semesters": list(SEMESTERS),
        "pass_mark": PASS_MARK,
        "defaults": {name: str(value) for name, value in DEFAULTS.items()},
        "keys": {
            "total": keys.total(),
            "counts": keys.counts(),
            "count_field": {"curso": "SO1", "semestre": "2S", "year": 2023, "field": count_field("SO1", "2S", 2023)},
            "applied": {str(i): keys.applied(i) for i in ids},
        },
    }


if __name__ == "__main__":
    print(json.dumps(facts([int(i) for i in sys.argv[1:]]), indent=2))
