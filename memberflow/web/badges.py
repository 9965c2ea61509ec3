"""Badge views: a member's badge detail (routed to the owning worker) and the
business-line definitions in force on this worker."""

from __future__ import annotations

from typing import Any

import faust

from agents.rules_in_force import RulesInForce
from config.business_lines import BusinessLine, LineDefinition
from engine.badge_views import badge_detail
from engine.published_lines import lines_for
from memberflow.web.auth import TENANT, ServiceTokens, authorised
from tables.members import decode, state_key


def line_view(line_id: str, line: BusinessLine) -> dict[str, Any]:
    return {
        "line_id": line_id,
        "name": line.name,
        "version": line.version,
        "source": "published" if isinstance(line, LineDefinition) else "rules",
        "fields": {name: kind.value for name, kind in line.fields.items()},
        "protection_days": line.protection_days,
        "downgrade": line.downgrade.value,
        "downgrade_warning_days": line.downgrade_warning_days,
        "levels": [lv.model_dump(mode="json") for lv in line.levels],
    }


def register(app: faust.App, table: faust.Table, rules: RulesInForce, tokens: ServiceTokens) -> None:

    @app.page("/members/{member_id}/badges/{line_id}")
    @authorised(tokens)
    @app.table_route(table=table, match_info="member_id")
    async def badge(web: Any, request: Any, member_id: str, line_id: str) -> Any:
        tenant_id = request[TENANT]
        raw = table.get(state_key(tenant_id, member_id))
        if raw is None:
            return web.json({"error": "unknown member", "member_id": member_id, "tenant_id": tenant_id}, status=404)
        detail = badge_detail(decode(raw), rules.book.for_tenant(tenant_id), line_id)
        if detail is None:
            return web.json({"error": "unknown business line", "line_id": line_id, "tenant_id": tenant_id},
                            status=404)
        return web.json(detail)

    @app.page("/business-lines")
    @authorised(tokens)
    async def business_lines(web: Any, request: Any) -> Any:
        tenant_id = request[TENANT]
        lines = lines_for(rules.book.for_tenant(tenant_id), tenant_id)
        return web.json({
            "tenant_id": tenant_id,
            "ready": rules.ready.is_set(),
            "lines": [line_view(line_id, line) for line_id, line in sorted(lines.items())],
        })
