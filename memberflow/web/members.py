"""``GET /members/{member_id}``: a member's tier, points, growth, spend, status,
badges and redemptions as of a moment; routed to the worker that owns the member;
the tenant is the service token's (``memberflow.web.auth``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import faust

from agents.rules_in_force import RulesInForce
from engine.views import member_summary
from memberflow.web.auth import TENANT, ServiceTokens, authorised
from tables.members import decode, state_key


def register(app: faust.App, members: faust.Table, rules: RulesInForce, tokens: ServiceTokens) -> None:
    @app.page("/members/{member_id}")
    @authorised(tokens)
    @app.table_route(table=members, match_info="member_id")
    async def member(web: Any, request: Any, member_id: str) -> Any:
        tenant_id = request[TENANT]
        as_of_text = request.query.get("as_of")
        try:
            as_of = datetime.fromisoformat(as_of_text) if as_of_text else datetime.now(UTC)
        except ValueError:
            return web.json({"error": "as_of must be RFC 3339 with an offset"}, status=400)
        if as_of.tzinfo is None:
            return web.json({"error": "as_of must carry an offset"}, status=400)
        raw = members.get(state_key(tenant_id, member_id))
        if raw is None:
            return web.json({"error": "unknown member", "member_id": member_id, "tenant_id": tenant_id}, status=404)
        return web.json(member_summary(decode(raw), rules.book.for_tenant(tenant_id), as_of))
