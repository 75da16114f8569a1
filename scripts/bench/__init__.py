"""`just bench` (`python -m scripts.bench`): the three routes measured against this machine's
own limits, in one run, from release builds on a fresh stack in .dev/bench.

The run's phases, one module each, in the order `__main__.py` runs them:

- ceilings.py: nginx's static 204 and its CPU, MariaDB's durable batched INSERTs, Redis;
- routes.py: each route's highest sustained rate and CPU per record, its latency at fixed
  arrival rates, and the split at half its highest rate (the latency target's run);
- queue.py: route 3's fixed-rate runs, its drain and its highest sustained stored rate;
- naive.py: the baseline, a redis-api writing one grade per transaction;
- callgrind.py: instructions per record of each service on a fixed mix;
- seeded.py: 10,000,000 grades seeded, then the dashboard's reports timed.

Then the results are written: report.py writes BENCHMARKS.md, with targets.py's ratio targets
and their reasoning, and chart.py draws benchmarks.png. settings.py holds the run's fixed
settings, load.py the load generator (oha), figures.py the arithmetic the pages share.
The targets (issue #22) are ratios taken in the same run, so they hold on a shared machine.
Traffic goes only to 127.0.0.1.
"""
