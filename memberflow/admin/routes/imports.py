"""Import (admin): a CSV or JSONL file of members, sent as import commands; audited.

A retry with the same request id and body gets the first answer (nothing is
sent again); the same request id with another body is 409.
"""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, HTTPException

from memberflow.admin.deps import Scope, Services, scoped, services
from memberflow.admin.imports import run_import
from models.admin import AuditOutcome, ImportReport, ImportRequest, Role

router = APIRouter(prefix="/tenants/{tenant_id}", tags=["import"])
ACTION = "member.import"


@router.post("/imports", response_model=ImportReport, summary="import members from a CSV or JSONL file (admin)",
             responses={409: {"description": "the request id was used for another body"}})
def import_members(body: ImportRequest, scope: Scope = Depends(scoped(Role.ADMIN)),
                   svc: Services = Depends(services)):
    digest = hashlib.sha256(body.model_dump_json(exclude={"request_id"}).encode()).hexdigest()
    earlier = svc.audit.find(scope.who, ACTION, body.request_id)
    if earlier is not None:
        if earlier.detail.get("body") != digest or earlier.tenant_id != scope.tenant_id:
            raise HTTPException(409, f"request id {body.request_id!r} was used already for another import")
        return ImportReport.model_validate(earlier.detail["report"])
    text = io.StringIO(body.content.removeprefix("\ufeff"), newline=None)  # a spreadsheet's byte order mark
    report = run_import(text, body.format, scope.tenant_id, datetime.now(UTC),
                        svc.commands)
    svc.audit.record(scope.who, scope.tenant_id, ACTION, None, body.reason, body.request_id, AuditOutcome.DONE,
                     {"body": digest, "report": report.model_dump(mode="json")})
    return report
