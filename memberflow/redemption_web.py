"""HTTP for points consumption: synchronous redemptions and the ledger history.

``POST /members/{member_id}/redemptions`` (body: a redemption request, see
models/redemptions.py; ``member_id`` and ``occurred_at`` may be left out)
is answered by the worker that owns the member: another worker forwards the
request there.  The owner validates it, publishes it to ``redemptions`` keyed
by the member id -- so it is applied in order with the member's other
events, by the members agent, exactly like a request sent to Kafka directly
-- and waits until the members agent reports the answer (``on_outputs``).

Answers: 200 with the RedemptionResult (accepted or rejected, see ``status``
and ``reason``); 400 for a body that is not a JSON object or names another
member; 422 for one that breaks the contract (nothing is published) or that
the engine dead-lettered; 503 while partitions are being assigned; 504 when
no answer came in time (the request may still be applied: retry with the
same ``request_id`` to get its answer).

``GET /members/{member_id}/ledger?kind=earn&limit=50&before=<cursor>``: the
member's ledger entries newest first, optionally of one kind, with
``next_before`` to fetch the next page (tables/ledger.py).
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from faust.web import View
from pydantic import TypeAdapter, ValidationError

from agents.routing import partition_for
from engine.outcome import Emitted
from models.outputs import DeadLetter, LedgerKind
from models.redemptions import RedemptionRequest, RedemptionResult
from streams import Topology
from tables.ledger import read_page

REQUESTS: TypeAdapter = TypeAdapter(RedemptionRequest)
MAX_PAGE = 500
FORWARDED_HEADER = "X-Memberflow-Forwarded"

Answer = RedemptionResult | DeadLetter


class Waiters:
    """Futures of HTTP requests waiting for their answer, by (tenant, request_id)."""

    def __init__(self) -> None:
        self.pending: dict[tuple[str, str], list[asyncio.Future[Answer]]] = defaultdict(list)

    def wait(self, tenant_id: str, request_id: str) -> asyncio.Future[Answer]:
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self.pending[(tenant_id, request_id)].append(future)
        return future

    def forget(self, tenant_id: str, request_id: str, future: asyncio.Future[Answer]) -> None:
        futures = self.pending.get((tenant_id, request_id))
        if futures is None:
            return
        if future in futures:
            futures.remove(future)
        if not futures:
            del self.pending[(tenant_id, request_id)]

    def on_outputs(self, outputs: list[Emitted]) -> None:
        """The members agent's hook: resolve whoever waits for these answers."""
        if not self.pending:
            return
        for out in outputs:
            value = out.value
            if isinstance(value, RedemptionResult):
                self._resolve((value.tenant_id, value.request_id), value)
            elif isinstance(value, DeadLetter) and value.source_topic == "redemptions" and value.cause_event_id:
                self._resolve((value.tenant_id or "default", value.cause_event_id), value)

    def _resolve(self, key: tuple[str, str], answer: Answer) -> None:
        for future in self.pending.pop(key, []):
            if not future.done():
                future.set_result(answer)


def _json(model: Any) -> Any:
    return json.loads(model.model_dump_json())


def parse_request(body: bytes, member_id: str, now: datetime) -> tuple[Any, tuple[int, dict] | None]:
    """The validated request, or (status, error body).  The HTTP edge stamps
    ``occurred_at`` with its own clock when the caller did not say when."""
    try:
        data = json.loads(body or b"null")
    except ValueError as exc:
        return None, (400, {"error": f"body is not JSON: {exc}"})
    if not isinstance(data, dict):
        return None, (400, {"error": "body must be a JSON object"})
    if data.setdefault("member_id", member_id) != member_id:
        return None, (400, {"error": "member_id in the body differs from the path"})
    data.setdefault("occurred_at", now.isoformat())
    try:
        return REQUESTS.validate_python(data), None
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        return None, (422, {"error": "invalid request", "details": _json_safe(errors)})


def _json_safe(errors: list[dict]) -> list[dict]:
    return [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"], "type": e["type"]} for e in errors]


def register(topology: Topology) -> None:
    app, members, ledger = topology.app, topology.members, topology.ledger
    settings = topology.settings
    waiters = Waiters()
    topology.on_outputs.append(waiters.on_outputs)
    timeout = settings.redemption_timeout_ms / 1000

    def owner_url(member_id: str):  # noqa: ANN202 - a yarl URL, or None for this worker
        dest = app.router.key_store(members.name, member_id)
        mine = app.router._urlident(app.conf.canonical_url)
        return None if app.router._urlident(dest) == mine else dest

    async def forward(view: View, request: Any, dest: Any, body: bytes) -> Any:
        url = request.url.with_host(dest.host).with_port(int(dest.port or 80))
        headers = {"Content-Type": "application/json", FORWARDED_HEADER: "1"}
        async with app.http_client.post(url, data=body, headers=headers) as response:
            return view.text(await response.text(), content_type=response.content_type, status=response.status)

    async def redeem(view: View, request: Any, member_id: str) -> Any:
        body = await request.read()
        try:
            dest = owner_url(member_id)
        except KeyError:
            return view.json({"error": "partitions are being assigned, retry"}, status=503)
        if dest is not None and not request.headers.get(FORWARDED_HEADER):
            return await forward(view, request, dest, body)
        redemption, error = parse_request(body, member_id, datetime.now(UTC))
        if error is not None:
            return view.json(error[1], status=error[0])
        future = waiters.wait(redemption.tenant_id, redemption.request_id)
        try:
            producer = app.producer._ensure_producer()
            await producer.send_and_wait(
                settings.topic("redemptions"),
                key=member_id.encode(),
                value=redemption.model_dump_json().encode(),
                partition=partition_for(member_id, settings.partitions),
            )
            answer = await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            return view.json(
                {"error": "no answer in time; retry with the same request_id", "request_id": redemption.request_id},
                status=504,
            )
        finally:
            waiters.forget(redemption.tenant_id, redemption.request_id, future)
        if isinstance(answer, DeadLetter):
            return view.json({"error": "dead-lettered", "reason": answer.reason.value, "detail": answer.detail},
                             status=422)
        return view.json(_json(answer))

    class Redemptions(View):
        async def post(self, request: Any, member_id: str) -> Any:
            return await redeem(self, request, member_id)

    app.page("/members/{member_id}/redemptions")(Redemptions)

    @app.page("/members/{member_id}/ledger")
    @app.table_route(table=ledger, match_info="member_id")
    async def member_ledger(web, request, member_id: str):  # noqa: ANN001
        query = request.query
        tenant_id = query.get("tenant_id", "default")
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
