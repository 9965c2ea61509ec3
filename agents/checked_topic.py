"""What the group agents that check a definitions topic (business lines, tenant rules versions,
membership plan steps) do with each record's verdict: count it applied, or send its dead letter,
wait for the broker, and count it.  At-least-once: a redelivery repeats the same ``dead_letter_id``."""

from __future__ import annotations

import faust

from agents.metrics import Metrics
from config.settings import Settings
from config.topics import Topic
from engine.outcome import Emitted
from models.json_twins import output_json


async def report(app: faust.App, settings: Settings, metrics: Metrics, topic: Topic, letter: Emitted | None) -> None:
    """``letter`` None: the record applies; otherwise its dead letter is published."""
    consumed = metrics.events_consumed
    if letter is None:
        consumed.labels(topic, "applied").inc()
        return
    fut = await app.producer.send(settings.topic(letter.topic), letter.key.encode(),
                                  output_json(letter.value), None, None, None)
    await fut
    metrics.dead_letters.labels(letter.value.reason.value).inc()
    consumed.labels(topic, "dead_lettered").inc()
