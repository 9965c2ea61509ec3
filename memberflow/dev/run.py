"""``memberflow run`` (``make run``): the whole system on one machine, with a live console.

Embedded broker (unless ``BROKER_URL``/``MEMBERFLOW_BROKER_URL`` is set), one
worker subprocess, the demo feed in a thread, and a console that tails the
output topics.  Ctrl-C or SIGTERM stops everything it started.  With
``MEMBERFLOW_RUN_SECONDS`` set it stops by itself after that long and exits 0
if it saw at least one output.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.kafka.admin import create_topics
from config.settings import Settings, bootstrap_of
from memberflow.dev import demo
from memberflow.dev.broker import HOST, EmbeddedBroker, free_port, fresh_data_dir, stop_process

RUN_DIR = Path("run")
WEB_PORT = 6066
READY_TIMEOUT = 120.0
STATUS_EVERY = 5.0
IDLE_STATUS_EVERY = 60.0
LEDGER_PER_SECOND = 5
WORKER_GRACE = 10.0
LOG_TAIL_LINES = 40
OUTPUTS = (
    "points-ledger",
    "tier-changes",
    "badge-changes",
    "redemption-results",
    "benefit-grants",
    "notifications",
    "dead-letters",
)
SHORT = {
    "points-ledger": "ledger",
    "tier-changes": "tier",
    "badge-changes": "badge",
    "redemption-results": "redeem",
    "benefit-grants": "grant",
    "notifications": "notify",
    "dead-letters": "dead",
}


class ChildDied(RuntimeError):
    """The worker or the embedded broker exited on its own."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


@dataclass(frozen=True)
class Child:
    name: str
    proc: subprocess.Popen
    log: Path

    def check(self) -> None:
        if self.proc.poll() is not None:
            raise ChildDied(self.name, f"the {self.name} exited with code {self.proc.returncode}")


def say(text: str = "") -> None:
    print(text, flush=True)


# -- setup ---------------------------------------------------------------------


def external_broker() -> str | None:
    return os.environ.get("MEMBERFLOW_BROKER_URL") or os.environ.get("BROKER_URL") or None


def port_is_free(port: int, host: str = HOST) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def web_port() -> int:
    wanted = os.environ.get("MEMBERFLOW_WEB_PORT")
    if wanted:
        return int(wanted)
    return WEB_PORT if port_is_free(WEB_PORT) else free_port()


def worker_env(broker_url: str, embedded: bool, port: int) -> dict[str, str]:
    env = {**os.environ, "MEMBERFLOW_BROKER_URL": broker_url, "MEMBERFLOW_WEB_PORT": str(port)}
    env.pop("BROKER_URL", None)
    if embedded:
        env["MEMBERFLOW_DATA_DIR"] = str(fresh_data_dir(RUN_DIR / "data"))
    else:
        env.setdefault("MEMBERFLOW_DATA_DIR", str(RUN_DIR / "data"))
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


