"""The fault suite's load: grades arriving at a fixed rate whatever the answers (an open
model), to the split and to route 3. Each grade is sent in its own greenlet and retried with
the same Idempotency-Key after 502/503/504 or a lost answer, as a careful client does."""

import json
import random
import time
from dataclasses import dataclass, field

import gevent
from gevent.event import Event
from geventhttpclient import HTTPClient

from scripts.chaos.checks import Attempt, Grade
from scripts.chaos.settings import GIVE_UP_AFTER, QUEUE_RATE, RATE, REQUEST_TIMEOUT_MS, RETRYABLE
from scripts.common.broker import QueueBacklog, read_lag
from scripts.common.grades import random_grade


@dataclass
class Load:
    """The grades sent to `url`, each retried until it is acknowledged (201; 202 on route 3),
    and every attempt. `backlog` samples route 3's lag meanwhile (None while the broker does
    not answer)."""

    url: str
    run: str
    grades: list[Grade] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    backlog: list[tuple[float, int | None]] = field(default_factory=list)

    def __post_init__(self):
        self.client = HTTPClient.from_url(
            self.url,
            concurrency=4096,
            connection_timeout=REQUEST_TIMEOUT_MS / 1000,
            network_timeout=REQUEST_TIMEOUT_MS / 1000 + 5,
        )

    def send_until(self, stop: Event, queued: bool = False) -> list[gevent.Greenlet]:
        sent, start, rate = [], time.time(), QUEUE_RATE if queued else RATE
        while not stop.is_set():
            n = len(self.grades)
            self.grades.append(Grade({**random_grade(), "nombre": f"chaos {n}"}, f"{self.run}-{n}", queued=queued))
            sent.append(gevent.spawn(self.send, n))
            gevent.sleep(max(0.0, start + len(sent) / rate - time.time()))
        return sent

    def send(self, n: int) -> None:
        grade, first = self.grades[n], time.time()
        path, acknowledged = ("/queue/notas", 202) if grade.queued else ("/notas", 201)
        body = json.dumps(grade.body)
        headers = {"content-type": "application/json", "idempotency-key": grade.key}
        for attempt in range(1000):
            start, status, route, answer = time.time(), 0, "", None
            try:
                response = self.client.post(path, body=body, headers=headers)
                status, route = response.status_code, response.get("x-notas-route") or ""
                answer = response.read()
            except Exception:
                pass
            self.attempts.append(Attempt(n, start, time.time(), status, route, grade.queued))
            if status == acknowledged:
                grade.acked_at, grade.route = time.time(), route
                if not grade.queued:
                    grade.id = json.loads(answer)["id"]
                return
            if status not in RETRYABLE:
                grade.refused = f"answered {status}: {answer[:200]!r}"
                return
            if time.time() - first > GIVE_UP_AFTER:
                grade.refused = f"still {status or 'no answer'} after {GIVE_UP_AFTER:.0f} s"
                return
            gevent.sleep(min(1.0, 0.05 * 2**attempt) * random.uniform(0.5, 1.5))

    def watch_backlog(self, brokers: str) -> None:
        """Samples route 3's lag twice a second, for as long as the suite runs."""
        backlog = QueueBacklog(brokers)
        while True:
            self.backlog.append((time.time(), read_lag(backlog)))
            gevent.sleep(0.5)
