"""Keep models fresh with Dramatiq + Redis: the web process queues the follow-ups, a separate
worker process runs every step."""

from __future__ import annotations

import os

from tests.helpers.jobs import FAST, follow_up, switch, train, wait_for
from tests.helpers.redis import pytestmark, redis_client, redis_settings, redis_worker  # noqa: F401

__all__ = ["pytestmark"]


async def test_the_chain_runs_on_a_redis_worker(redis_client, redis_worker, image_dataset):  # noqa: F811
    await switch(redis_client, image_dataset.id, True)
    trained = await wait_for(
        redis_client, (await train(redis_client, image_dataset.id, "test-sleeper", FAST))["id"], timeout=120
    )
    assert trained["state"] == "succeeded", trained["error"]
    infer = await follow_up(redis_client, trained["id"], image_dataset.id, timeout=60)
    infer = await wait_for(redis_client, infer["id"], timeout=120)
    assert infer["state"] == "succeeded", infer["error"]
    assert f":{os.getpid()}:" not in infer["worker"]  # run by the worker process, not the server
    index = await follow_up(redis_client, infer["id"], image_dataset.id, timeout=60)
    assert index["kind"] == "build-index"
    assert (await wait_for(redis_client, index["id"], timeout=120))["state"] == "succeeded"
