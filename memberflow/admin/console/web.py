"""What every console page shares: the templates, the page frame (tenant, role, navigation,
sign-out), the tenant and role checks, and the formats of times, money and points.

A screen is a small module with an ``APIRouter`` and its templates; it declares
its navigation entry with the least role that may open it (``NAV``), and a
button in a template is shown only ``if can('operator')`` (or whichever role
may press it): a viewer sees no buttons it may not press.  A form that
writes posts the page's ``csrf`` as a hidden field, and its route calls
``session.check_csrf`` before anything else (403 otherwise).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from memberflow.admin.console.session import ConsoleError, csrf_for, signed_in, token_of
from memberflow.admin.deps import Services
from memberflow.admin.tokens import Principal
from memberflow.readmodel import schema
from models.admin import Role

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
CURRENCY_SIGNS = {"CNY": "¥", "JPY": "¥", "USD": "$", "EUR": "€", "GBP": "£"}


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str  # under /console/{tenant_id}
    role: Role


#: the console's screens, in the order of the navigation bar
NAV: list[NavItem] = [
    NavItem("Members", "/members", Role.VIEWER),
    NavItem("Dashboard", "/dashboard", Role.VIEWER),
    NavItem("Gifts", "/gifts", Role.VIEWER),
    NavItem("Approvals", "/approvals", Role.VIEWER),
    NavItem("Rules", "/rules", Role.VIEWER),
    NavItem("Simulations", "/simulations", Role.VIEWER),
    NavItem("Experiments", "/experiments", Role.VIEWER),
    NavItem("Expiry warnings", "/expiry-warnings", Role.VIEWER),
    NavItem("Import", "/import", Role.ADMIN),
    NavItem("Audit", "/audit", Role.ADMIN),
]


@dataclass(frozen=True)
class Page:
    """A signed-in request about one tenant."""

    request: Request
    who: Principal
    tenant_id: str

    @property
    def engine(self) -> sa.Engine:
        services: Services = self.request.app.state.services
        return services.engine

    def render(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return render(self.request, name, status, who=self.who, tenant_id=self.tenant_id, **context)


def tenant_page(role: Role = Role.VIEWER):
    """A dependency: the signed-in principal on the path's tenant; 404 for a tenant the token does
    not see, then 403 unless its role is at least ``role`` (as the API's ``scoped``)."""

    def check(request: Request, tenant_id: str) -> Page:
        who = signed_in(request)
        if not who.sees(tenant_id):
            raise ConsoleError(404, "unknown tenant")
        if not who.may(role):
            raise ConsoleError(403, f"the {who.role} role may not open this page (needs {role})")
        return Page(request, who, tenant_id)

    return check


TENANTS_TTL_S = 30.0


def tenants(request: Request, who: Principal) -> list[str]:
    """The tenants the principal may switch between (an every-tenant token: those the read model knows,
    looked up at most every ``TENANTS_TTL_S`` seconds: it is a scan of the members' key)."""
    if who.tenant_id is not None:
        return [who.tenant_id]
    state = request.app.state
    cached = getattr(state, "console_tenants", None)
    if cached is None or time.monotonic() - cached[0] > TENANTS_TTL_S:
        with state.services.engine.connect() as conn:
            known = conn.execute(sa.select(schema.members.c.tenant_id).distinct()).scalars().all()
        cached = state.console_tenants = (time.monotonic(), sorted({"default", *known}))
    return cached[1]


def render(request: Request, name: str, status: int = 200, who: Principal | None = None,
           tenant_id: str | None = None, **context: Any) -> HTMLResponse:
    token = token_of(request)
    nav = [item for item in NAV if who is not None and who.may(item.role)]
    switch = tenants(request, who) if who is not None else []
    return templates.TemplateResponse(request, name, {
        "who": who, "tenant_id": tenant_id, "nav": nav, "tenants": switch,
        "csrf": csrf_for(token) if token and who is not None else None,
        "can": (lambda role: who is not None and who.may(Role(role))), **context}, status_code=status)


def when(value: Any) -> str:
    """A moment as ``YYYY-MM-DD HH:MM`` in UTC (empty for none)."""
    if value in (None, ""):
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def day(value: Any) -> str:
    return when(value)[:10]


def points(value: Any) -> str:
    return "" if value is None else f"{int(value):,}"


def money(value: Any, currency: str | None = None) -> str:
    """An amount with two places (none when whole), with the currency's sign when given."""
    if value is None:
        return ""
    amount = Decimal(str(value)).quantize(Decimal("0.01"))
    text = f"{amount:,.2f}".removesuffix(".00")
    if currency is None:
        return text
    sign = CURRENCY_SIGNS.get(currency)
    return f"{sign}{text}" if sign else f"{text} {currency}"


templates.env.filters.update(when=when, day=day, points=points, money=money)
