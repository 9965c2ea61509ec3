"""HTTP for points consumption: synchronous redemptions.

``POST /members/{member_id}/redemptions`` (body: a redemption request, see
models/redemptions.py; ``member_id`` and ``occurred_at`` may be left out)
is answered by the worker that owns the member: another worker forwards the
request there.  The owner validates it, publishes it to ``redemptions`` keyed
by the member id -- so it is applied in order with the member's other
events, by the members agent, exactly like a request sent to Kafka directly
-- and waits until the members agent reports the answer (``agents.answers``).

The caller's service token decides the tenant (``memberflow.web.auth``):
401 without a valid one, 404 for a body naming a tenant it does not see.

Answers: 200 with the RedemptionResult (accepted or rejected, see ``status``
and ``reason``); 400 for a body that is not a JSON object or names another
member; 422 for one that breaks the contract (nothing is published) or that
the engine dead-lettered; 503 while partitions are being assigned; 504 when
no answer came in time (the request may still be applied: retry with the
same ``request_id`` to get its answer).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import faust
from faust.web import View
from pydantic import TypeAdapter, ValidationError
from yarl import URL

from agents.answers import RedemptionAnswers
from agents.kafka.routing import partition_for
from config.settings import Settings
from config.topics import Topic
from memberflow.web.auth import REFUSALS, ServiceToken, ServiceTokens, bearer, refused
from models.outputs import DeadLetter
from models.redemptions import RedemptionRequest

REQUESTS: TypeAdapter = TypeAdapter(RedemptionRequest)
FORWARDED_HEADER = "X-Memberflow-Forwarded"


def _json(model: Any) -> Any:
    return json.loads(model.model_dump_json())


def parse_request(body: bytes, member_id: str, now: datetime, token: ServiceToken | None = None,
                  adapter: TypeAdapter = REQUESTS) -> tuple[Any, tuple[int, dict] | None]:
    """The validated request (a redemption request, or what ``adapter`` validates), or (status,
    error body).  The HTTP edge stamps ``occurred_at`` with its own clock when the caller did not
    say when; the tenant is the ``token``'s (a body naming a tenant the token does not see: 404)."""
    try:
        data = json.loads(body or b"null")
    except ValueError as exc:
        return None, (400, {"error": f"body is not JSON: {exc}"})
    if not isinstance(data, dict):
        return None, (400, {"error": "body must be a JSON object"})
    if data.setdefault("member_id", member_id) != member_id:
        return None, (400, {"error": "member_id in the body differs from the path"})
    data.setdefault("occurred_at", now.isoformat())
    if token is not None:
        tenant = token.tenant_for(data.get("tenant_id"))
        if tenant is None:
            return None, (404, REFUSALS[404])
        data["tenant_id"] = tenant
    try:
        return adapter.validate_python(data), None
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        return None, (422, {"error": "invalid request", "details": _json_safe(errors)})


def _json_safe(errors: list[dict]) -> list[dict]:
    return [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"], "type": e["type"]} for e in errors]


def register(app: faust.App, settings: Settings, members: faust.Table, answers: RedemptionAnswers,
             tokens: ServiceTokens) -> None:
    """``POST /members/{member_id}/redemptions``, answered by the worker that owns the member."""
    timeout = settings.redemption_timeout_ms / 1000

    def owner_url(member_id: str) -> URL | None:
        """Where the member's owner answers, or None for this worker."""
        dest = app.router.key_store(members.name, member_id)
        mine = app.router._urlident(app.conf.canonical_url)
        return None if app.router._urlident(dest) == mine else dest

    async def forward(view: View, request: Any, dest: Any, body: bytes) -> Any:
        url = request.url.with_host(dest.host).with_port(int(dest.port or 80))
        headers = {"Content-Type": "application/json", FORWARDED_HEADER: "1",
                   "Authorization": request.headers.get("Authorization", "")}
        async with app.http_client.post(url, data=body, headers=headers) as response:
            return view.text(await response.text(), content_type=response.content_type, status=response.status)

    async def redeem(view: View, request: Any, member_id: str) -> Any:
        token = tokens.authenticate(bearer(request))
        if token is None:
            return refused(view, 401)
        body = await request.read()
        try:
            dest = owner_url(member_id)
        except KeyError:
            return view.json({"error": "partitions are being assigned, retry"}, status=503)
        if dest is not None and not request.headers.get(FORWARDED_HEADER):
            return await forward(view, request, dest, body)
        redemption, error = parse_request(body, member_id, datetime.now(UTC), token)
        if error is not None:
            return view.json(error[1], status=error[0])
        future = answers.wait(redemption.tenant_id, redemption.request_id)
        try:
            producer = app.producer._ensure_producer()
            await producer.send_and_wait(
                settings.topic(Topic.REDEMPTIONS),
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
            answers.forget(redemption.tenant_id, redemption.request_id, future)
        if isinstance(answer, DeadLetter):
            return view.json({"error": "dead-lettered", "reason": answer.reason.value, "detail": answer.detail},
                             status=422)
        return view.json(_json(answer))

    class Redemptions(View):
        async def post(self, request: Any, member_id: str) -> Any:
            return await redeem(self, request, member_id)

    app.page("/members/{member_id}/redemptions")(Redemptions)
