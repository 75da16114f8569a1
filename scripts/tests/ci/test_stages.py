from scripts.ci.stages import fuzz_summary, table


def test_table_marks_the_failed_stage_and_ends_with_the_total():
    printed = table([("test-python", 12.9, True), ("test-rust", 300.2, False)], 313.4)
    assert printed.splitlines() == [
        "stage timings (s):",
        "  test-python         12",
        "  test-rust          300  FAILED",
        "  total              313",
    ]


def test_fuzz_summary_keeps_each_targets_closing_line():
    log = "INFO: seed corpus\n#2 INITED\nDone 84512 runs in 21 second(s)\nnoise\nDone 90001 runs in 21 second(s)\n"
    assert fuzz_summary(log) == ["Done 84512 runs in 21 second(s)", "Done 90001 runs in 21 second(s)"]


def test_fuzz_summary_is_empty_when_no_target_finished():
    assert fuzz_summary("==123== ERROR: libFuzzer: deadly signal\n") == []
