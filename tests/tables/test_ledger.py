"""The ledger table's read side: a member's history rows paged newest first, by kind."""

from __future__ import annotations

import json

from tables import ledger
from tests.tables.fixtures import FakeTable

AT = "2026-03-01T10:00:00+08:00"


def rows(table: FakeTable, member: str, kinds: list[str], tenant: str = "default") -> None:
    """A member's rows 0..n-1 as the members agent writes them (entry JSON by sequence) and its head."""
    for seq, kind in enumerate(kinds):
        entry = {"entry_id": f"le-{member}-{seq}", "kind": kind, "tenant_id": tenant, "member_id": member,
                 "occurred_at": AT}
        table[ledger.row_key(tenant, member, seq)] = json.dumps(entry).encode()
    table[ledger.head_key(tenant, member)] = str(len(kinds)).encode()


def page(table, member: str = "m1", tenant: str = "default", **kw):
    return ledger.read_page(table, 0, tenant, member, **kw)


def test_paging_newest_first_with_a_cursor():
    table = FakeTable()
    rows(table, "m1", ["earn"] * 4)
    first, cursor = page(table, limit=2)
    assert [e["seq"] for e in first] == [3, 2] and cursor == 2
    assert first[0]["entry_id"] == "le-m1-3"  # the row's JSON, with its sequence number
    second, cursor = page(table, limit=2, before=cursor)
    assert [e["seq"] for e in second] == [1, 0] and cursor is None
    assert page(table, limit=2, before=0) == ([], None)
    assert page(table, limit=50) == (page(table, limit=2)[0] + second, None)


def test_kind_filter():
    table = FakeTable()
    rows(table, "m1", ["earn", "spend", "earn", "adjustment"])
    earn, _ = page(table, kind="earn")
    assert [e["seq"] for e in earn] == [2, 0]
    assert [e["seq"] for e in page(table, kind="spend")[0]] == [1]
    assert page(table, kind="expiry") == ([], None)


def test_members_with_a_common_prefix_or_another_tenant_do_not_mix():
    table = FakeTable()
    rows(table, "m1", ["earn"])
    rows(table, "m10", ["earn", "earn"])
    rows(table, "m1", ["spend"] * 3, tenant="other")
    assert [e["entry_id"] for e in page(table)[0]] == ["le-m1-0"]
    assert len(page(table, "m10")[0]) == 2
    assert [e["kind"] for e in page(table, tenant="other")[0]] == ["spend"] * 3
    assert page(table, "m2") == ([], None)
