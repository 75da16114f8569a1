"""A package so that, from the repository root, `python -m locust.report` runs and
scripts.bench imports locust.grades. There it shadows the Locust library, which only the
`locust` command uses: that imports its library before adding this folder to sys.path to
load locustfile.py, whose plain `import grades` finds grades.py there."""
