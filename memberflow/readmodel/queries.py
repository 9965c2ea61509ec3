"""The read model's queries: searches with filters, sorted, paged by keyset cursors.

A cursor is the sort key of the last row of a page (the sort column's value
and the row's id), encoded opaque; the next page starts after it, so paging
stays fast and stable however deep it goes.  Every query is scoped to one
tenant.  ``iter_*`` variants stream every matching row (exports).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from memberflow.readmodel import schema
from memberflow.readmodel.projection import fold, utc
from models.fields import email_address, phone_number


class BadCursor(ValueError):
    """A cursor this query did not hand out."""


def encode_cursor(values: list[Any]) -> str:
    text = json.dumps([v.isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, Decimal) else v
                       for v in values])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError):
        raise BadCursor("not a cursor this endpoint handed out") from None
    if not isinstance(values, list) or len(values) != 2:
        raise BadCursor("not a cursor this endpoint handed out")
    return values


@dataclass(frozen=True)
class Sorted:
    """A keyset order: ``column`` then ``tie`` (unique within the tenant), ascending or descending."""

    column: sa.ColumnElement
    tie: sa.Column
    descending: bool
    decode: Any = field(default=lambda v: v)

    def order(self) -> list[sa.ColumnElement]:
        return [self.column.desc(), self.tie.desc()] if self.descending else [self.column.asc(), self.tie.asc()]

    def after(self, cursor: str | None) -> sa.ColumnElement | None:
        if cursor is None:
            return None
        raw, tie = decode_cursor(cursor)
        try:
            value = self.decode(raw)
        except (TypeError, ValueError, ArithmeticError):
            raise BadCursor("not a cursor this endpoint handed out") from None
        if self.descending:
            return sa.or_(self.column < value, sa.and_(self.column == value, self.tie < tie))
        return sa.or_(self.column > value, sa.and_(self.column == value, self.tie > tie))


def when(value: str) -> datetime:
    return utc(datetime.fromisoformat(value))


def _nonnull_time(column: sa.Column) -> sa.ColumnElement:
    return sa.func.coalesce(column, utc(datetime(1970, 1, 1)))


@dataclass(frozen=True)
class MemberSearch:
    tenant_id: str
    id_prefix: str | None = None
    tier: str | None = None
    status: str | None = None
    points_min: int | None = None
    points_max: int | None = None
    spend_min: Decimal | None = None
    spend_max: Decimal | None = None
    active_from: datetime | None = None
    active_to: datetime | None = None
    name: str | None = None
    name_match: str = "prefix"
    phone: str | None = None
    email: str | None = None
    sort: str = "member_id"
    descending: bool = False

    def where(self) -> list[sa.ColumnElement]:
        m, k = schema.members.c, schema.member_contacts.c
        clauses: list[sa.ColumnElement] = [m.tenant_id == self.tenant_id]
        if self.id_prefix:
            clauses.append(m.member_id.like(f"{_escaped(self.id_prefix)}%", escape="\\"))
        if self.name:
            pattern = _escaped(fold(self.name.strip()))
            clauses.append(k.name_folded.like(f"{pattern}%" if self.name_match == "prefix" else f"%{pattern}%",
                                              escape="\\"))
        if self.phone:
            clauses.append(k.phone == phone_number(self.phone))
        if self.email:
            clauses.append(k.email == email_address(self.email))
        for column, value in ((m.tier, self.tier), (m.status, self.status)):
            if value is not None:
                clauses.append(column == value)
        for column, low, high in ((m.balance, self.points_min, self.points_max),
                                  (m.spend_365d, self.spend_min, self.spend_max),
                                  (m.last_event_at, utc(self.active_from), utc(self.active_to))):
            if low is not None:
                clauses.append(column >= low)
            if high is not None:
                clauses.append(column <= high)
        return clauses

    def order(self) -> Sorted:
        m = schema.members.c
        if self.sort == "member_id":
            return Sorted(m.member_id, m.member_id, self.descending)
        column = m[self.sort]
        if self.sort in ("last_event_at", "joined_at"):
            return Sorted(column, m.member_id, self.descending, when)
        if self.sort in ("spend_30d", "spend_365d"):
            return Sorted(column, m.member_id, self.descending, Decimal)
        return Sorted(column, m.member_id, self.descending, int)


def _escaped(text: str) -> str:
    """``text`` as a LIKE pattern matching it literally (with ``\\`` as the escape)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


#: a member row joined with its contact details (none: nulls)
MEMBERS_WITH_CONTACTS = schema.members.outerjoin(schema.member_contacts, sa.and_(
    schema.member_contacts.c.tenant_id == schema.members.c.tenant_id,
    schema.member_contacts.c.member_id == schema.members.c.member_id))
CONTACT_COLUMNS = (schema.member_contacts.c.name, schema.member_contacts.c.phone, schema.member_contacts.c.email)


