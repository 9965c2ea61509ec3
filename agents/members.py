"""The members agent: every member topic, one writer per member, in batches.

The agent reads whole fetches: the consumer (``agents.kafka.consumer``) hands
each fetch of the member topics to the agent's channel as one batch, so no
event pays Faust's per-event stream path.  Each batch goes to the
``MemberProcessor`` (``agents.member_processor``), is tried again until it is
stored, and only then acked, so Faust commits past it.  A batch fetched
before a rebalance is skipped and unread: it is fetched again.
"""

from __future__ import annotations

import asyncio
import logging

import faust

from agents.kafka.consumer import BatchChannel, FetchedBatch, ack, track, untrack
from agents.member_processor import MemberProcessor

log = logging.getLogger(__name__)

#: first pause before a failed batch is tried again; doubles up to RETRY_MAX_SECONDS
RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 10.0


def register(app: faust.App, topics: faust.TopicT, processor: MemberProcessor) -> faust.types.AgentT:
    """The members agent over ``topics`` (every member-keyed topic, subscribed as one)."""
    batches = BatchChannel(app, maxsize=1)  # one batch queued while one is processed
    app.topics.add(topics)  # subscribed here; fetches reach the agent through ``batches``
    for name in topics.topics:
        app.batch_channels[name] = batches

    @app.agent(batches, name="members")
    async def members(stream: faust.StreamT) -> None:
        async for batch in stream:
            if not isinstance(batch, FetchedBatch):
                continue
            try:
                if not stale(app, batch):
                    track(app, batch.messages)
                    if await until_done(app, processor, batch):
                        ack(app, batch.messages)
                        continue
                await skip(app, batch)
            finally:
                batches.idle.set()  # the consumer may fetch the next batch now

    return members


async def until_done(app: faust.App, processor: MemberProcessor, batch: FetchedBatch) -> bool:
    """Process the batch, trying again after a failure (the broker away, say) until it
    succeeds -- or until a rebalance makes it stale: False, it is then fetched again.
    Trying again is safe: outputs carry the same ids, and applied events are deduped."""
    pause = RETRY_FIRST_SECONDS
    while True:
        try:
            await processor.process(batch.messages, batch.generation)
            return True
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("batch of %d events failed; trying again in %.1f s", len(batch.messages), pause)
            processor.metrics.batch_retries.inc()
        await asyncio.sleep(pause)
        pause = min(pause * 2, RETRY_MAX_SECONDS)
        if stale(app, batch):
            return False


async def skip(app: faust.App, batch: FetchedBatch) -> None:
    """Leave a stale batch unprocessed -- and unread, so it is fetched again (Faust
    would otherwise commit over it once later offsets are acked).  A batch that went
    stale while being tried again was tracked: the rebalance must not wait for it."""
    untrack(app, batch.messages)
    await app.consumer.unread(batch.messages)


def stale(app: faust.App, batch: FetchedBatch) -> bool:
    """Fetched before a rebalance began or under an older generation: leave it to be fetched again."""
    return not app.flow_control.is_active() or batch.generation != app.consumer_generation_id
