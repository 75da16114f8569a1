from scripts.bench.figures import every_ack_a_row, ir_per_record, rate_of, route_instructions, rows_check, spread


def run(ok: int, rows: int, in_flight: int = 3, seconds: int = 10, queue: dict | None = None) -> dict:
    return {"top": {"ok": ok, "seconds": seconds, "in_flight": in_flight}, "rows": rows, "queue": queue}


def test_the_rate_is_the_acknowledgements_a_second():
    assert rate_of(run(12_345, 12_345)) == 1234.5


def test_rows_cut_in_flight_at_the_end_still_count_as_each_acknowledgement_a_row():
    assert every_ack_a_row(run(1000, 1003))
    assert rows_check(run(1000, 1003)) == "1,003 = 1,000 201s + 3 cut in flight at the end"
    assert rows_check(run(1000, 1000, queue={"drained": 0})) == "1,000 = 1,000 202s + 0 cut in flight at the end"


def test_a_row_missing_or_one_too_many_is_shown_in_bold():
    assert not every_ack_a_row(run(1000, 999))
    assert rows_check(run(1000, 999)) == "**999 for 1,000 201s and 3 cut in flight**"
    assert rows_check(run(1000, 1004)) == "**1,004 for 1,000 201s and 3 cut in flight**"


PASSES = [
    {"ir": {"queue-api": 60_000_000, "grade-consumer": 40_000_000}, "rows": 2000},
    {"ir": {"queue-api": 66_000_000, "grade-consumer": 44_000_000}, "rows": 2000},
    {"ir": {"queue-api": 63_000_000, "grade-consumer": 41_000_000}, "rows": 2000},
]


def test_instructions_per_record_are_of_one_service_or_of_the_route():
    assert ir_per_record(PASSES, "queue-api") == [30_000, 33_000, 31_500]
    assert ir_per_record(PASSES) == [50_000, 55_000, 52_000]


def test_the_spread_is_the_range_over_the_median():
    assert spread([30_000, 33_000, 31_500]) == 3000 / 31_500
    assert spread([7.0]) == 0.0


def test_each_route_gets_the_median_of_its_passes_summed_over_its_services():
    assert route_instructions({"routes": {"route 3 (queue)": PASSES}}) == {"route 3 (queue)": 52_000}
    assert route_instructions(None) == {}
