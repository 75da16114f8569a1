"""The partitions each member of route 3's consumer group holds, from the members' /metrics."""

from scripts.common.broker import held_partitions, unassigned


def exposition(*held: tuple[str, int, int]) -> str:
    lines = ["# TYPE notas_queue_assigned_partitions gauge"]
    for topic, partition, value in held:
        lines.append(
            f'notas_queue_assigned_partitions{{group="grade-consumer",topic="{topic}",partition="{partition}"}} {value}'
        )
    return "\n".join(lines) + "\n"


def test_each_member_holds_the_partitions_its_gauge_marks_1():
    texts = {
        "a": exposition(("grades", 2, 1), ("grades", 0, 1), ("grades", 1, 0)),
        "b": exposition(("grades", 1, 1), ("grades.dead-letter", 0, 1)),
    }
    held = held_partitions(texts, "grades")
    assert held == {"a": [0, 2], "b": [1]}
    assert unassigned(held, [0, 1, 2]) == []


def test_a_dead_members_partitions_are_unassigned_until_another_member_holds_them():
    # tansu 0.6.0 after a kill -9: the survivor keeps its own; the dead one's wait.
    held = held_partitions({"survivor": exposition(("grades", 0, 1)), "killed": None}, "grades")
    assert held == {"survivor": [0], "killed": []}
    assert unassigned(held, [0, 1, 2]) == [1, 2]


def test_a_member_without_partitions_holds_nothing():
    held = held_partitions({"a": exposition(), "b": ""}, "grades")
    assert held == {"a": [], "b": []}
    assert unassigned(held, [0, 1]) == [0, 1]
