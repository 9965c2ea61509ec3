"""What-if simulations started through the admin service: a candidate against the rules in force.

``Simulations.start`` claims the tenant's one simulation slot (a ``running`` row of the
``simulations`` table; the table's partial unique index refuses a second one, whichever admin
instance asks: ``Busy``), audits the start (``rules.simulate``) and runs ``memberflow simulate``
in a child process (``python -m memberflow.cli simulate``, the command's public entry point:
the admin service does not import the tools) over the tenant's lines of the input topics'
last ``days`` days, with the rules in force as the base and the candidate's complete document.
A thread waits for it, renewing the row's ``heartbeat_at``, then stores ``report.json`` and
``report.html`` in the row (``done``) or the command's last words (``failed``).  A ``running``
row whose heartbeat is older than ``STALE_AFTER`` lost its instance (stopped mid-run): it is
marked failed when the tenant's simulations are next read or started.  ``close`` stops this
instance's children and marks their rows failed.
"""

from __future__ import annotations

import hashlib
import html
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
import yaml

from config.rules import TenantRules
from memberflow.admin.deps import Scope, Services
from memberflow.admin.rules import TenantRulesService, document
from memberflow.readmodel import schema
from memberflow.readmodel.projection import utc
from models.admin import AuditOutcome
from models.admin_simulations import (
    SimulationDetail,
    SimulationInfo,
    SimulationRequest,
    SimulationState,
    SimulationSummary,
)

ACTION = "rules.simulate"
HEARTBEAT_S = 5.0
STALE_AFTER = timedelta(seconds=60)
TIMEOUT_S = 3600.0  # a run longer than this is stopped
LAST_WORDS = 2000  # characters of the command's stderr kept when it fails


class Busy(Exception):
    """The tenant has a simulation running."""


class Conflict(Exception):
    """The request id was used for another simulation request."""


class History(Protocol):
    def arguments(self, since: datetime, until: datetime) -> list[str]:
        """The ``memberflow simulate`` arguments that name the history of [since, until)."""


class InputTopics:
    """The broker's input topics (``MEMBERFLOW_BROKER_URL`` and the topic settings of the service's environment)."""

    def arguments(self, since: datetime, until: datetime) -> list[str]:
        return ["--from-topics", "--since", since.isoformat(), "--until", until.isoformat()]


@dataclass(frozen=True)
class EventsFile:
    """A recorded history file (the service's tests)."""

    path: Path

    def arguments(self, since: datetime, until: datetime) -> list[str]:
        return ["--events", str(self.path)]


def summary_of(report: dict[str, Any]) -> SimulationSummary:
    base, cand, diff = report["base"], report["candidate"], report["difference"]
    return SimulationSummary(
        events=base["events"], members=max(base["members"], cand["members"]),
        points_issued_base=base["points_issued"], points_issued_candidate=cand["points_issued"],
        points_issued_difference=diff["points_issued"], liability_base=base["liability"],
        liability_candidate=cand["liability"], liability_difference=diff["liability"],
        upgrades_base=base["upgrades"], upgrades_candidate=cand["upgrades"], downgrades_base=base["downgrades"],
        downgrades_candidate=cand["downgrades"],
        members_with_different_tier=report["members_with_different_tier"]["count"])


def info_of(row: sa.Row) -> SimulationInfo:
    return SimulationInfo(
        simulation_id=row.simulation_id, tenant_id=row.tenant_id, state=row.state, days=row.days,
        evaluate=row.evaluate, since=utc(row.since), until=utc(row.until), base_rules=row.base_rules,
        requested_by=row.requested_by, reason=row.reason, started_at=utc(row.started_at),
        finished_at=utc(row.finished_at) if row.finished_at else None, error=row.error,
        summary=summary_of(row.figures) if row.figures else None)


def detail_of(row: sa.Row) -> SimulationDetail:
    return SimulationDetail(**info_of(row).model_dump(), rules=row.rules, report=row.figures)


def _digest(body: SimulationRequest) -> str:
    return hashlib.sha256(body.model_dump_json(exclude={"request_id"}).encode()).hexdigest()


