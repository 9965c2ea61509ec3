"""Tenant rules at runtime through the admin service (no broker: the publisher keeps what it is given):
the rules in force with their version, candidates validated with the field's path, versions published,
listed, diffed and rolled back, every write audited; the expiry-warning campaign's preview."""

from __future__ import annotations

import itertools

import pytest

from tests.admin.fixtures import TENANT, auth

RULES = f"/tenants/{TENANT}/rules"
_ids = itertools.count()


def admin(token) -> dict[str, str]:
    return auth(token["admin"])


def in_force(client, token) -> dict:
    answer = client.get(RULES, headers=auth(token["viewer"]))
    assert answer.status_code == 200
    return answer.json()


def with_base(document: dict, points_per_unit: int) -> dict:
    changed = {**document, "points": {**document["points"]}}
    changed["points"]["earning"] = {**document["points"]["earning"],
                                    "base": {**document["points"]["earning"]["base"],
                                             "points_per_unit": points_per_unit}}
    return changed


def publish(client, token, rules: dict, request_id: str | None = None):
    return client.post(f"{RULES}/versions", headers=admin(token),
                       json={"rules": rules, "reason": "test", "request_id": request_id or f"p{next(_ids)}"})


def test_before_any_version_the_rules_directory_s_rules_are_in_force(client, token):
    shown = in_force(client, token)
    if shown["version"] is None:
        assert shown["rules_version"].startswith("file:") and shown["published_by"] is None
    assert shown["rules"]["tenant_id"] == TENANT and shown["rules"]["tiers"]["tiers"][0]["id"] == "NORMAL"
    other = client.get("/tenants/acme/rules", headers=auth(token["platform"])).json()
    assert other["rules"]["tenant_id"] == "acme" and other["version"] is None  # the default rules, for acme


@pytest.mark.parametrize(("candidate", "path", "why"), [
    ({"tiers": {"downgrade_warning_days": -1}}, "tiers.downgrade_warning_days", "greater than or equal to 0"),
    ({"points": {"earning": {"tier_threshold_bonus": {"tiers": {"PLATINUM": {"every": 100, "points": 10}}}}}},
     "points.earning.tier_threshold_bonus.tiers", "unknown tier(s) ['PLATINUM']"),
    ({"points": {"earning": {"threshold_bonus": {"brackets": [{"amount": 200, "op": ">=", "points": 10},
                                                              {"amount": 200, "op": ">=", "points": 20}]}}}},
     "points.earning.threshold_bonus.brackets", "two brackets for >= 200"),
    ({"points": {"expiry": {"warning": {"template": "{points} by {when}"}}}},
     "points.expiry.warning.template", "unknown placeholder(s) {when}"),
    ({"tenant_id": "acme"}, "tenant_id", "is not this tenant"),
    ({"currencyy": "CNY"}, "currencyy", "Extra inputs are not permitted"),
])
def test_an_invalid_candidate_is_422_with_the_field_s_path(client, token, candidate, path, why):
    published = len(client.get(f"{RULES}/versions", headers=admin(token)).json())
    for answer in (client.post(f"{RULES}/validate", json={"rules": candidate}, headers=auth(token["viewer"])),
                   publish(client, token, candidate)):
        assert answer.status_code == 422
        (error,) = answer.json()["detail"]
        assert error["path"] == path and why in error["msg"]
        assert error["loc"] == ["body", "rules", *path.split(".")]
    assert len(client.get(f"{RULES}/versions", headers=admin(token)).json()) == published  # nothing published


def test_a_valid_candidate_is_shown_complete_and_nothing_is_published(client, token, rules_published):
    before = len(rules_published.versions)
    answer = client.post(f"{RULES}/validate", json={"rules": {"points": {"pending_days": 3}}},
                         headers=auth(token["viewer"]))
    assert answer.status_code == 200
    body = answer.json()
    assert body["valid"] is True and body["rules"]["points"]["pending_days"] == 3
    assert body["rules"]["tiers"]["tiers"]  # merged over the default rules
    assert len(rules_published.versions) == before


