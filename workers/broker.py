"""The Dramatiq broker and the one actor that runs jobs.

Embedded default (``LABELWISE_BROKER_URL`` empty): a ``StubBroker`` whose queue lives in the
server's memory, consumed by worker threads in the same process. ``redis://...``: a
``RedisBroker``; separate ``labelwise worker`` processes consume it. The message carries only
the job id; everything else is in the database, so a lost message loses no state.
"""

from __future__ import annotations

from collections.abc import Callable

import dramatiq
from dramatiq.brokers.stub import StubBroker

from backend.settings import Settings

ACTOR_NAME = "labelwise_run_job"


def make_broker(settings: Settings) -> dramatiq.Broker:
    """A fresh broker for ``settings``. Redis connections fail fast so a submit can say so."""
    url = settings.broker_url
    if not url:
        return StubBroker()
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("LABELWISE_BROKER_URL must be empty (embedded) or a redis:// URL")
    import redis
    from dramatiq.brokers.redis import RedisBroker
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client = redis.Redis.from_url(
        url,
        socket_connect_timeout=3,
        socket_timeout=30,
        retry=Retry(NoBackoff(), 1),
        health_check_interval=30,
    )
    return RedisBroker(client=client, namespace=settings.broker_namespace)


def declare_actor(
    broker: dramatiq.Broker, settings: Settings, run: Callable[[int], object]
) -> dramatiq.Actor:
    """Bind the job actor to ``broker``. Dramatiq's own retries are off: a failed job is retried
    on purpose, by a person; its time limit is the job timeout."""

    def labelwise_run_job(job_id: int) -> None:
        run(job_id)

    return dramatiq.actor(
        labelwise_run_job,
        actor_name=ACTOR_NAME,
        queue_name=settings.job_queue,
        broker=broker,
        max_retries=0,
        time_limit=int(settings.job_timeout_seconds * 1000),
    )
