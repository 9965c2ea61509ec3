"""The recorded history: the input topics read from the broker by time, as the simulation's JSONL lines.

Every partition of the member input topics is read from where the broker's
time index puts ``since`` (``offsets_for_times``) to the partition's end as
the reading starts, keeping the records whose timestamp is in [since, until):
a broker may index by append time, or by batch (the embedded Tansu broker
does both), so the index only says where to start.  The end is read through
the whole batch it falls in (Tansu reports the first offset of the last batch
+ 1; see ``agents.kafka.consumer``).  Business-line
definitions are read from the start of their topic up to ``until``, since
those published before ``since`` are still in force.  Each partition goes to a
spool file first, then the partitions are merged by timestamp: memory stays
flat however long the range.
"""

from __future__ import annotations

import heapq
import json
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from config.settings import Settings
from config.topics import MEMBER_INPUTS, Topic
from memberflow.tools.simulate.shards import DEFINITIONS

TOPICS: tuple[Topic, ...] = (*MEMBER_INPUTS, *sorted(DEFINITIONS))
POLL_MS = 500


def _value(raw: bytes | None) -> Any:
    """The payload as a JSON object when it is one, else its text (dead-lettered as it was)."""
    text = (raw or b"").decode("utf-8", errors="replace")
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, dict) else text


def _ranges(consumer: KafkaConsumer, settings: Settings, since: int) -> dict[TopicPartition, tuple[int, int]]:
    """[first, end) offsets to read per partition."""
    logical = {settings.topic(t): t for t in TOPICS}
    partitions = [TopicPartition(name, p) for name in logical
                  for p in sorted(consumer.partitions_for_topic(name) or ())]
    firsts = consumer.offsets_for_times({tp: since for tp in partitions})
    ends = consumer.end_offsets(partitions)
    begins = consumer.beginning_offsets(partitions)
    out = {}
    for tp in partitions:
        if logical[tp.topic] in DEFINITIONS:
            first = begins[tp]
        elif firsts.get(tp) is None:
            continue
        else:
            first = firsts[tp].offset
        if first < ends[tp]:
            out[tp] = (first, ends[tp])
    return out


def _spool(consumer: KafkaConsumer, tp: TopicPartition, span: tuple[int, int], topic: str,
           times: tuple[int, int], path: Path) -> int:
    """The partition's records of [first, end) whose timestamp is in ``times`` (from ``times[0]``: every
    one before ``times[1]`` for business-line definitions), as lines in ``path``."""
    (first, end), (since, until) = span, times
    consumer.assign([tp])
    consumer.seek(tp, first)
    count = 0
    with path.open("w", encoding="utf-8") as fh:
        while consumer.position(tp) < end:
            for message in consumer.poll(POLL_MS).get(tp, []):  # whole batches, those past ``end`` too
                if not since <= message.timestamp < until:
                    continue
                key = message.key.decode("utf-8", errors="replace") if message.key is not None else None
                fh.write(json.dumps({"topic": topic, "key": key, "value": _value(message.value),
                                     "partition": tp.partition, "offset": message.offset,
                                     "timestamp": message.timestamp}) + "\n")
                count += 1
    return count


def _lines(path: Path) -> Iterator[tuple[int, str, int, int, str]]:
    with path.open(encoding="utf-8") as fh:
        for text in fh:
            line = json.loads(text)
            yield line["timestamp"], line["topic"], line["partition"], line["offset"], text


def record_history(settings: Settings, since: datetime, until: datetime, out: Path) -> int:
    """Write the input records of [since, until) to ``out``, merged by timestamp; returns how many."""
    since_ms, until_ms = int(since.timestamp() * 1000), int(until.timestamp() * 1000)
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap, group_id=None, enable_auto_commit=False,
                             client_id="memberflow-simulate")
    logical = {settings.topic(t): str(t) for t in TOPICS}
    with tempfile.TemporaryDirectory(prefix="history-") as spool:
        files = []
        try:
            for tp, span in sorted(_ranges(consumer, settings, since_ms).items()):
                path = Path(spool) / f"{tp.topic}-{tp.partition}.jsonl"
                topic = logical[tp.topic]
                times = (-2**63 if topic in DEFINITIONS else since_ms, until_ms)
                _spool(consumer, tp, span, topic, times, path)
                files.append(path)
        finally:
            consumer.close()
        count = 0
        with out.open("w", encoding="utf-8") as fh:
            for *_, text in heapq.merge(*(_lines(path) for path in files)):
                fh.write(text)
                count += 1
    return count
