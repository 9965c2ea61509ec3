"""HTTP views on every worker: ``/metrics`` and the routed member lookup."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import generate_latest

from engine.views import member_summary
from memberflow import redemption_web
from streams import Topology
from tables.members import decode, state_key

PROMETHEUS_CONTENT_TYPE = "text/plain"


def register(topology: Topology) -> None:
    app, table = topology.app, topology.members
    registry = topology.metrics.registry
    redemption_web.register(topology)  # POST /members/{id}/redemptions, GET /members/{id}/ledger

    @app.page("/metrics")
    async def metrics(web, request):  # noqa: ANN001
        return web.bytes(generate_latest(registry), content_type=PROMETHEUS_CONTENT_TYPE)

    @app.page("/members/{member_id}")
    @app.table_route(table=table, match_info="member_id")
    async def member(web, request, member_id: str):  # noqa: ANN001
        tenant_id = request.query.get("tenant_id", "default")
        as_of_text = request.query.get("as_of")
        try:
            as_of = datetime.fromisoformat(as_of_text) if as_of_text else datetime.now(UTC)
        except ValueError:
            return web.json({"error": "as_of must be RFC 3339 with an offset"}, status=400)
        if as_of.tzinfo is None:
            return web.json({"error": "as_of must carry an offset"}, status=400)
        raw = table.get(state_key(tenant_id, member_id))
        if raw is None:
            return web.json({"error": "unknown member", "member_id": member_id, "tenant_id": tenant_id}, status=404)
        rules = topology.rulebook.for_tenant(tenant_id)
        return web.json(member_summary(decode(raw), rules, as_of))
