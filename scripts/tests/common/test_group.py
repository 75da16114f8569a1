"""A consumer group's assignment as kafka-python's describe_groups gives it."""

from scripts.common.broker import held_partitions, unassigned


def member(member_id: str, assigned: list[tuple[str, list[int]]] | None) -> dict:
    assignment = None
    if assigned is not None:
        assignment = {
            "assigned_partitions": [{"topic": t, "partitions": ps} for t, ps in assigned],
            "user_data": None,
        }
    return {"member_id": member_id, "client_id": "c", "member_assignment": assignment}


def test_the_members_hold_what_their_assignments_name():
    group = {"members": [member("a", [("grades", [2, 0])]), member("b", [("grades", [1]), ("other", [0])])]}
    assert held_partitions(group, "grades") == {"a": [0, 2], "b": [1]}
    assert unassigned(group, "grades", [0, 1, 2]) == []


def test_a_dead_members_partitions_are_unassigned_once_it_is_gone():
    # tansu 0.6.0 after a kill -9: the survivor keeps its own; the dead one's wait.
    group = {"group_state": "Stable", "members": [member("survivor", [("grades", [0])])]}
    assert unassigned(group, "grades", [0, 1, 2]) == [1, 2]


def test_a_member_without_an_assignment_holds_nothing():
    group = {"members": [member("a", None), member("b", [])]}
    assert held_partitions(group, "grades") == {"a": [], "b": []}
    assert unassigned(group, "grades", [0, 1, 2]) == [0, 1, 2]


def test_an_empty_or_unknown_group_holds_nothing():
    assert unassigned({"group_state": "Dead", "members": []}, "grades", [0, 1]) == [0, 1]
    assert unassigned({}, "grades", [0]) == [0]
