"""``GET /members/{member_id}/ledger?kind=earn&limit=50&before=<cursor>``: a member's
ledger entries newest first, optionally of one kind, with ``next_before`` to fetch
the next page (``tables.ledger``); routed to the worker that owns the member."""

from __future__ import annotations

from typing import Any

import faust

from agents.kafka.routing import partition_for
from config.settings import Settings
from memberflow.web.auth import TENANT, ServiceTokens, authorised
from models.outputs import LedgerKind
from tables.ledger import read_page

MAX_PAGE = 500


def register(app: faust.App, settings: Settings, ledger: faust.Table, tokens: ServiceTokens) -> None:
    @app.page("/members/{member_id}/ledger")
    @authorised(tokens)
    @app.table_route(table=ledger, match_info="member_id")
    async def member_ledger(web: Any, request: Any, member_id: str) -> Any:
        query = request.query
        tenant_id = request[TENANT]
        kind = query.get("kind") or None
        if kind is not None and kind not in {k.value for k in LedgerKind}:
            return web.json({"error": f"kind must be one of {[k.value for k in LedgerKind]}"}, status=400)
        try:
            limit = int(query.get("limit", "50"))
            before = int(query["before"]) if query.get("before") else None
        except ValueError:
            return web.json({"error": "limit and before must be integers"}, status=400)
        if not 1 <= limit <= MAX_PAGE or (before is not None and before < 0):
            return web.json({"error": f"limit must be 1..{MAX_PAGE}, before >= 0"}, status=400)
        partition = partition_for(member_id, settings.partitions)
        entries, next_before = read_page(
            ledger, partition, tenant_id, member_id, kind=kind, limit=limit, before=before
        )
        return web.json({
            "tenant_id": tenant_id,
            "member_id": member_id,
            "entries": entries,
            "next_before": str(next_before) if next_before is not None else None,
        })
