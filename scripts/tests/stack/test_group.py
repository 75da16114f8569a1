"""What `just dev` says when route 3's consumer group does not hold every partition."""

from scripts.stack.control import RECOVERY, stuck_message


def test_a_stuck_group_names_the_partitions_no_member_holds_and_who_holds_what():
    message = stuck_message("grades", [0, 1, 2], {"grade-consumer": [0], "grade-consumer-2": []})
    assert "no grade-consumer holds partitions 1, 2 of grades" in message
    assert "grade-consumer holds 0; grade-consumer-2 holds nothing" in message


def test_one_partition_is_named_in_the_singular():
    assert "holds partition 2 of grades" in stuck_message("grades", [0, 1, 2], {"a": [0, 1]})


def test_the_recovery_keeps_the_grades():
    text = RECOVERY.format(state=".dev")
    assert "just dev-down" in text and "`just dev`" in text
    assert "Do not run `just dev-clean`" in text and ".dev/kafka" in text
