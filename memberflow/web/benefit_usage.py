"""HTTP for benefit usage reports: ``POST /members/{member_id}/benefit-usage``.

The same report a benefit or order system may publish to ``benefit-usage``
directly (models/benefits.py ``BenefitUsage``; ``member_id`` and
``occurred_at`` may be left out, the tenant is the service token's).  Any
worker takes it: it is validated and published keyed by the member, so the
members agent applies it in order with the member's other events.  The
report is idempotent by its ``event_id``: a retry publishes it again and
changes nothing twice.

Answers: 202 once the broker has it, with the event id -- what became of the
benefit follows on ``benefit-changes`` (or, refused, on ``dead-letters``
with the reason) and in ``GET /members/{id}/entitlements``; 401 without a
valid service token, 404 for a body naming a tenant the token does not see,
400 for a body that is not a JSON object or names another member, 422 for
one that breaks the contract, with the field path (nothing is published).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import faust
from faust.web import View
from pydantic import TypeAdapter

from agents.kafka.routing import partition_for
from config.settings import Settings
from config.topics import Topic
from memberflow.web.auth import ServiceTokens, bearer, refused
from memberflow.web.redemptions import parse_request
from models.benefits import BenefitUsage

REPORTS: TypeAdapter = TypeAdapter(BenefitUsage)


def register(app: faust.App, settings: Settings, tokens: ServiceTokens) -> None:
    class Usage(View):
        async def post(self, request: Any, member_id: str) -> Any:
            token = tokens.authenticate(bearer(request))
            if token is None:
                return refused(self, 401)
            report, error = parse_request(await request.read(), member_id, datetime.now(UTC), token, REPORTS)
            if error is not None:
                return self.json(error[1], status=error[0])
            producer = app.producer._ensure_producer()
            await producer.send_and_wait(settings.topic(Topic.BENEFIT_USAGE), key=member_id.encode(),
                                         value=report.model_dump_json().encode(),
                                         partition=partition_for(member_id, settings.partitions))
            return self.json({"event_id": report.event_id, "benefit_id": report.benefit_id,
                              "action": report.action.value, "status": "published"}, status=202)

    app.page("/members/{member_id}/benefit-usage")(Usage)
