"""Route 3's backlog in its broker: a consumer group's lag over the Kafka protocol, and
waiting until the group has drained its topic. "Drained" has one meaning here: the group's
lag is 0. Waiting until every accepted grade has its row is a store's question (see
`scripts.common.stores`)."""

import time


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


def held_partitions(description: dict, topic: str) -> dict[str, list[int]]:
    """Each member's partitions of `topic` (member id: sorted partitions), from kafka-python's
    `describe_groups` description of one group. A member without an assignment holds none."""
    held = {}
    for member in description.get("members") or ():
        assignment = member.get("member_assignment")
        partitions = assignment.get("assigned_partitions", ()) if isinstance(assignment, dict) else ()
        held[member["member_id"]] = sorted(p for tp in partitions if tp["topic"] == topic for p in tp["partitions"])
    return held


def unassigned(description: dict, topic: str, partitions: list[int]) -> list[int]:
    """The partitions of `topic` that no member of the described group holds."""
    held = {p for ps in held_partitions(description, topic).values() for p in ps}
    return sorted(set(partitions) - held)


class GroupAssignment:
    """Which partitions of `topic` the members of consumer group `group` hold, as the broker's
    group coordinator says (DescribeGroups), read through one admin client kept between reads.
    A consumer's own readiness says only that it reached the broker; this says the group
    works."""

    def __init__(self, brokers: str, group: str = "grade-consumer", topic: str = "grades"):
        self.brokers, self.group, self.topic = brokers, group, topic
        self.admin = None

    def _client(self):
        import logging

        from kafka import KafkaAdminClient

        # Its failures are raised to the caller; its own log would repeat them on stderr.
        logging.getLogger("kafka").setLevel(logging.CRITICAL)
        if self.admin is None:
            self.admin = KafkaAdminClient(
                bootstrap_servers=self.brokers, request_timeout_ms=3000, bootstrap_timeout_ms=3000
            )
        return self.admin

    def partitions(self) -> list[int]:
        """The topic's partitions; raises kafka.errors.KafkaError when the broker does not
        answer within 3 s."""
        try:
            topics = self._client().describe_topics([self.topic])
            return sorted(p["partition_index"] for t in topics for p in t["partitions"])
        except Exception:
            self.close()
            raise

    def describe(self) -> dict:
        """The group's description (`held_partitions` reads it); raises
        kafka.errors.KafkaError when the broker does not answer within 3 s or cannot
        describe the group."""
        try:
            return self._client().describe_groups([self.group])[self.group]
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        if self.admin is not None:
            self.admin.close()
            self.admin = None
