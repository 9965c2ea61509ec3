"""A read-only view of one member as of a moment, the shape every ``GET /members/{member_id}/…``
page shares: routed to the worker that owns the member, the tenant from the service token
(``memberflow.web.auth``), ``as_of`` an RFC 3339 time with an offset (default now), 404 for a
member the tenant does not have.  The page itself is ``render(state, tenant rules, as_of)``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import faust

from agents.rules_in_force import RulesInForce
from config.rules import TenantRules
from memberflow.web.auth import TENANT, ServiceTokens, authorised
from models.state import MemberState
from tables.members import decode, state_key

Render = Callable[[MemberState, TenantRules, datetime], Any]


def as_of_of(query: Any) -> datetime | str:
    """The query's ``as_of`` (default now), or why it is not usable."""
    text = query.get("as_of")
    try:
        as_of = datetime.fromisoformat(text) if text else datetime.now(UTC)
    except ValueError:
        return "as_of must be RFC 3339 with an offset"
    return as_of if as_of.tzinfo is not None else "as_of must carry an offset"


def register_member_view(app: faust.App, members: faust.Table, rules: RulesInForce, tokens: ServiceTokens,
                         path: str, render: Render) -> None:
    """``GET path`` (a path with ``{member_id}``) answering ``render`` of the member's state."""

    async def view(web: Any, request: Any, member_id: str) -> Any:
        tenant_id = request[TENANT]
        as_of = as_of_of(request.query)
        if isinstance(as_of, str):
            return web.json({"error": as_of}, status=400)
        raw = members.get(state_key(tenant_id, member_id))
        if raw is None:
            return web.json({"error": "unknown member", "member_id": member_id, "tenant_id": tenant_id}, status=404)
        return web.json(render(decode(raw), rules.book.for_tenant(tenant_id), as_of))

    view.__name__ = view.__qualname__ = "member_view_" + path.strip("/").replace("/", "_").replace("{", "").replace(
        "}", "")
    app.page(path)(authorised(tokens)(app.table_route(table=members, match_info="member_id")(view)))