def test_publish_list_diff_and_roll_back(client, token, rules_published, audit):
    document = in_force(client, token)["rules"]
    first = publish(client, token, with_base(document, 2))
    assert first.status_code == 201
    v1 = first.json()["version"]
    second = publish(client, token, with_base(document, 3), request_id="second")
    v2 = second.json()["version"]
    assert v2 == v1 + 1
    recorded, sent = len(audit.records), len(rules_published.versions)
    assert publish(client, token, with_base(document, 3), request_id="second").json()["version"] == v2  # a retry
    assert publish(client, token, with_base(document, 9), request_id="second").status_code == 409  # other rules
    assert (len(audit.records), len(rules_published.versions)) == (recorded, sent)  # is neither audited nor sent again
    assert [v.version for v in rules_published.versions][-2:] == [v1, v2]
    assert rules_published.versions[-1].rules.points.earning.base.points_per_unit == 3

    shown = in_force(client, token)
    assert (shown["version"], shown["rules_version"]) == (v2, f"v{v2}")
    assert shown["published_by"].endswith(":t-admin")
    assert shown["rules"]["points"]["earning"]["base"]["points_per_unit"] == "3"
    listed = client.get(f"{RULES}/versions", headers=auth(token["viewer"])).json()
    assert [v["version"] for v in listed][:2] == [v2, v1] and "rules" not in listed[0]

    diff = client.get(f"{RULES}/diff", params={"from": v1, "to": v2}, headers=auth(token["viewer"])).json()
    assert diff["changes"] == [{"path": "points.earning.base.points_per_unit", "change": "changed",
                                "before": "2", "after": "3"}]
    assert "-      points_per_unit: '2'\n+      points_per_unit: '3'\n" in diff["text"]

    rolled = client.post(f"{RULES}/rollback", headers=admin(token),
                         json={"version": v1, "reason": "too generous", "request_id": "undo"})
    assert rolled.status_code == 201 and rolled.json()["version"] == v2 + 1
    assert in_force(client, token)["rules"]["points"]["earning"]["base"]["points_per_unit"] == "2"
    back = client.get(f"{RULES}/diff", params={"from": v1, "to": v2 + 1}, headers=auth(token["viewer"])).json()
    assert back["changes"] == [] and back["text"] == ""

    actions = [(r.action, r.target, r.detail) for r in audit.records if r.action.startswith("rules.")]
    assert ("rules.publish", f"rules/v{v2}", {"version": v2}) in actions
    assert ("rules.rollback", f"rules/v{v2 + 1}", {"restores": v1, "version": v2 + 1}) in actions


def test_unknown_versions_are_404(client, token):
    assert client.get(f"{RULES}/versions/9999", headers=admin(token)).status_code == 404
    assert client.get(f"{RULES}/diff", params={"from": 1, "to": 9999}, headers=admin(token)).status_code == 404
    assert client.post(f"{RULES}/rollback", headers=admin(token),
                       json={"version": 9999, "reason": "x", "request_id": "r404"}).status_code == 404
    assert client.post(f"{RULES}/rollback", headers=admin(token),
                       json={"version": 1, "reason": " ", "request_id": "blank"}).status_code == 422


def test_the_expiry_warning_preview_lists_members_by_expiry_date_with_the_campaign_s_text(client, token):
    document = in_force(client, token)["rules"]
    document["points"]["expiry"].update(warn_lead_days=40, warning={
        "channel": "sms", "template": "{member_id}: {points} points expire on {expires_on}"})
    assert publish(client, token, document).status_code == 201
    url = f"/tenants/{TENANT}/campaigns/expiry-warnings/preview"
    as_of = "2026-11-30T00:00:00+08:00"  # the stream's points expire at the end of next year: 2027-01-01
    items, cursor = [], None
    while True:
        page = client.get(url, params={"as_of": as_of, "limit": 7, **({"cursor": cursor} if cursor else {})},
                          headers=auth(token["viewer"])).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert items, "members with points expiring within 40 days"
    keys = [(i["expires_at"], i["member_id"]) for i in items]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    first = items[0]
    assert first["channel"] == "sms" and first["points"] > 0
    assert first["text"] == f"{first['member_id']}: {first['points']} points expire on 2027-01-01"
    nothing = client.get(url, params={"as_of": "2026-11-01T00:00:00+08:00"}, headers=auth(token["viewer"]))
    assert nothing.json()["items"] == []  # 61 days ahead: beyond the lead time
    assert client.get(url, params={"as_of": "2026-11-01T00:00:00"}, headers=auth(token["viewer"])).status_code == 422
