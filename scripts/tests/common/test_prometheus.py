from scripts.common.prometheus import fresh


def test_only_series_the_running_processes_export_are_counted():
    # A restarted stack's new process has not exported a series yet: its predecessor's last
    # sample must not count (it would be subtracted from the run's gain).
    assert fresh('m{path="/notas"}', 1700000000.25) == (
        '(m{path="/notas"} and timestamp(m{path="/notas"}) > 1700000000.250)'
    )