def page(conn: sa.Connection, query: sa.Select, order: Sorted, cursor: str | None, limit: int,
          tie_label: str) -> tuple[list[sa.Row], str | None]:
    """One page of ``query`` in ``order`` after ``cursor``, and the cursor of the next (None: the last)."""
    after = order.after(cursor)
    if after is not None:
        query = query.where(after)
    rows = conn.execute(query.add_columns(order.column.label("_sort")).order_by(*order.order())
                        .limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor([rows[-1]._sort, getattr(rows[-1], tie_label)]) if more and rows else None)


def search_members(conn: sa.Connection, search: MemberSearch, cursor: str | None, limit: int
                   ) -> tuple[list[sa.Row], str | None]:
    query = (sa.select(*[c for c in schema.members.c if c.name != "page"], *CONTACT_COLUMNS)
             .select_from(MEMBERS_WITH_CONTACTS).where(*search.where()))
    return page(conn, query, search.order(), cursor, limit, "member_id")


def iter_members(conn: sa.Connection, search: MemberSearch, chunk: int = 1000) -> Iterator[sa.Row]:
    cursor: str | None = ""
    while cursor is not None:
        rows, cursor = search_members(conn, search, cursor or None, chunk)
        yield from rows


def member(conn: sa.Connection, tenant_id: str, member_id: str) -> sa.Row | None:
    m = schema.members.c
    return conn.execute(sa.select(schema.members, *CONTACT_COLUMNS).select_from(MEMBERS_WITH_CONTACTS)
                        .where(m.tenant_id == tenant_id, m.member_id == member_id)).first()


@dataclass(frozen=True)
class LedgerSearch:
    tenant_id: str
    member_id: str | None = None
    kind: str | None = None
    rule: str | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None

    def where(self) -> list[sa.ColumnElement]:
        c = schema.ledger.c
        clauses: list[sa.ColumnElement] = [c.tenant_id == self.tenant_id]
        for column, value in ((c.member_id, self.member_id), (c.kind, self.kind), (c.rule, self.rule)):
            if value is not None:
                clauses.append(column == value)
        if self.occurred_from is not None:
            clauses.append(c.occurred_at >= utc(self.occurred_from))
        if self.occurred_to is not None:
            clauses.append(c.occurred_at < utc(self.occurred_to))
        return clauses


LEDGER_ORDER = Sorted(schema.ledger.c.occurred_at, schema.ledger.c.entry_id, True, when)


def search_ledger(conn: sa.Connection, search: LedgerSearch, cursor: str | None, limit: int
                  ) -> tuple[list[sa.Row], str | None]:
    query = sa.select(schema.ledger).where(*search.where())
    return page(conn, query, LEDGER_ORDER, cursor, limit, "entry_id")


def iter_ledger(conn: sa.Connection, search: LedgerSearch, chunk: int = 1000) -> Iterator[sa.Row]:
    cursor: str | None = ""
    while cursor is not None:
        rows, cursor = search_ledger(conn, search, cursor or None, chunk)
        yield from rows


def search_gifts(conn: sa.Connection, tenant_id: str, status: str | None, member_id: str | None,
                 cursor: str | None, limit: int) -> tuple[list[sa.Row], str | None]:
    g = schema.gifts.c
    query = sa.select(schema.gifts).where(g.tenant_id == tenant_id)
    if status is not None:
        query = query.where(g.status == status)
    if member_id is not None:
        query = query.where(sa.or_(g.sender_id == member_id, g.receiver_id == member_id))
    order = Sorted(_nonnull_time(g.offered_at), g.gift_id, True, when)
    return page(conn, query, order, cursor, limit, "gift_id")


def search_redemptions(conn: sa.Connection, tenant_id: str, member_id: str | None, kind: str | None,
                       status: str | None, cursor: str | None, limit: int) -> tuple[list[sa.Row], str | None]:
    r = schema.redemptions.c
    query = sa.select(schema.redemptions).where(r.tenant_id == tenant_id)
    for column, value in ((r.member_id, member_id), (r.kind, kind), (r.status, status)):
        if value is not None:
            query = query.where(column == value)
    order = Sorted(r.occurred_at, r.result_id, True, when)
    return page(conn, query, order, cursor, limit, "result_id")


def member_grants(conn: sa.Connection, tenant_id: str, member_id: str, limit: int = 50) -> list[sa.Row]:
    g = schema.grants.c
    return conn.execute(sa.select(schema.grants).where(g.tenant_id == tenant_id, g.member_id == member_id)
                        .order_by(g.occurred_at.desc(), g.grant_id.desc()).limit(limit)).all()


def member_memberships(conn: sa.Connection, tenant_id: str, member_id: str) -> list[sa.Row]:
    """The member's memberships of merchants' plans, by merchant and plan."""
    m = schema.memberships.c
    return conn.execute(sa.select(schema.memberships).where(m.tenant_id == tenant_id, m.member_id == member_id)
                        .order_by(m.merchant_id, m.plan_id)).all()


def open_gifts(conn: sa.Connection, tenant_id: str, member_id: str) -> list[sa.Row]:
    g = schema.gifts.c
    return conn.execute(sa.select(schema.gifts).where(g.tenant_id == tenant_id, g.sender_id == member_id,
                                                      g.status.in_(("offered", "accepted")))
                        .order_by(g.offered_at.desc())).all()
