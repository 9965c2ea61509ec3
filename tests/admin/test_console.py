"""The console's pages through FastAPI's test client on the filled read model: sign-in and
sign-out with CSRF, tenant and role on every page, no buttons a viewer may not press, the
member search with its export, the member page, the dashboard, gifts and audit."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from memberflow.readmodel import schema
from memberflow.readmodel.daily import daily
from memberflow.readmodel.projection import Projection
from memberflow.readmodel.statistics import statistics
from tests.admin.console_client import csrf_of, fields, signed_in
from tests.admin.fixtures import TENANT, admin_app
from tests.readmodel.fixtures import rules
from tests.readmodel.test_contacts import contact, record

HOME = f"/console/{TENANT}"
PAGES = ["/members", "/dashboard", "/gifts", "/members?tier=SILVER&sort=balance&order=desc"]


@pytest.fixture(scope="module")
def app(filled, audit):
    return admin_app(filled, audit)


@pytest.fixture(scope="module")
def as_role(app, token):
    made: dict[str, TestClient] = {}

    def client(name: str) -> TestClient:
        if name not in made:
            made[name] = signed_in(app, token[name])
        return made[name]

    return client


@pytest.fixture(scope="module")
def rows(filled):
    with filled.connect() as conn:
        return {r.member_id: r for r in conn.execute(sa.select(schema.members))}


def member_ids(html: str) -> list[str]:
    return re.findall(rf'<td><a href="{HOME}/members/([^"]+)">', html)


def test_pages_need_a_signed_in_token(app):
    anonymous = TestClient(app, follow_redirects=False)
    for path in PAGES + ["/members/m0001", "/audit"]:
        answer = anonymous.get(HOME + path)
        assert answer.status_code == 303 and answer.headers["location"] == "/console/sign-in"
    assert anonymous.get("/console").headers["location"] == "/console/sign-in"


def test_a_forged_sign_in_is_403_and_a_bad_token_401(app, token):
    client = TestClient(app, follow_redirects=False)
    assert client.post("/console/sign-in", data={"token": token["admin"]}).status_code == 403
    assert client.post("/console/sign-in", data={"token": token["admin"], "csrf": "x" * 64}).status_code == 403
    form = client.get("/console/sign-in")
    bad = client.post("/console/sign-in", data={"token": "mf_nope_nope", "csrf": csrf_of(form.text)})
    assert bad.status_code == 401 and "not valid" in bad.text and "mf_console=" not in bad.headers.get("set-cookie", "")


def test_the_token_cookie_is_httponly_and_strict(app, token):
    client = TestClient(app, follow_redirects=False)
    form = client.get("/console/sign-in")
    answer = client.post("/console/sign-in", data={"token": token["viewer"], "csrf": csrf_of(form.text)})
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("mf_console="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert answer.headers["location"] == "/console"
    assert client.get("/console").headers["location"] == f"{HOME}/members"


@pytest.mark.parametrize("role", ["viewer", "operator", "approver", "admin", "platform"])
def test_every_page_shows_the_tenant_and_the_role(as_role, rows, role):
    client = as_role(role)
    member = sorted(rows)[0]
    for path in PAGES + [f"/members/{member}"]:
        page = client.get(HOME + path)
        assert page.status_code == 200, (path, page.text[:300])
        shown = "admin" if role == "platform" else role
        assert re.search(rf'data-testid="role">{shown}<', page.text), path
        assert f'data-testid="tenant">{TENANT}<' in page.text, path


def test_a_viewer_sees_no_buttons_it_may_not_press(as_role):
    viewer = as_role("viewer").get(HOME + "/members")
    parsed = fields(viewer.text)
    assert set(parsed.buttons) == {"Search", "Sign out"}
    assert not any(link.endswith("/audit") for link in parsed.links)
    assert as_role("viewer").get(HOME + "/audit").status_code == 403
    admin = fields(as_role("admin").get(HOME + "/members").text)
    assert any(link.endswith("/audit") for link in admin.links)
    audit = as_role("admin").get(HOME + "/audit")
    assert audit.status_code == 200 and 'data-testid="audit"' in audit.text


def test_a_foreign_tenants_token_gets_404(as_role, rows):
    client = as_role("foreign")
    assert client.get(HOME + "/members").status_code == 404
    assert client.get(f"{HOME}/members/{sorted(rows)[0]}").status_code == 404
    assert client.get("/console").headers["location"] == "/console/acme/members"


def test_every_form_field_has_a_label(as_role, rows):
    client = as_role("platform")
    for path in PAGES + [f"/members/{sorted(rows)[0]}", "/audit"]:
        parsed = fields(client.get(HOME + path).text)
        assert parsed.fields or path == "/audit", path
        assert all(f.get("id") in parsed.labelled for f in parsed.fields), (path, parsed.fields)
    anonymous = fields(TestClient(admin_app(client.app.state.services.engine, None)).get("/console/sign-in").text)
    assert [f["id"] for f in anonymous.fields] == ["token"] and "token" in anonymous.labelled


def test_a_forged_sign_out_is_403_and_a_real_one_signs_out(app, token):
    client = signed_in(app, token["operator"])
    page = client.get(HOME + "/members")
    assert client.post("/console/sign-out", data={"csrf": "forged"}).status_code == 403
    assert client.post("/console/sign-out").status_code == 403
    assert client.get(HOME + "/members").status_code == 200
    out = client.post("/console/sign-out", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 303 and out.headers["location"] == "/console/sign-in"
    assert client.get(HOME + "/members").status_code == 303


def test_the_search_filters_sorts_and_pages_like_the_api(as_role, rows):
    client = as_role("viewer")
    balances = sorted(r.balance for r in rows.values())
    low, high = balances[len(balances) // 4], balances[3 * len(balances) // 4]
    seen, path = [], f"{HOME}/members?points_min={low}&points_max={high}&sort=balance&order=desc"
    while path:
        page = client.get(path)
        assert page.status_code == 200
        seen += member_ids(page.text)
        more = re.search(r'<a rel="next" href="([^"]+)"', page.text)
        path = more.group(1).replace("&amp;", "&") if more else None
    want = sorted((m for m, r in rows.items() if low <= r.balance <= high), key=lambda m: (rows[m].balance, m),
                  reverse=True)
    assert seen == want and len(want) > 25  # more than a page
    first = client.get(f"{HOME}/members?id_prefix=m001&status=active")
    assert set(member_ids(first.text)) == {m for m, r in rows.items() if m.startswith("m001") and r.status == "active"}


def test_a_bad_filter_is_shown_at_its_field(as_role):
    page = as_role("viewer").get(f"{HOME}/members?points_min=lots&active_from=yesterday")
    assert page.status_code == 422
    assert 'id="e-points_min"' in page.text and 'id="e-active_from"' in page.text
    assert as_role("viewer").get(f"{HOME}/members?cursor=garbage").status_code == 422


def test_the_export_holds_the_searched_members(as_role, rows):
    client = as_role("viewer")
    spend = sorted(Decimal(str(r.spend_365d)) for r in rows.values())[len(rows) // 2]
    page = client.get(f"{HOME}/members?spend_min={spend}")
    link = re.search(r'data-testid="export-csv" href="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    answer = client.get(link)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    exported = list(csv.DictReader(io.StringIO(answer.text)))
    assert {r["member_id"] for r in exported} == {m for m, r in rows.items() if Decimal(str(r.spend_365d)) >= spend}
    xlsx = client.get(link.replace("format=csv", "format=xlsx"))
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


def test_the_member_page_shows_points_lots_tier_and_the_filtered_ledger(as_role, rows, filled):
    member = max(rows.values(), key=lambda r: r.balance)
    client = as_role("viewer")
    page = client.get(f"{HOME}/members/{member.member_id}")
    assert page.status_code == 200
    assert f'data-testid="balance">{member.balance:,}<' in page.text
    assert f'data-testid="tier">{member.tier}<' in page.text
    lots = member.page["lots"]
    assert lots and sum(lot["points"] for lot in lots) == member.balance + member.debt
    if member.page["tier_progress"]:
        assert re.search(r'data-testid="progress">[^<]+ (short of|qualifies for|is by invitation)', page.text)
    with filled.connect() as conn:
        kinds = conn.execute(sa.select(schema.ledger.c.kind, sa.func.count()).where(
            schema.ledger.c.member_id == member.member_id).group_by(schema.ledger.c.kind)).all()
    earn = client.get(f"{HOME}/members/{member.member_id}?kind=earn")
    table = earn.text.split('data-testid="ledger"')[1].split("</table>")[0]
    shown = re.findall(r"<tr><td>[^<]*</td><td>(\w+)</td>", table)
    assert shown and set(shown) == {"earn"} and len(shown) == min(25, dict(kinds)["earn"])
    assert client.get(f"{HOME}/members/nobody").status_code == 404


def test_the_dashboard_draws_its_charts(as_role):
    page = as_role("viewer").get(f"{HOME}/dashboard")
    assert page.status_code == 200
    assert page.text.count('<svg class="chart"') == 8 and "no data in this range" not in page.text
    usage = page.text.split('data-testid="benefit-usage"')[1].split("</table>")[0]
    coupons = usage.split("<tr><td>points_coupon</td>")[1].split("</tr>")[0]  # the demo uses half its coupons
    issued, used = (int(n) for n in re.findall(r'<td class="num">(\d+)</td>', coupons)[:2])
    assert 0 < used < issued and f'{used / issued * 100:.1f} %' in coupons
    bad = as_role("viewer").get(f"{HOME}/dashboard?start=2025-03-20&end=2025-03-01")
    assert bad.status_code == 422 and "on or after" in bad.text


def test_the_dashboard_draws_members_per_tier_by_day_and_the_tier_moves(as_role, filled):
    first, last = "2025-03-01", "2025-03-20"
    page = as_role("viewer").get(f"{HOME}/dashboard?start={first}&end={last}").text
    with filled.connect() as conn:
        figures = statistics(conn, TENANT, datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 21, tzinfo=UTC))
        moves = daily(conn, TENANT, datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 21, tzinfo=UTC))
    tiers = figures.by_day.members_per_tier
    assert len(tiers) >= 2 and sum(c.counts[-1] for c in tiers) > 0
    chart = page.split('aria-labelledby="c-tiers-by-day"')[1].split("</svg>")[0]
    assert [re.search(r"<title>(.*?)</title>", line).group(1) for line in chart.split("<polyline")[1:]] == [
        c.key for c in tiers]
    table = page.split("<tbody>")[-1].split("</tbody>")[0]
    header = re.findall(r'<th scope="col">(.*?)</th>', page.split("The figures by day")[1])
    last_row = re.findall(r"<td[^>]*>(.*?)</td>", table.split("<tr>")[-1])
    assert last_row[0] == last
    for c in tiers:
        assert last_row[header.index(f"tier {c.key}")] == f"{c.counts[-1]:,}"
    assert sum(moves.series["upgrades"]) > 0
    moved = page.split('aria-labelledby="c-moves"')[1].split("</svg>")[0]
    assert "<title>upgrades</title>" in moved and "<title>downgrades</title>" in moved
    assert last_row[header.index("upgrades")] == f"{moves.series['upgrades'][-1]:,}"


def test_the_gifts_page_filters_by_status(as_role, filled):
    gift = {"tenant_id": TENANT, "receiver_id": "m0002", "points": 40, "offered_at": datetime(2025, 3, 20, tzinfo=UTC),
            "respond_by": None, "closed_at": None, "detail": {}}
    statuses = {"offered": 2, "credited": 1}
    with filled.begin() as conn:
        conn.execute(sa.insert(schema.gifts), [gift | {"gift_id": f"console-{status}-{n}", "sender_id": f"gs-{n}",
                                                       "status": status}
                                               for status, count in statuses.items() for n in range(count)])
    client = as_role("viewer")
    for status, count in statuses.items():
        page = client.get(f"{HOME}/gifts?status={status}")
        table = page.text.split('data-testid="gifts"')[1].split("</table>")[0]
        assert table.count("<tr><td>") == count and table.count(">40<") == count
    assert client.get(f"{HOME}/gifts?member_id=gs-1").text.count(">gs-1</a>") == 1
    assert client.get(f"{HOME}/gifts?status=lost").status_code == 422


def test_assets_are_served_by_the_app(app):
    client = TestClient(app)
    assert client.get("/console/static/console.css").status_code == 200
    page = client.get("/console/sign-in").text
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_an_every_tenant_token_switches_between_the_tenants_the_read_model_knows(filled, audit, token, rows):
    row = dict(next(iter(rows.values()))._mapping) | {"tenant_id": "acme", "member_id": "acme-1"}
    with filled.begin() as conn:
        conn.execute(sa.insert(schema.members).values(row))
    client = signed_in(admin_app(filled, audit), token["platform"])
    page = client.get(HOME + "/members")
    assert '<option value="acme" >' in page.text and f'<option value="{TENANT}" selected>' in page.text
    assert client.get("/console", params={"tenant": "acme"}).headers["location"] == "/console/acme/members"
    assert member_ids(client.get("/console/acme/members").text.replace("/console/acme/", f"{HOME}/")) == ["acme-1"]
    one_tenant = signed_in(admin_app(filled, audit), token["admin"]).get(HOME + "/members").text
    assert 'id="tenant-switch"' not in one_tenant
    assert signed_in(admin_app(filled, audit), token["admin"]).get("/console/acme/members").status_code == 404


def test_console_pages_forbid_other_origins_and_framing(app):
    answer = TestClient(app).get("/console/sign-in")
    policy = answer.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "content-security-policy" not in TestClient(app).get("/healthz").headers


def test_the_member_page_lists_gifts_sent_and_received_that_are_open(as_role, filled, rows):
    base = dict(rows[sorted(rows)[0]]._mapping)
    received = {"gift_id": "g-in", "from_member_id": "m0009", "points": 70, "status": "offered",
                "offered_at": "2025-03-20T00:00:00+00:00", "respond_by": "2025-03-27T00:00:00+00:00",
                "closed_at": None}
    page = base["page"] | {"redemptions": {"points_held_for_gifts": 0, "gifts_sent": [], "coupons": [],
                                           "gifts_received": [received, received | {"gift_id": "g-old",
                                                                                    "status": "credited"}]}}
    with filled.begin() as conn:
        conn.execute(sa.insert(schema.members).values(base | {"member_id": "gift-taker", "page": page}))
        conn.execute(sa.insert(schema.gifts).values(
            tenant_id=TENANT, gift_id="g-out", sender_id="gift-taker", receiver_id="m0003", points=55,
            status="offered", offered_at=datetime(2025, 3, 21, tzinfo=UTC), respond_by=None, closed_at=None,
            detail={}))
    html = as_role("viewer").get(f"{HOME}/members/gift-taker").text
    gifts = html.split('data-testid="open-gifts">')[1].split("</ul>")[0]
    assert "55 points to" in gifts and "70 points from" in gifts and gifts.count("<li>") == 2
    lonely = as_role("viewer").get(f"{HOME}/members/{sorted(rows)[1]}").text
    assert "<li>None.</li>" in lonely.split('data-testid="open-gifts">')[1].split("</ul>")[0]


def test_the_member_s_filtered_ledger_exports_every_entry(as_role, filled, rows):
    member = max(rows.values(), key=lambda r: r.balance).member_id
    client = as_role("viewer")
    page = client.get(f"{HOME}/members/{member}?kind=earn")
    link = re.search(r'data-testid="ledger-csv" href="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    exported = list(csv.DictReader(io.StringIO(client.get(link).text)))
    c = schema.ledger.c
    with filled.connect() as conn:
        want = set(conn.execute(sa.select(c.entry_id).where(c.member_id == member, c.kind == "earn")).scalars())
    assert {r["entry_id"] for r in exported} == want and len(want) > 25  # every entry, not one page
    assert client.get(link.replace("format=csv", "format=xlsx")).content[:2] == b"PK"
    assert client.get(f"{HOME}/members/nobody/ledger-export").status_code == 404


def test_the_search_finds_members_by_name_phone_and_email(as_role, filled):
    with filled.connect() as conn:
        ids = sorted(conn.scalars(sa.select(schema.members.c.member_id)))[-2:]
    with filled.begin() as conn:
        Projection(rules()).apply(conn, [record(contact(m, 1, name=n, phone=p, email=e)) for m, n, p, e in zip(
            ids, ["Wang Fang", "Li Fangfang"], ["+8613800000001", "+8613800000002"],
            ["wang@example.com", "li@example.com"], strict=True)])
    client = as_role("viewer")
    page = client.get(f"{HOME}/members?name=wang")
    assert member_ids(page.text) == ids[:1] and "Wang Fang" in page.text
    assert member_ids(client.get(f"{HOME}/members?name=FANG&name_match=contains").text) == ids
    assert member_ids(client.get(f"{HOME}/members?phone=%2B86 138-0000-0002").text) == ids[1:]
    assert member_ids(client.get(f"{HOME}/members?email=LI%40example.com").text) == ids[1:]
    bad = client.get(f"{HOME}/members?email=nobody")
    assert bad.status_code == 422 and 'id="e-email"' in bad.text
