from scripts.common.broker import group_lag


def test_the_lag_is_each_partitions_end_less_its_commit():
    ends = {0: 100, 1: 50}
    assert group_lag(ends, {0: 0, 1: 0}, {0: 90, 1: 50}) == 10


def test_a_partition_never_committed_counts_from_its_beginning():
    # Retention dropped the first 20 records of partition 1; the group never committed there.
    assert group_lag({0: 100, 1: 50}, {0: 0, 1: 20}, {0: 100, 1: None}) == 30
