"""``memberflow run`` (``make run``): the whole system on one machine, with a live console.

Embedded broker (unless ``BROKER_URL``/``MEMBERFLOW_BROKER_URL`` is set), one
worker subprocess, the demo feed in a thread, and a console that tails the
output topics (``memberflow.dev.console``).  Ctrl-C or SIGTERM stops
everything it started, by PID.  Logs and the worker's data go under
``run/``.  With ``MEMBERFLOW_RUN_SECONDS`` set it stops by itself after that
long and exits 0 if it saw at least one output.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from contextlib import ExitStack
from pathlib import Path

from agents.kafka.admin import create_topics
from config.settings import Settings
from memberflow.dev.broker import EmbeddedBroker, free_port, fresh_data_dir, port_is_free
from memberflow.dev.cluster import ROOT, WorkerProcess
from memberflow.dev.console import SHORT, Console, say
from memberflow.dev.demo.experiment import demo_rules_dir
from memberflow.dev.demo.feed import SEED, Progress, feed
from memberflow.dev.demo.personas import member_id, personas
from memberflow.dev.demo.schedule import demo_start
from memberflow.dev.operators import Operators, start_operators
from memberflow.dev.processes import ProcessFailed, sigint_blocked
from memberflow.web.auth import add_token, new_token

RUN_DIR = Path("run")
WEB_PORT = 6066
READY_TIMEOUT = 120.0
WORKER_GRACE = 10.0


# -- setup ---------------------------------------------------------------------


def external_broker() -> str | None:
    return os.environ.get("MEMBERFLOW_BROKER_URL") or os.environ.get("BROKER_URL") or None


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
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    if "MEMBERFLOW_RULES_DIR" not in env:  # the shipped rules with the demo's live experiment
        env["MEMBERFLOW_RULES_DIR"] = str(demo_rules_dir(RUN_DIR / "rules", demo_start()).resolve())
    return env


def start_broker(stack: ExitStack, port: int | None) -> tuple[str, EmbeddedBroker | None]:
    """(broker URL, the embedded broker or None) -- it is stopped when ``stack`` closes."""
    url = external_broker()
    if url:
        return url, None
    broker = EmbeddedBroker(port=port, log_path=RUN_DIR / "broker.log")
    with sigint_blocked():
        broker.start()
        stack.callback(broker.stop)
    return broker.url, broker


def demo_service_token(settings: Settings, fresh: bool) -> str:
    """A service token for the member API, tenant ``default`` (a fresh run starts a fresh tokens file)."""
    path = settings.service_tokens_file
    if fresh:
        path.unlink(missing_ok=True)
    token, stored = new_token("demo", "default")
    add_token(path, stored)
    return token


def start_worker(stack: ExitStack, env: dict[str, str], settings: Settings) -> WorkerProcess:
    """The worker, run from here (relative paths in ``env`` mean what they say here), a fresh log each run."""
    worker = WorkerProcess("worker", env, RUN_DIR / "worker.log", settings.web_port, host=settings.web_host,
                           cwd=Path.cwd(), grace=WORKER_GRACE)
    worker.start(fresh_log=True)
    stack.callback(worker.stop)
    return worker


def start_feed(stack: ExitStack, broker_url: str, members: int, rate: float) -> Progress:
    stop, progress = threading.Event(), Progress()

    def body() -> None:
        feed(members=members, rate=rate, broker_url=broker_url, stop=stop, progress=progress, quiet=True)

    thread = threading.Thread(target=body, name="demo-feed", daemon=True)
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join(15)

    stack.callback(halt)
    return progress


# -- the command -------------------------------------------------------------------


def console_url(ops: Operators) -> str:
    """The console's sign-in page with the demo token in its fragment (never sent to the server, never logged)."""
    return f"{ops.admin_url}/console/sign-in#token={ops.token}"


def banner(broker_url: str, embedded: bool, web: str, members: int, rate: float, ops: Operators,
           service_token: str) -> None:
    heavy = next((p.member_id for p in personas(members, SEED) if p.heavy), member_id(0))
    where = "embedded Tansu, log run/broker.log" if embedded else "external"
    say("memberflow is running -- Ctrl-C stops everything")
    say(f"  broker   {broker_url} ({where})")
    say(f"  member   {web}/members/{member_id(0)}   (a heavy spender: {web}/members/{heavy})")
    say(f"           curl -H 'Authorization: Bearer {service_token}' {web}/members/{member_id(0)}")
    say(f"  metrics  {web}/metrics")
    say(f"  console  {console_url(ops)}   (its sign-in form comes filled in with the demo admin token)")
    say(f"  admin    {ops.admin_url}/docs   (read model: {RUN_DIR / 'readmodel.sqlite'}, OpenAPI: /openapi.json)")
    say(f"           curl -H 'Authorization: Bearer {ops.token}' {ops.admin_url}/tenants/default/members")
    say(f"  logs     {RUN_DIR / 'worker.log'}, {RUN_DIR / 'projector.log'}, {RUN_DIR / 'admin.log'}")
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
    service_token = demo_service_token(settings, fresh=broker is not None)
    say(f"starting a worker ({RUN_DIR / 'worker.log'}) ...")
    worker = start_worker(stack, env, settings)
    others = [broker] if broker is not None else []
    worker.wait_ready(READY_TIMEOUT, also=others)
    say("starting the projector and the admin service (SQLite read model) ...")
    ops = start_operators(stack, env, RUN_DIR, fresh=broker is not None)
    progress = start_feed(stack, broker_url, members, rate)
    banner(broker_url, broker is not None, settings.web_url, members, rate, ops, service_token)
    console = Console(settings.bootstrap, {settings.topic(t): t for t in SHORT}, progress)
    return console.follow([*others, worker], deadline)


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
    except ProcessFailed as exc:
        say(f"\n{exc}")
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
