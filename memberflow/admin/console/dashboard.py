"""The dashboard: members per tier and status now and at each day's end; points, coupons and tier
changes over a range of days (event time), as SVG charts with their figures beside them."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import model_validator

from memberflow.admin.console import charts
from memberflow.admin.console.charts import Series
from memberflow.admin.console.forms import QueryForm, day_end, day_start, parse
from memberflow.admin.console.web import Page, tenant_page
from memberflow.readmodel.daily import daily, latest_day
from memberflow.readmodel.statistics import statistics

router = APIRouter(prefix="/console/{tenant_id}", include_in_schema=False)
DEFAULT_DAYS = 30
MAX_DAYS = 366


class RangeForm(QueryForm):
    start: date | None = None
    end: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> RangeForm:
        if self.start and self.end and not self.start <= self.end <= self.start + timedelta(days=MAX_DAYS):
            raise ValueError(f"the last day must be on or after the first, at most {MAX_DAYS} days on")
        return self


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, page: Page = Depends(tenant_page())):
    form, errors = parse(RangeForm, request)
    with page.engine.connect() as conn:
        last = form.end or latest_day(conn, page.tenant_id) or date.today()
        first = form.start or last - timedelta(days=DEFAULT_DAYS - 1)
        start, end = day_start(first), day_end(last)
        figures = statistics(conn, page.tenant_id, start, end)
        by_day = daily(conn, page.tenant_id, start, end)
    s = by_day.series
    coupons = figures.coupons
    members = figures.by_day
    per_day = {**s, **{f"tier {c.key}": c.counts for c in members.members_per_tier},
               **{f"status {c.key}": c.counts for c in members.members_per_status}}
    charts_ = {
        "tiers": charts.bars([(c.key, c.count) for c in figures.members_per_tier], "Members per tier, now", "c-tier"),
        "status": charts.bars([(c.key, c.count) for c in figures.members_per_status], "Members per status, now",
                              "c-status"),
        "tiers_by_day": charts.lines(by_day.days, [Series(c.key, c.counts) for c in members.members_per_tier],
                                     "Members per tier at each day's end", "c-tiers-by-day"),
        "status_by_day": charts.lines(by_day.days, [Series(c.key, c.counts) for c in members.members_per_status],
                                      "Members per status at each day's end", "c-status-by-day"),
        "points": charts.lines(by_day.days, [Series("earned", s["earned"]), Series("spent", s["spent"]),
                                             Series("expired", s["expired"])], "Points by day", "c-points"),
        "outstanding": charts.lines(by_day.days, [Series("outstanding", s["outstanding"])],
                                    "Points outstanding at each day's end", "c-outstanding"),
        "tiers_moves": charts.lines(by_day.days, [Series("upgrades", s["upgrades"]),
                                                  Series("downgrades", s["downgrades"])],
                                    "Upgrades and downgrades by day", "c-moves"),
        "coupons": charts.bars([("issued", coupons.issued), ("valid at end", coupons.valid_at_end),
                                ("expired by end", coupons.expired_at_end)], "Coupons in the range", "c-coupons"),
    }
    return page.render("dashboard.html", 422 if errors else 200, form=form, errors=errors, first=first, last=last,
                       figures=figures, charts=charts_, days=by_day.days, per_day=per_day)
