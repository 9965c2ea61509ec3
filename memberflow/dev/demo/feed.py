"""The demo feed: the demo stream published to the broker at a steady rate (``memberflow demo``, ``make run``)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from config.settings import Settings, bootstrap_of
from memberflow.dev.demo.formats import Event, encode
from memberflow.dev.demo.schedule import demo_start
from memberflow.dev.demo.stream import generate

#: The feed's seed: ``make run``'s console names members of this stream's cast.
SEED = 7


@dataclass
class Progress:
    """What a feed has done so far (read by another thread)."""

    sent: int = 0
    done: bool = False
    error: str | None = None


def paced(events: Iterable[Event], rate: float, limit: int | None, stop: threading.Event) -> Iterator[Event]:
    """``events`` at about ``rate`` per second, in small bursts, until ``limit`` or ``stop``."""
    burst = max(1, int(rate / 20)) if rate > 0 else 1000
    began = time.monotonic()
    for n, event in enumerate(events):
        if stop.is_set() or (limit is not None and n >= limit):
            return
        if rate > 0 and n % burst == 0:
            ahead = began + n / rate - time.monotonic()
            if ahead > 0 and stop.wait(ahead):
                return
        yield event


def publish(producer: Any, events: Iterable[Event], topic_of: Callable[[str], str], progress: Progress) -> None:
    for topic, key, value in events:
        producer.send(topic_of(topic), key=key.encode(), value=encode(value))
        progress.sent += 1


def feed(
    members: int = 1000,
    rate: float = 200.0,
    limit: int | None = None,
    broker_url: str | None = None,
    seed: int = SEED,
    *,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    quiet: bool = False,
) -> int:
    """Publish the demo stream to the broker; returns an exit code.  Ctrl-C stops it."""
    settings = Settings.from_env()
    url = broker_url or settings.broker_url
    stop = stop or threading.Event()
    progress = progress or Progress()
    say = (lambda text: None) if quiet else (lambda text: print(text, file=sys.stderr, flush=True))
    try:
        producer = KafkaProducer(bootstrap_servers=bootstrap_of(url), linger_ms=10, client_id="memberflow-demo")
    except KafkaError as exc:
        progress.error, progress.done = f"cannot reach {url}: {exc}", True
        print(f"demo: {progress.error}", file=sys.stderr)
        return 1
    say(f"demo: publishing {members} members' events to {url} at {rate:g}/s (seed {seed})")
    code = 0
    try:
        publish(producer, paced(generate(members, seed, demo_start()), rate, limit, stop), settings.topic, progress)
    except KeyboardInterrupt:
        say("demo: interrupted")
    except KafkaError as exc:
        progress.error, code = str(exc), 1
        print(f"demo: {exc}", file=sys.stderr)
    finally:
        try:
            producer.flush(timeout=10)
        finally:
            producer.close(timeout=5)
        progress.done = True
    say(f"demo: {progress.sent} events published")
    return code
