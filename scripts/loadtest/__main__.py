"""The load test from the command line, run from the repository root:

    python -m scripts.loadtest run [smoke|brief|stress] [TARGET] [split|queue|all]
    python -m scripts.loadtest smoke [--just JUST]
    python -m scripts.loadtest snapshot --mysql URL --redis URL [--prefix P] [--prometheus URL --cpu local|cadvisor] > before.json
    python -m scripts.loadtest write RUN_DIR --before before.json --mysql URL --redis URL [...] [--strict]

`run` is `just loadtest` (run.py): a snapshot, the Locust run, the report. `smoke` is
`just smoke` (smoke.py), CI's load test. `snapshot` and `write` are the report's two halves,
for a run made by other means. The report is RUN_DIR/report.md: the client side, the load
generator, the server side and the reconciliation. It exits 1 when a record was lost or
duplicated and, with --strict, when any request failed. Without --mysql the run is not
reconciled, and does not pass.
"""

import argparse
import json
import sys
from pathlib import Path

from scripts.common.contract import KEY_PREFIX
from scripts.loadtest import report, run, smoke
from scripts.loadtest.routes import Sources
from scripts.loadtest.snapshot import empty_snapshot, snapshot


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    loadtest = commands.add_parser("run", help="`just loadtest`: one Locust run and its report")
    loadtest.add_argument("preset", nargs="?", default="smoke")
    loadtest.add_argument("target", nargs="?", default="")
    loadtest.add_argument("routes", nargs="?", default="split")
    ci = commands.add_parser("smoke", help="`just smoke`: CI's load test against a local stack")
    ci.add_argument("--just", default="just", help="the `just` that runs the stack and each load test")
    for name in ("snapshot", "write"):
        half = commands.add_parser(name)
        if name == "write":
            half.add_argument("run", help="the run's folder")
            half.add_argument("--before", help="snapshot taken before the run")
            half.add_argument("--strict", action="store_true", help="fail on any failed request too")
        half.add_argument("--mysql", default="", help="MySQL URL of the target's database")
        half.add_argument("--redis", default="", help="Redis URL of the target's live view")
        half.add_argument("--prefix", default=KEY_PREFIX, help="REDIS_KEY_PREFIX of the target")
        half.add_argument("--prometheus", default="", help="Prometheus URL that scrapes the target's services")
        half.add_argument(
            "--cpu",
            choices=["local", "cadvisor"],
            help="where the processes' CPU is read: the local stack's processes, or cAdvisor's container counters "
            "in --prometheus",
        )
    args = parser.parse_args()
    if args.command == "run":
        return run.main(args.preset, args.target, args.routes)
    if args.command == "smoke":
        return smoke.main(args.just)
    sources = Sources(args.mysql, args.redis, args.prefix, args.prometheus, args.cpu)
    if args.command == "snapshot":
        print(json.dumps(snapshot(sources) if sources.mysql else empty_snapshot(sources)))
        return 0
    return report.write(Path(args.run), Path(args.before) if args.before else None, sources, args.strict)


if __name__ == "__main__":
    sys.exit(main())
