"""Which jobs still have a message in the broker: the evidence the lost-message sweeper needs.

Redis: a message sits in the queue's hash ``{namespace}:{queue}.msgs`` from enqueue until its ack,
whether waiting, prefetched by a worker or running (the delay queue has its own ``.DQ.msgs``); a
Redis restarted without persistence, or a flush, loses them. Embedded (``StubBroker``): the
in-memory queue, the worker's prefetched work queue, and the messages being processed now (kept
by the ``Processing`` middleware).
"""

from __future__ import annotations

import threading
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name
from dramatiq.middleware import Middleware


def _job_id(encoded: bytes) -> int | None:
    try:
        args = dramatiq.Message.decode(encoded).args
        return int(args[0])
    except Exception:  # not one of ours: not evidence for any job
        return None


class Processing(Middleware):
    """The job ids whose messages a worker thread is processing now (embedded broker)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.job_ids: dict[int, int] = {}

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        job_id = _job_id(message.encode())
        if job_id is not None:
            with self.lock:
                self.job_ids[job_id] = self.job_ids.get(job_id, 0) + 1

    def after_process_message(
        self, broker: dramatiq.Broker, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        job_id = _job_id(message.encode())
        with self.lock:
            if job_id in self.job_ids:
                self.job_ids[job_id] -= 1
                if self.job_ids[job_id] <= 0:
                    del self.job_ids[job_id]

    after_skip_message = after_process_message


class MessageAudit:
    def __init__(self, broker: dramatiq.Broker, queue_name: str) -> None:
        self.broker = broker
        self.queue_name = queue_name
        self.processing = Processing()
        self.worker: dramatiq.Worker | None = None
        if isinstance(broker, StubBroker):
            broker.add_middleware(self.processing)

    def job_ids(self) -> set[int]:
        """Jobs with a message in the broker now. Raises when the broker cannot be read."""
        if isinstance(self.broker, StubBroker):
            return self._stub_job_ids()
        client = self.broker.client
        namespace = self.broker.namespace
        found: set[int] = set()
        for queue in (self.queue_name, dq_name(self.queue_name)):
            for encoded in client.hvals(f"{namespace}:{queue}.msgs"):
                job_id = _job_id(encoded)
                if job_id is not None:
                    found.add(job_id)
        return found

    def _stub_job_ids(self) -> set[int]:
        encoded: list[bytes] = []
        for name in (self.queue_name, dq_name(self.queue_name)):
            queue = self.broker.queues.get(name)
            if queue is not None:
                with queue.mutex:
                    encoded.extend(queue.queue)
        if self.worker is not None:
            with self.worker.work_queue.mutex:
                encoded.extend(item.message.encode() for item in self.worker.work_queue.queue)
        found = {job_id for job_id in map(_job_id, encoded) if job_id is not None}
        with self.processing.lock:
            found.update(self.processing.job_ids)
        return found
