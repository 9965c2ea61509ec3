"""The admin service: a FastAPI application over the read model, with token auth and an audit trail.

``create_app`` wires it, with the browser console under ``/console``
(``memberflow.admin.console``); routers plug in with ``app.include_router`` and
the dependencies in ``deps``; operators' commands go through ``operations``.  Request
bodies and query parameters are validated by pydantic: an invalid one is 422
with ``detail`` listing each error's ``loc`` (the field's path) and ``msg``.
Every response carries ``X-Request-ID`` (the request's, or a new one).
"""

from __future__ import annotations

import json
import uuid

import sqlalchemy as sa
from fastapi import FastAPI, Request

from config.rules import RuleBook
from config.settings import SHIPPED_RULES_DIR
from memberflow.admin import console
from memberflow.admin.audit import AuditLog, AuditPublisher
from memberflow.admin.commands import CommandPublisher
from memberflow.admin.deps import Services
from memberflow.admin.operations import Limits, Operations
from memberflow.admin.routes import (
    activity,
    experiments,
    imports,
    members,
    operations,
    plans,
    reports,
    simulations,
    tokens,
)
from memberflow.admin.routes import rules as rules_routes
from memberflow.admin.rules import RulesPublisher, TenantRulesService
from memberflow.admin.simulations import History, InputTopics, Simulations

TITLE = "memberflow admin"
VERSION = "1"


def create_app(engine: sa.Engine, publisher: AuditPublisher, commands: CommandPublisher, limits: Limits,
               rules: RuleBook | None = None, rules_publisher: RulesPublisher | None = None,
               history: History | None = None) -> FastAPI:
    """The service over ``engine``: audit records go to ``publisher``, member commands to ``commands``;
    ``rules`` is the rules directory's book (default: the shipped rules), ``rules_publisher`` puts versions on
    ``tenant-rules`` (without one, publishing answers 500); simulations read ``history`` (default: the
    broker's input topics)."""
    app = FastAPI(title=TITLE, version=VERSION, description="The operators' API: members, ledger, gifts, "
                  "redemptions, statistics and exports, adjustments, account actions and approvals, tenant "
                  "rules at runtime with what-if simulations of a candidate, live experiments, the "
                  "expiry-warning campaign, imports, tenant-scoped, with API tokens and roles.")
    app.state.services = Services(engine, AuditLog(engine, publisher), commands)
    app.state.operations = Operations(engine, app.state.services.audit, commands, limits)
    app.state.rules = TenantRulesService(engine, rules or RuleBook.from_path(SHIPPED_RULES_DIR), rules_publisher)
    app.state.simulations = Simulations(engine, app.state.rules, history or InputTopics())
    app.router.add_event_handler("shutdown", app.state.simulations.close)
    for router in (members.router, activity.router, reports.router, tokens.router, operations.router,
                   rules_routes.router, simulations.router, experiments.router, imports.router, plans.router):
        app.include_router(router)
    console.install(app)

    @app.middleware("http")
    async def request_id(request: Request, call_next):
        response = await call_next(request)
        response.headers["X-Request-ID"] = request.headers.get("X-Request-ID") or uuid.uuid4().hex
        return response

    @app.get("/healthz", tags=["service"], summary="the service answers and its database too")
    def healthz() -> dict[str, str]:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return {"status": "ok"}

    return app


class _NoPublishing:
    def publish(self, record) -> None:
        raise RuntimeError("the OpenAPI document's app serves no requests")


def openapi_document() -> str:
    """The OpenAPI document as checked into docs/openapi.json."""
    app = create_app(sa.create_engine("sqlite://"), _NoPublishing(), _NoPublishing(), Limits(0, 0))
    return json.dumps(app.openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
