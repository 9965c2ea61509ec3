"""Statistics for a time range, and exports of any search, ledger or statistics as CSV or XLSX."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import StreamingResponse

from memberflow.admin import export
from memberflow.admin.deps import Scope, Services, scoped, services
from memberflow.admin.routes.members import LedgerFilters, MemberFilters
from memberflow.readmodel import queries, schema
from memberflow.readmodel.statistics import statistics
from models.admin import MemberRow, Role, Statistics

router = APIRouter(prefix="/tenants/{tenant_id}", tags=["reports"])
Start = Annotated[datetime, Query(alias="from", description="start of the range, inclusive")]
End = Annotated[datetime, Query(alias="to", description="end of the range, exclusive")]
ExportFormat = Annotated[export.Format, Query(description="`csv` or `xlsx`")]
#: the longest range: its figures hold a count per day (``by_day``)
MAX_RANGE = timedelta(days=3660)
EXPORT = {200: {"content": {m: {} for m in export.MEDIA.values()}, "description": "the rows, streamed"}}


def _range(start: datetime, end: datetime) -> None:
    for name, moment in (("from", start), ("to", end)):
        if moment.tzinfo is None:
            raise HTTPException(422, [{"loc": ["query", name], "msg": "must carry an offset", "type": "value_error"}])
    if end <= start:
        raise HTTPException(422, [{"loc": ["query", "to"], "msg": "must be after from", "type": "value_error"}])
    if end - start > MAX_RANGE:
        raise HTTPException(422, [{"loc": ["query", "to"], "msg": f"at most {MAX_RANGE.days} days after from",
                                   "type": "value_error"}])


@router.get("/statistics", response_model=Statistics, summary="figures for a time range")
def get_statistics(start: Start, end: End, scope: Scope = Depends(scoped(Role.VIEWER)),
                   svc: Services = Depends(services)):
    _range(start, end)
    with svc.engine.connect() as conn:
        return statistics(conn, scope.tenant_id, start, end)


def export_response(fmt: str, name: str, header: list[str], rows: Iterator) -> StreamingResponse:
    filename = f"{name}.{fmt}"
    if fmt == "csv":
        body = export.csv_chunks(header, rows)
    else:
        body = export.file_chunks(export.xlsx_file(header, rows, name))
    return StreamingResponse(body, media_type=export.MEDIA[fmt],
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def streamed_rows(engine: sa.Engine, rows_of) -> Iterator:
    """``rows_of(conn)``'s rows, read on a connection held while the response streams."""
    with engine.connect() as conn:
        yield from rows_of(conn)


MEMBER_COLUMNS = [name for name in MemberRow.model_fields]
LEDGER_COLUMNS = [c.name for c in schema.ledger.columns]


@router.get("/exports/members", response_class=StreamingResponse, responses=EXPORT, summary="export a member search")
def export_members(filters: Annotated[MemberFilters, Depends()], format: ExportFormat = "csv",
                   scope: Scope = Depends(scoped(Role.VIEWER)), svc: Services = Depends(services)):
    search = filters.search(scope.tenant_id)
    rows = streamed_rows(svc.engine, lambda conn: ([getattr(r, c) for c in MEMBER_COLUMNS]
                                        for r in queries.iter_members(conn, search)))
    return export_response(format, f"{scope.tenant_id}-members", MEMBER_COLUMNS, rows)


@router.get("/exports/ledger", response_class=StreamingResponse, responses=EXPORT, summary="export ledger entries")
def export_ledger(filters: Annotated[LedgerFilters, Depends()],
                  member_id: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
                  format: ExportFormat = "csv", scope: Scope = Depends(scoped(Role.VIEWER)),
                  svc: Services = Depends(services)):
    search = filters.search(scope.tenant_id, member_id)
    rows = streamed_rows(svc.engine, lambda conn: ([getattr(r, c) for c in LEDGER_COLUMNS]
                                        for r in queries.iter_ledger(conn, search)))
    return export_response(format, f"{scope.tenant_id}-ledger", LEDGER_COLUMNS, rows)


def statistics_rows(figures: Statistics) -> Iterator[list]:
    """The statistics as (section, key, value) rows; members by day as ``members_per_tier_by_day``,
    ``YYYY-MM-DD:tier``; memberships per plan level and product as ``merchant/plan/level``, ``merchant/product``."""
    points = figures.points
    for name in ("earned", "spent", "expired", "deducted", "credited", "net", "outstanding_at_end", "members",
                 "average_per_member"):
        yield ["points", name, getattr(points, name)]
    for r in points.by_rule:
        yield [f"points.{r.kind}", r.rule, r.points]
    for section in ("members_per_tier", "members_per_status", "grants_by_benefit", "gifts_by_status",
                    "tier_changes"):
        for count in getattr(figures, section):
            yield [section, count.key, count.count]
    for name, value in figures.coupons.model_dump().items():
        yield ["coupons", name, value]
    for name, value in figures.risk.model_dump().items():
        yield ["risk", name, value]
    yield ["tiers", "upgrades", figures.upgrades]
    yield ["tiers", "downgrades", figures.downgrades]
    held = figures.memberships
    for a in held.active_per_plan_level:
        yield ["memberships.active", f"{a.merchant_id}/{a.plan_id}/{a.level_id}", a.members]
    for sold in held.sales_by_product:
        yield ["memberships.sales", f"{sold.merchant_id}/{sold.product_id}", sold.sales]
        yield ["memberships.revenue", f"{sold.merchant_id}/{sold.product_id}", sold.revenue]
    for name in ("joined", "renewals", "upgrades", "expired", "revoked"):
        yield ["memberships", name, getattr(held, name)]
    days = figures.by_day
    for section, counts in (("members_per_tier_by_day", days.members_per_tier),
                            ("members_per_status_by_day", days.members_per_status)):
        for count in counts:
            for day, n in zip(days.days, count.counts, strict=True):
                yield [section, f"{day.isoformat()}:{count.key}", n]


@router.get("/exports/statistics", response_class=StreamingResponse, responses=EXPORT,
            summary="export the statistics for a time range")
def export_statistics(start: Start, end: End, format: ExportFormat = "csv",
                      scope: Scope = Depends(scoped(Role.VIEWER)), svc: Services = Depends(services)):
    _range(start, end)
    with svc.engine.connect() as conn:
        figures = statistics(conn, scope.tenant_id, start, end)
    return export_response(format, f"{scope.tenant_id}-statistics", ["section", "key", "value"],
                           statistics_rows(figures))
