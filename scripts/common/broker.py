"""Route 3's backlog in its broker: a consumer group's lag over the Kafka protocol, and
waiting until the group has drained its topic. "Drained" has one meaning here: the group's
lag is 0. Waiting until every accepted grade has its row is a store's question (see
`scripts.common.stores`). Also which partitions the group's members hold (GroupAssignment).
"""

import time

from scripts.common.metrics import fetch, samples


def group_lag(ends: dict, starts: dict, committed: dict) -> int:
    """The records of a topic a group has not committed: per partition its end offset less
    its committed offset, or less its beginning when the group never committed there."""
    return sum(ends[tp] - (starts[tp] if committed.get(tp) is None else committed[tp]) for tp in committed)


class QueueBacklog:
    """Route 3's backlog, read from the broker over the Kafka protocol through one client kept
    between reads (it reconnects by itself after the broker restarts), without joining the
    group: the records of `topic` that consumer group `group` has not committed yet (its lag,
    summed over the partitions; a partition it never committed counts from its beginning),
    and the records in the dead-letter topic."""

    def __init__(
        self,
        brokers: str,
        group: str = "grade-consumer",
        topic: str = "grades",
        dead_letters: str = "grades.dead-letter",
    ):
        self.brokers, self.group, self.topic, self.dead_letters = brokers, group, topic, dead_letters
        self.consumer = None

    def read(self) -> tuple[int, int]:
        """(lag, dead letters); raises kafka.errors.KafkaError when the broker does not answer
        within 3 s."""
        import logging

        from kafka import KafkaConsumer, TopicPartition

        # Its failures are raised to the caller; its own log would repeat them on stderr.
        logging.getLogger("kafka").setLevel(logging.CRITICAL)
        try:
            if self.consumer is None:
                self.consumer = KafkaConsumer(
                    bootstrap_servers=self.brokers,
                    group_id=self.group,
                    enable_auto_commit=False,
                    request_timeout_ms=3000,
                    bootstrap_timeout_ms=3000,
                )
            c = self.consumer
            grades = [TopicPartition(self.topic, p) for p in sorted(c.partitions_for_topic(self.topic) or ())]
            dead = [
                TopicPartition(self.dead_letters, p) for p in sorted(c.partitions_for_topic(self.dead_letters) or ())
            ]
            # The commits first: the ends read after them are at least as far on.
            committed = {tp: c.committed(tp) for tp in grades}
            ends, starts = c.end_offsets(grades + dead), c.beginning_offsets(grades)
            return group_lag(ends, starts, committed), sum(ends[tp] for tp in dead)
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        if self.consumer is not None:
            self.consumer.close()
            self.consumer = None


def read_lag(backlog: QueueBacklog) -> int | None:
    """The records `backlog`'s consumer group has not committed yet; None when the broker
    does not answer."""
    try:
        return backlog.read()[0]
    except Exception:
        return None


def wait_until_drained(backlog: QueueBacklog, seconds: float, pause: float = 0.1) -> float | None:
    """Seconds until `backlog`'s consumer group has committed every record of its topic (lag
    0); None if it has not within `seconds`."""
    start = time.time()
    while time.time() - start < seconds:
        if read_lag(backlog) == 0:
            return time.time() - start
        time.sleep(pause)
    return None


# The gauge each grade-consumer sets per partition: 1 while it holds it.
ASSIGNED = "notas_queue_assigned_partitions"


def held_partitions(expositions: dict[str, str | None], topic: str) -> dict[str, list[int]]:
    """Each member's partitions of `topic` (member: sorted partitions), from the members'
    /metrics expositions (None: it did not answer, so it holds none)."""
    return {
        member: sorted(
            int(s.labels["partition"]) for s in samples(text or "", ASSIGNED) if s.labels["topic"] == topic and s.value
        )
        for member, text in expositions.items()
    }


def unassigned(held: dict[str, list[int]], partitions: list[int]) -> list[int]:
    """The partitions that no member holds."""
    return sorted(set(partitions) - {p for ps in held.values() for p in ps})


class GroupAssignment:
    """Which partitions of `topic` the members of a consumer group hold: the topic's
    partitions from the broker (a metadata request), and each member's own from its
    /metrics (`members`: name: URL). The members' word, not the broker's: nisshi 0.8.1
    answers DescribeGroups with empty assignments, and tansu 0.6.0 cannot read a group
    back. A member holds a partition once it polled after the group assigned it."""

    def __init__(self, brokers: str, members: dict[str, str], topic: str = "grades"):
        self.brokers, self.members, self.topic = brokers, members, topic
        self.admin = None

    def partitions(self) -> list[int]:
        """The topic's partitions; raises kafka.errors.KafkaError when the broker does not
        answer within 3 s."""
        import logging

        from kafka import KafkaAdminClient

        # Its failures are raised to the caller; its own log would repeat them on stderr.
        logging.getLogger("kafka").setLevel(logging.CRITICAL)
        try:
            if self.admin is None:
                self.admin = KafkaAdminClient(
                    bootstrap_servers=self.brokers, request_timeout_ms=3000, bootstrap_timeout_ms=3000
                )
            topics = self.admin.describe_topics([self.topic])
            return sorted(p["partition_index"] for t in topics for p in t["partitions"])
        except Exception:
            self.close()
            raise

    def held(self) -> dict[str, list[int]]:
        """Each member's partitions; a member whose /metrics does not answer holds none."""
        expositions = {}
        for member, url in self.members.items():
            try:
                expositions[member] = fetch(url, timeout=2)
            except OSError:
                expositions[member] = None
        return held_partitions(expositions, self.topic)

    def close(self) -> None:
        if self.admin is not None:
            self.admin.close()
            self.admin = None