@dataclass
class Simulations:
    """The simulations of every tenant, over the read model; runs ``memberflow simulate`` as a child."""

    engine: sa.Engine
    rules: TenantRulesService
    history: History = field(default_factory=InputTopics)
    timeout_s: float = TIMEOUT_S
    children: dict[str, subprocess.Popen] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- reading ------------------------------------------------------------------

    def _reap(self, tenant_id: str) -> None:
        """Mark failed the tenant's running rows whose instance stopped renewing them."""
        s = schema.simulations.c
        with self.engine.begin() as conn:
            conn.execute(sa.update(schema.simulations).where(
                s.tenant_id == tenant_id, s.state == SimulationState.RUNNING,
                s.heartbeat_at < datetime.now(UTC) - STALE_AFTER).values(
                state=SimulationState.FAILED, finished_at=datetime.now(UTC),
                error="the admin instance running it stopped"))

    def list(self, tenant_id: str, limit: int = 50) -> list[SimulationInfo]:
        self._reap(tenant_id)
        s = schema.simulations.c
        columns = [c for c in schema.simulations.c if c.name not in ("rules", "report_html")]
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(*columns).where(s.tenant_id == tenant_id)
                                .order_by(s.started_at.desc(), s.simulation_id).limit(limit)).all()
        return [info_of(r) for r in rows]

    def get(self, tenant_id: str, simulation_id: str) -> sa.Row | None:
        self._reap(tenant_id)
        s = schema.simulations.c
        with self.engine.connect() as conn:
            return conn.execute(sa.select(schema.simulations).where(
                s.tenant_id == tenant_id, s.simulation_id == simulation_id)).first()

    def running(self, tenant_id: str) -> str | None:
        self._reap(tenant_id)
        s = schema.simulations.c
        with self.engine.connect() as conn:
            return conn.scalar(sa.select(s.simulation_id).where(s.tenant_id == tenant_id,
                                                                s.state == SimulationState.RUNNING))

    # -- starting -----------------------------------------------------------------

    def start(self, svc: Services, scope: Scope, body: SimulationRequest, candidate: TenantRules) -> str:
        """Start simulating ``candidate`` (``body.rules`` validated); its id.  A retry with the same request
        id gets the first simulation's id (``Conflict`` for another body); ``Busy`` while one runs."""
        digest = _digest(body)
        earlier = svc.audit.find(scope.who, ACTION, body.request_id)
        if earlier is not None:
            if earlier.detail.get("body") != digest or earlier.tenant_id != scope.tenant_id:
                raise Conflict(f"request id {body.request_id!r} was used already for another simulation")
            return earlier.target
        self._reap(scope.tenant_id)
        base, _ = self.rules.in_force(scope.tenant_id)
        now = datetime.now(UTC)
        since = now - timedelta(days=body.days)
        simulation_id = f"sim-{uuid.uuid4().hex[:20]}"
        row = {"simulation_id": simulation_id, "tenant_id": scope.tenant_id, "state": SimulationState.RUNNING,
               "days": body.days, "evaluate": body.evaluate, "since": since, "until": now,
               "base_rules": base.version, "rules": document(candidate), "requested_by": scope.who.actor,
               "token_id": scope.who.token_id, "reason": body.reason, "request_id": body.request_id,
               "started_at": now, "heartbeat_at": now}
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.insert(schema.simulations).values(row))
        except sa.exc.IntegrityError:
            raise Busy(f"a simulation of tenant {scope.tenant_id} is running: {self.running(scope.tenant_id)}"
                       ) from None
        try:
            svc.audit.record(scope.who, scope.tenant_id, ACTION, simulation_id, body.reason, body.request_id,
                             AuditOutcome.DONE, {"body": digest, "days": body.days, "evaluate": body.evaluate,
                                                 "base_rules": base.version})
            self._launch(simulation_id, scope.tenant_id, base, candidate, body.evaluate, since, now)
        except Exception as exc:
            self._finish(simulation_id, error=f"not started: {exc}")
            raise
        return simulation_id

    def _launch(self, simulation_id: str, tenant_id: str, base: TenantRules, candidate: TenantRules,
                evaluate: str, since: datetime, until: datetime) -> None:
        work = Path(tempfile.mkdtemp(prefix=f"memberflow-{simulation_id}-"))
        paths = {}
        for name, rules in (("base", base), ("candidate", candidate)):
            paths[name] = work / f"{name}.yaml"
            doc = {**document(rules), "tenant_id": tenant_id}
            paths[name].write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
        argv = [sys.executable, "-m", "memberflow.cli", "simulate", "--base", str(paths["base"]),
                "--candidate", str(paths["candidate"]), *self.history.arguments(since, until),
                "--tenant", tenant_id, "--evaluate", evaluate, "--out", str(work / "report")]
        stderr = (work / "stderr.txt").open("w", encoding="utf-8")
        child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr, stdin=subprocess.DEVNULL)
        stderr.close()
        with self.lock:
            self.children[simulation_id] = child
        labels = {str(paths["base"]): f"in force ({base.version})", str(paths["candidate"]): "candidate"}
        threading.Thread(target=self._wait, args=(simulation_id, child, work, labels), daemon=True,
                         name=f"simulation-{simulation_id}").start()

    def _wait(self, simulation_id: str, child: subprocess.Popen, work: Path, labels: dict[str, str]) -> None:
        started = datetime.now(UTC)
        try:
            while True:
                try:
                    code = child.wait(timeout=HEARTBEAT_S)
                    break
                except subprocess.TimeoutExpired:
                    if (datetime.now(UTC) - started).total_seconds() > self.timeout_s:
                        child.kill()
                        child.wait()
                        self._finish(simulation_id, error=f"stopped after {self.timeout_s:.0f} s")
                        return
                    self._beat(simulation_id)
            report = work / "report"
            if code == 0 and (report / "report.json").exists():
                figures = json.loads((report / "report.json").read_text(encoding="utf-8"))
                page = (report / "report.html").read_text(encoding="utf-8")
                for run in ("base", "candidate"):  # the rules by name, not by the files this run wrote
                    label = labels.get(figures[run]["rules"], figures[run]["rules"])
                    page = page.replace(html.escape(figures[run]["rules"]), html.escape(label))
                    figures[run]["rules"] = label
                self._finish(simulation_id, figures=figures, page=page)
            else:
                words = (work / "stderr.txt").read_text(encoding="utf-8", errors="replace").strip()
                self._finish(simulation_id, error=f"memberflow simulate exited with {code}: {words[-LAST_WORDS:]}")
        except Exception as exc:  # the row must not stay running
            self._finish(simulation_id, error=f"{type(exc).__name__}: {exc}")
        finally:
            with self.lock:
                self.children.pop(simulation_id, None)
            shutil.rmtree(work, ignore_errors=True)

    def _beat(self, simulation_id: str) -> None:
        s = schema.simulations.c
        with self.engine.begin() as conn:
            conn.execute(sa.update(schema.simulations).where(s.simulation_id == simulation_id,
                                                             s.state == SimulationState.RUNNING)
                         .values(heartbeat_at=datetime.now(UTC)))

    def _finish(self, simulation_id: str, figures: dict | None = None, page: str | None = None,
                error: str | None = None) -> None:
        s = schema.simulations.c
        state = SimulationState.FAILED if error is not None else SimulationState.DONE
        with self.engine.begin() as conn:
            conn.execute(sa.update(schema.simulations).where(s.simulation_id == simulation_id,
                                                             s.state == SimulationState.RUNNING)
                         .values(state=state, finished_at=datetime.now(UTC), heartbeat_at=datetime.now(UTC),
                                 figures=figures, report_html=page, error=error))

    def close(self) -> None:
        """Stop this instance's running simulations (the service stops): their rows are marked failed."""
        with self.lock:
            running = dict(self.children)
        for simulation_id, child in running.items():
            child.kill()
            child.wait()
            self._finish(simulation_id, error="the admin service stopped")

