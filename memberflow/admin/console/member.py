"""A member's page: points and lots, tier and progress, badges, coupons and grants, open gifts,
memberships of merchants' plans, live experiments (arm and figures), status with its reason, the
ledger (newest first, filtered by kind, rule and dates, paged), the operators' commands about the
member with where each is, and -- for an operator -- the writing forms
(memberflow/admin/console/writing.py, posted to memberflow/admin/console/adjust.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import Field

from memberflow.admin.console.forms import QueryForm, day_end, day_start, parse
from memberflow.admin.console.session import ConsoleError
from memberflow.admin.console.web import Page, money, tenant_page
from memberflow.admin.console.writing import ACCOUNT_ACTIONS, RISK_DECISIONS, FormState, forms_for
from memberflow.admin.routes.reports import LEDGER_COLUMNS, export_response, streamed_rows
from memberflow.readmodel import commands as operator_views
from memberflow.readmodel import queries
from memberflow.readmodel.experiments import member_experiments
from models.outputs import LedgerKind

router = APIRouter(prefix="/console/{tenant_id}", include_in_schema=False)
LEDGER_ROWS = 25


class LedgerForm(QueryForm):
    kind: LedgerKind | None = None
    rule: str | None = Field(default=None, max_length=96)
    start: date | None = Field(default=None, alias="from")
    end: date | None = Field(default=None, alias="to")
    cursor: str | None = Field(default=None, max_length=512)

    def search(self, tenant_id: str, member_id: str) -> queries.LedgerSearch:
        return queries.LedgerSearch(tenant_id, member_id, self.kind.value if self.kind else None, self.rule,
                                    day_start(self.start), day_end(self.end))

    def query(self, **override: Any) -> dict[str, str]:
        return {("from" if k == "start" else "to" if k == "end" else k): v
                for k, v in super().query(**override).items()}


def progress_text(progress: dict[str, Any] | None, currency: str) -> str | None:
    """How far the member is from the next tier, e.g. ``¥20 short of GOLD``."""
    if not progress:
        return None
    closest = progress.get("closest")
    tier = progress["next_tier"]
    if closest is None:
        return f"{tier} is by invitation"
    short = Decimal(closest["short"])
    if short <= 0:
        return f"qualifies for {tier} ({closest['metric']})"
    amount = money(short, currency) if closest["money"] else f"{short.normalize():f} {closest['metric']}"
    return f"{amount} short of {tier}"


def progress_share(progress: dict[str, Any] | None) -> float | None:
    """The closest way's value as a share of its threshold, 0 to 1."""
    closest = (progress or {}).get("closest")
    if not closest or Decimal(closest["threshold"]) <= 0:
        return None
    return float(min(Decimal(closest["value"]) / Decimal(closest["threshold"]), Decimal(1)))


@router.get("/members/{member_id}", response_class=HTMLResponse)
def member(member_id: str, request: Request, page: Page = Depends(tenant_page())):
    return show(page, member_id)


def show(page: Page, member_id: str, status: int = 200, failed: tuple[str, FormState] | None = None
         ) -> HTMLResponse:
    """The member's page (with ``failed``: that form's values and errors, answered with ``status``)."""
    form, errors = parse(LedgerForm, page.request)
    with page.engine.connect() as conn:
        row = queries.member(conn, page.tenant_id, member_id)
        if row is None:
            raise ConsoleError(404, f"no member {member_id!r} in {page.tenant_id}")
        ledger, cursor = [], None
        if not errors:
            try:
                ledger, cursor = queries.search_ledger(conn, form.search(page.tenant_id, member_id), form.cursor,
                                                       LEDGER_ROWS)
            except queries.BadCursor as exc:
                raise ConsoleError(422, str(exc)) from None
        grants = queries.member_grants(conn, page.tenant_id, member_id)
        gifts = queries.open_gifts(conn, page.tenant_id, member_id)
        memberships = queries.member_memberships(conn, page.tenant_id, member_id)
        commands = operator_views.member_commands(conn, page.tenant_id, member_id)
        changes = operator_views.account_changes(conn, page.tenant_id, member_id)
        experiments = member_experiments(conn, page.tenant_id, member_id)
    summary = row.page
    currency = summary.get("currency", "CNY")
    progress = summary.get("tier_progress")
    return page.render("member.html", 422 if errors else status, m=row, s=summary, currency=currency,
                       progress=progress_text(progress, currency), share=progress_share(progress),
                       ledger=ledger, next_cursor=cursor, form=form, errors=errors, kinds=list(LedgerKind),
                       grants=grants, gifts=gifts, memberships=memberships, commands=commands, changes=changes,
                       experiments=experiments,
                       sent=page.request.query_params.get("sent"), forms=forms_for(failed),
                       account_actions=[(a, a) for a in ACCOUNT_ACTIONS],
                       risk_decisions=[(d, d) for d in RISK_DECISIONS],
                       risk_flags=[(f["flag_id"], f"{f['rule']} ({f['action']}) {f.get('order_id') or ''}".strip())
                                   for f in summary.get("risk", {}).get("open_flags", [])])


@router.get("/members/{member_id}/ledger-export")
def export_ledger(member_id: str, request: Request, format: Literal["csv", "xlsx"] = "csv",
                  page: Page = Depends(tenant_page())) -> StreamingResponse:
    """The member's ledger as filtered on the page, every entry of it."""
    form, errors = parse(LedgerForm, request)
    if errors:
        raise ConsoleError(422, "; ".join(f"{k}: {v}" for k, v in errors.items()))
    with page.engine.connect() as conn:
        if queries.member(conn, page.tenant_id, member_id) is None:
            raise ConsoleError(404, f"no member {member_id!r} in {page.tenant_id}")
    search = form.search(page.tenant_id, member_id)
    rows = streamed_rows(page.engine, lambda conn: ([getattr(r, c) for c in LEDGER_COLUMNS]
                                                    for r in queries.iter_ledger(conn, search)))
    return export_response(format, f"{page.tenant_id}-{member_id}-ledger", LEDGER_COLUMNS, rows)
