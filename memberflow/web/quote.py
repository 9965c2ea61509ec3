"""``POST /members/{member_id}/quote``: a cart priced for the member (engine/quote.py), a dry run
answered by the worker that owns the member (another worker forwards the body there).  The tenant is the
service token's (``memberflow.web.auth``).

Answers: 200 with the QuoteResult; 400 for a body that is not JSON; 422 for one that breaks the contract
(``details`` name the field path); 401 without a valid token; 404 for an unknown member or another tenant's;
503 while partitions are being assigned."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import faust
from faust.web import View
from pydantic import ValidationError

from agents.rules_in_force import RulesInForce
from engine.quote import quote
from memberflow.web.auth import ServiceTokens, caller_tenant, refused
from memberflow.web.redemptions import FORWARDED_HEADER, _json_safe
from models.quotes import QuoteRequest
from tables.members import decode, state_key


def parse_cart(body: bytes) -> tuple[QuoteRequest | None, tuple[int, dict] | None]:
    try:
        return QuoteRequest.model_validate_json(body or b"null"), None
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        if errors and errors[0]["type"] in ("json_invalid", "json_type", "model_type"):
            return None, (400, {"error": "body must be a JSON object", "details": _json_safe(errors)})
        return None, (422, {"error": "invalid cart", "details": _json_safe(errors)})


def register(app: faust.App, members: faust.Table, rules: RulesInForce, tokens: ServiceTokens) -> None:
    async def answer(view: View, request: Any, member_id: str) -> Any:
        tenant_id, status = caller_tenant(tokens, request, request.query.get("tenant_id"))
        if tenant_id is None:
            return refused(view, status)
        body = await request.read()
        try:
            dest = app.router.key_store(members.name, member_id)
        except KeyError:
            return view.json({"error": "partitions are being assigned, retry"}, status=503)
        mine = app.router._urlident(dest) == app.router._urlident(app.conf.canonical_url)
        if not mine and not request.headers.get(FORWARDED_HEADER):
            url = request.url.with_host(dest.host).with_port(int(dest.port or 80))
            headers = {"Content-Type": "application/json", FORWARDED_HEADER: "1",
                       "Authorization": request.headers.get("Authorization", "")}
            async with app.http_client.post(url, data=body, headers=headers) as response:
                return view.text(await response.text(), content_type=response.content_type, status=response.status)
        cart, error = parse_cart(body)
        if error is not None:
            return view.json(error[1], status=error[0])
        raw = members.get(state_key(tenant_id, member_id))
        if raw is None:
            return view.json({"error": "unknown member", "member_id": member_id, "tenant_id": tenant_id}, status=404)
        result = quote(decode(raw), rules.book.for_tenant(tenant_id), cart, cart.at or datetime.now(UTC))
        return view.json(json.loads(result.model_dump_json()))

    class Quote(View):
        async def post(self, request: Any, member_id: str) -> Any:
            return await answer(self, request, member_id)

    app.page("/members/{member_id}/quote")(Quote)
