"""`just chaos`: the fault suite, `python -m scripts.chaos`. It runs the local stack with two
replicas of each route, sends an open-model load of grades to the split and to route 3, and
injects eight faults one after another. After each, it checks that no acknowledged grade is
lost or stored twice, that the live view and the report summaries are exact, and that every
request was answered in time. It writes report.md, timeline.png and attempts.csv to
.dev/chaos/<time>/ and exits 1 on any violation.

Split by phase:

- settings.py: the rates, the services' timeouts and the bounds the checks hold them to;
- stack.py: its stack of two replicas, under scripts/common/supervisor.py;
- load.py: the open-model load, each grade retried with its Idempotency-Key;
- faults.py: the eight faults;
- settle.py: what is read once a fault is over (the queue, the live view, the summaries);
- checks.py: the checks, pure functions of what was read;
- report.py: the report and its timeline;
- __main__.py: the run.

__main__.py puts gevent into the standard library before it imports anything else: the
faults' sleeps and store connections must yield to the load's greenlets. Only checks.py
and report.py may be imported without gevent (pytest does).
"""
