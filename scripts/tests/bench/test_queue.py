from scripts.bench.queue import lag_figures
from scripts.bench.report import kept_up


def run(ok: int, errors: int = 0, seconds: int = 10) -> dict:
    return {"ok": ok, "errors": errors, "seconds": seconds}


# A run from t=100 to t=110 at 1,000/s: lag samples (time, lag), one unanswered.
SAMPLES = [(100.0, 50), (102.0, 900), (104.0, None), (106.0, 400), (109.0, 300), (111.0, 5000)]


def test_the_lag_is_read_over_the_run_and_its_second_half():
    m = lag_figures(run(10_000), SAMPLES, 1000, 100.0, 110.0)
    assert (m["lag_peak"], m["lag_late"]) == (900, 400)  # the sample after the end is left out
    assert m["lag_mean"] == (50 + 900 + 400 + 300) / 4
    assert m["queued_s"] == m["lag_mean"] / 1000  # Little's law
    assert m["kept_up"] and m["rate"] == 1000
    assert kept_up(m) == "yes"


def test_a_lag_over_a_second_of_arrivals_late_in_the_run_is_not_kept_up_with():
    m = lag_figures(run(10_000), [(107.0, 1001)], 1000, 100.0, 110.0)
    assert not m["kept_up"]
    assert kept_up(m) == "no: the lag passed a second of arrivals"


def test_errors_or_a_short_acceptance_are_not_kept_up_with():
    assert kept_up(lag_figures(run(10_000, errors=2), SAMPLES, 1000, 100.0, 110.0)) == "no: 2 errors"
    assert kept_up(lag_figures(run(9_800), SAMPLES, 1000, 100.0, 110.0)) == "no: 202s at 98% of the rate"


def test_no_lag_read_in_the_second_half_is_not_kept_up_with():
    assert not lag_figures(run(10_000), [(101.0, 0)], 1000, 100.0, 110.0)["kept_up"]