@contextmanager
def sigint_blocked() -> Iterator[None]:
    """Children started inside inherit a blocked SIGINT: Ctrl-C in the terminal
    (sent to the whole process group) leaves them to us, so the worker can
    still reach the broker while it shuts down."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def start_broker(stack: ExitStack, port: int | None) -> tuple[str, Child | None]:
    """(broker URL, the embedded broker or None) -- it is stopped when ``stack`` closes."""
    url = external_broker()
    if url:
        return url, None
    log = RUN_DIR / "broker.log"
    broker = EmbeddedBroker(port=port, log_path=log)
    with sigint_blocked():
        broker.start()
        stack.callback(broker.stop)
    assert broker.proc is not None
    return broker.url, Child("broker", broker.proc, log)


def start_worker(stack: ExitStack, env: dict[str, str]) -> Child:
    path = RUN_DIR / "worker.log"
    log = open(path, "wb")
    stack.callback(log.close)
    proc = subprocess.Popen(
        [sys.executable, "-m", "memberflow.cli", "worker"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C reaches us only; we stop the worker ourselves
    )
    stack.callback(stop_process, proc, WORKER_GRACE)
    return Child("worker", proc, path)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def wait_ready(children: list[Child], metrics_url: str, timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in children:
            child.check()
        if answers(metrics_url):
            return
        time.sleep(0.25)
    raise ChildDied("worker", f"the worker did not answer {metrics_url} within {timeout:.0f}s")


def start_feed(stack: ExitStack, broker_url: str, members: int, rate: float) -> demo.Progress:
    stop, progress = threading.Event(), demo.Progress()

    def body() -> None:
        demo.feed(members=members, rate=rate, broker_url=broker_url, stop=stop, progress=progress, quiet=True)

    thread = threading.Thread(target=body, name="demo-feed", daemon=True)
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join(15)

    stack.callback(halt)
    return progress


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


# -- console lines ---------------------------------------------------------------


def _ledger(v: dict[str, Any]) -> str:
    return f"{v.get('member_id', '?'):<6} {v.get('delta', 0):+d} {v.get('rule', '')}  → {v.get('balance', '?')} pts"


def _tier(v: dict[str, Any]) -> str:
    why = "invitation" if v.get("reason") == "invitation" else f"{v.get('metric', '')} {v.get('metric_value', '')}"
    return f"{v.get('member_id', '?'):<6} {v.get('from_tier', '?')} → {v.get('to_tier', '?')} ({why})"


def _badge(v: dict[str, Any]) -> str:
    return (f"{v.get('member_id', '?'):<6} {v.get('line_id', '?')} L{v.get('from_level', '?')} → "
            f"L{v.get('to_level', '?')} (v{v.get('rule_version', '?')})")


def _granted(kind: str, granted: dict[str, Any]) -> str:
    """A few words on what an accepted request got."""
    if kind == "coupon":
        return f"{granted.get('quantity', 1)}×{granted.get('denomination', '?')} yuan"
    if kind == "merchandise":
        return f"{granted.get('quantity', 1)}×{granted.get('item_id', '?')}"
    if kind == "gift":
        return f"→ {granted.get('to_member_id', '?')}"
    if kind == "gift_respond":
        verb = "from" if granted.get("accept") else "declined from"
        return f"{granted.get('points', '?')} pts {verb} {granted.get('from_member_id', '?')}"
    if kind == "points_cash":
        return f"order {granted.get('order_id', '?')} cash {granted.get('cash_amount', '?')}"
    return ""


def _redeem(v: dict[str, Any]) -> str:
    kind = v.get("kind", "?")
    parts = [f"{v.get('member_id', '?'):<6} {kind} {v.get('status', '?')}"]
    if v.get("reason"):
        parts.append(str(v["reason"]))
    if v.get("points_spent"):
        parts.append(f"-{v['points_spent']} pts")
    if v.get("points_returned"):
        parts.append(f"+{v['points_returned']} pts")
    granted = v.get("granted")
    if isinstance(granted, dict) and (what := _granted(kind, granted)):
        parts.append(f"({what})")
    return " ".join(parts)


def _grant(v: dict[str, Any]) -> str:
    parts = [v.get("benefit", "?"), v.get("tier") or "", str(v.get("value") or "")]
    return f"{v.get('member_id', '?'):<6} " + " ".join(p for p in parts if p)


def _notify(v: dict[str, Any]) -> str:
    return f"{v.get('member_id', '?'):<6} {v.get('kind', '?')}: {v.get('message', '')}"


def _dead(v: dict[str, Any]) -> str:
    return f"{v.get('source_topic', '?'):<6} {v.get('reason', '?')}: {str(v.get('detail', ''))[:100]}"


FORMATS: dict[str, Callable[[dict[str, Any]], str]] = {
    "points-ledger": _ledger,
    "tier-changes": _tier,
    "badge-changes": _badge,
    "redemption-results": _redeem,
    "benefit-grants": _grant,
    "notifications": _notify,
    "dead-letters": _dead,
}


def describe(logical: str, raw: bytes | None) -> str:
    label = SHORT[logical].upper()
    try:
        value = json.loads(raw or b"{}")
        body = FORMATS[logical](value if isinstance(value, dict) else {})
    except (ValueError, TypeError) as exc:
        body = f"(unreadable: {exc})"
    return f"{label:<8} {body}"


@dataclass
class Console:
    """Tails the output topics and prints what happens, ledger lines sampled."""

    bootstrap: str
    physical: dict[str, str]  # physical topic -> logical
    progress: demo.Progress
    totals: Counter = field(default_factory=Counter)
    began: float = field(default_factory=time.monotonic)
    second: int = -1
    ledger_this_second: int = 0
    last_status: float = field(default_factory=time.monotonic)
    feed_reported: bool = False
    last_seen: int = 0

    @property
    def seen(self) -> int:
        return sum(self.totals.values())

    def show(self, logical: str, raw: bytes | None) -> None:
        self.totals[logical] += 1
        if logical == "points-ledger" and not self._ledger_slot():
            return
        say(describe(logical, raw))

    def _ledger_slot(self) -> bool:
        now = int(time.monotonic())
        if now != self.second:
            self.second, self.ledger_this_second = now, 0
        self.ledger_this_second += 1
        return self.ledger_this_second <= LEDGER_PER_SECOND

    def status(self, force: bool = False) -> None:
        now = time.monotonic()
        quiet = self.progress.done and self.seen == self.last_seen  # nothing new: every minute is enough
        if not force and now - self.last_status < (IDLE_STATUS_EVERY if quiet else STATUS_EVERY):
            return
        self.last_status, self.last_seen = now, self.seen
        counts = "  ".join(f"{SHORT[t]} {self.totals[t]}" for t in OUTPUTS)
        say(f"-- {now - self.began:4.0f}s  fed {self.progress.sent} events  |  {counts}")
        if self.progress.done and not self.feed_reported:
            self.feed_reported = True
            what = f"failed: {self.progress.error}" if self.progress.error else "finished"
            say(f"-- demo feed {what} ({self.progress.sent} events); Ctrl-C to stop")


def tail(console: Console, children: list[Child], deadline: float | None) -> int:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        *console.physical,
        bootstrap_servers=console.bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        client_id="memberflow-console",
    )
    try:
        while deadline is None or time.monotonic() < deadline:
            for child in children:
                child.check()
            for records in consumer.poll(timeout_ms=250).values():
                for record in records:
                    console.show(console.physical[record.topic], record.value)
            console.status()
    finally:
        consumer.close()
    console.status(force=True)
    return 0 if console.seen else 1


# -- the command -------------------------------------------------------------------


def banner(broker_url: str, embedded: bool, web: str, members: int, rate: float) -> None:
    heavy = next((p.member_id for p in demo.personas(members, demo.SEED) if p.heavy), demo.member_id(0))
    where = "embedded Tansu, log run/broker.log" if embedded else "external"
    say("memberflow is running -- Ctrl-C stops everything")
    say(f"  broker   {broker_url} ({where})")
    say(f"  member   {web}/members/{demo.member_id(0)}   (a heavy spender: {web}/members/{heavy})")
    say(f"  metrics  {web}/metrics")
    say(f"  logs     {RUN_DIR / 'worker.log'}")
    say(f"  demo     {members} members, {rate:g} events/s, about 8 weeks of event time")
    say()


def deadline_from_env() -> float | None:
    """When to stop by itself: ``MEMBERFLOW_RUN_SECONDS`` after now, if set."""
    text = os.environ.get("MEMBERFLOW_RUN_SECONDS")
    return time.monotonic() + float(text) if text else None


def serve(stack: ExitStack, members: int, rate: float, port: int | None) -> int:
    deadline = deadline_from_env()
    RUN_DIR.mkdir(exist_ok=True)
    say("starting the broker ..." if not external_broker() else f"using the broker at {external_broker()}")
    broker_url, broker = start_broker(stack, port)
    env = worker_env(broker_url, broker is not None, web_port())
    settings = Settings.from_env(env)
    create_topics(settings)
    say(f"starting a worker ({RUN_DIR / 'worker.log'}) ...")
    children = [c for c in (broker, start_worker(stack, env)) if c is not None]
    wait_ready(children, f"http://{settings.web_host}:{settings.web_port}/metrics")
    progress = start_feed(stack, broker_url, members, rate)
    banner(broker_url, broker is not None, settings.web_url, members, rate)
    physical = {settings.topic(t): t for t in OUTPUTS}
    console = Console(bootstrap_of(broker_url), physical, progress)
    return tail(console, children, deadline)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run(members: int = 1000, rate: float = 200.0, port: int | None = None) -> int:
    """Broker + worker + demo feed + live console; returns the exit code."""
    previous = signal.signal(signal.SIGTERM, _interrupt), signal.signal(signal.SIGINT, _interrupt)
    stack = ExitStack()
    try:
        return serve(stack, members, rate, port)
    except KeyboardInterrupt:
        say("\nstopping ...")
        return 0
    except ChildDied as exc:
        log = RUN_DIR / f"{exc.name}.log"
        say(f"\n{exc}; the last lines of {log}:\n{log_tail(log)}")
        return 1
    finally:
        # a second Ctrl-C must not cut the cleanup short
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            stack.close()
        finally:
            signal.signal(signal.SIGTERM, previous[0])
            signal.signal(signal.SIGINT, previous[1])
        say("stopped.")
