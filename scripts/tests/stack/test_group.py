"""What `just dev` says when route 3's consumer group does not hold every partition."""

from scripts.stack.control import RECOVERY, stuck_message


def member(member_id: str, partitions: list[int]) -> dict:
    assigned = [{"topic": "grades", "partitions": partitions}]
    return {"member_id": member_id, "member_assignment": {"assigned_partitions": assigned, "user_data": None}}


def test_a_stuck_group_names_the_partitions_no_member_holds_and_who_holds_what():
    group = {"group_state": "Stable", "members": [member("consumer-1", [0]), member("consumer-2", [])]}
    message = stuck_message("grade-consumer", "grades", [0, 1, 2], group)
    assert "no member of route 3's consumer group grade-consumer holds partitions 1, 2 of grades" in message
    assert "group state Stable" in message
    assert "consumer-1 holds 0; consumer-2 holds nothing" in message


def test_a_group_without_members_says_so():
    message = stuck_message("grade-consumer", "grades", [0, 1, 2], {"group_state": "Empty", "members": []})
    assert "partitions 0, 1, 2" in message and "no member" in message


def test_the_recovery_keeps_the_grades():
    text = RECOVERY.format(state=".dev")
    assert "just dev-down" in text and "`just dev`" in text
    assert "Do not run `just dev-clean`" in text and ".dev/kafka" in text
