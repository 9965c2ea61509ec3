"""Import (admin): a CSV or JSONL file of members, sent as import commands; audited.

A retry with the same request id and body gets the first answer (nothing is
sent again); the same request id with another body is 409 (memberflow/admin/imports.py).
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends

from memberflow.admin.deps import Scope, Services, scoped, services
from memberflow.admin.imports import import_file
from models.admin import ImportReport, ImportRequest, Role

router = APIRouter(prefix="/tenants/{tenant_id}", tags=["import"])


@router.post("/imports", response_model=ImportReport, summary="import members from a CSV or JSONL file (admin)",
             responses={409: {"description": "the request id was used for another body"}})
def import_members(body: ImportRequest, scope: Scope = Depends(scoped(Role.ADMIN)),
                   svc: Services = Depends(services)):
    return import_file(svc, scope, body, datetime.now(UTC))
