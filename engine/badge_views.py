"""Read-only views of a member's badges for the lookup API (seed 000's badge
page: the badge list with aggregated rights, and a badge's detail).  Each badge
says the month its rights were last issued for (``rights_issued_for``): they are
renewed by the first evaluation of every month the level holds."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from config.business_lines import (
    BusinessLine,
    Check,
    FieldType,
    Node,
    Op,
    Right,
    Value,
    canonical,
    holds,
    parse_value,
)
from config.rules import TenantRules
from engine.badges import qualified_level, rights_period
from engine.published_lines import lines_for
from models.badges import BadgeState
from models.state import MemberState


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def _right(right: Right) -> dict[str, Any]:
    return {
        "benefit": right.benefit,
        "description": right.description,
        "value": str(right.value) if right.value is not None else None,
        "quantity": right.quantity,
        "valid_days": right.valid_days,
    }


def badges_summary(state: MemberState, rules: TenantRules) -> dict[str, Any]:
    """The member's badges (level >= 1) with their rights, and the rights of
    all of them aggregated by benefit (each with the badges it comes from)."""
    lines = lines_for(rules, state.tenant_id)
    badges, rights = [], {}
    for line_id, badge in sorted(state.badges.items()):
        line = lines.get(line_id)
        level = line.level(badge.level) if line is not None else None
        if badge.level < 1:
            continue
        level_rights = [_right(r) for r in level.rights] if level is not None else []
        badges.append({
            "line_id": line_id,
            "line_name": line.name if line is not None else None,
            "level": badge.level,
            "level_name": level.name if level is not None else None,
            "since": _iso(badge.since),
            "rule_version": badge.rule_version,
            "rights": level_rights,
            "rights_issued_for": rights_period(state, line_id),  # the month the rights were last issued for
        })
        for right in level_rights:
            entry = rights.setdefault(right["benefit"], {"benefit": right["benefit"], "sources": []})
            entry["sources"].append({"line_id": line_id, "level": badge.level, **right})
    return {"badges": badges, "badge_rights": [rights[k] for k in sorted(rights)]}


def _gap(check: Check, value: Value | None, met: bool) -> str | None:
    """How far the value is from the threshold, for ordered numeric conditions."""
    if value is None or check.kind not in (FieldType.DECIMAL, FieldType.INT) or check.op not in (
        Op.GE, Op.GT, Op.LE, Op.LT, Op.EQ
    ):
        return None
    if met:
        return "0"
    threshold = Decimal(check.threshold)  # type: ignore[arg-type]
    current = Decimal(value)  # type: ignore[arg-type]
    gap = current - threshold if check.op in (Op.LE, Op.LT) else threshold - current
    return str(abs(gap) if check.op is Op.EQ else gap)


def explain(node: Node, values: Mapping[str, Value]) -> dict[str, Any]:
    """A rule tree with, per condition: field, operator, threshold, current value, met, gap."""
    if isinstance(node, Check):
        value = values.get(node.field)
        met = value is not None and holds(node.op, value, node.threshold)
        threshold = ([canonical(node.kind, v) for v in node.threshold] if isinstance(node.threshold, tuple)
                     else canonical(node.kind, node.threshold))
        return {
            "field": node.field,
            "op": node.op.value,
            "threshold": threshold,
            "current": canonical(node.kind, value) if value is not None else None,
            "met": met,
            "gap": _gap(node, value, met),
        }
    items = [explain(item, values) for item in node.items]
    met = all(i["met"] for i in items) if node.mode == "all" else any(i["met"] for i in items)
    return {node.mode: items, "met": met}


def _missing(tree: dict[str, Any]) -> list[dict[str, Any]]:
    """The unmet conditions of a rule tree (under an unmet ``any``, every alternative)."""
    if tree["met"]:
        return []
    if "field" in tree:
        return [tree]
    children = tree.get("all") or tree.get("any") or []
    return [leaf for child in children for leaf in _missing(child)]


def _values(line: BusinessLine, badge: BadgeState) -> dict[str, Value]:
    out: dict[str, Value] = {}
    for name, kind in line.fields.items():
        text = badge.values.get(name)
        try:
            if text is not None:
                out[name] = parse_value(kind, text)
        except ValueError:
            continue
    return out


def badge_detail(state: MemberState, rules: TenantRules, line_id: str) -> dict[str, Any] | None:
    """A line's rule, the member's values and what the next level still needs; None: no such line."""
    line = lines_for(rules, state.tenant_id).get(line_id)
    if line is None:
        return None
    badge = state.badges.get(line_id) or BadgeState()
    values = _values(line, badge)
    complete = len(values) == len(line.fields)
    level = line.level(badge.level)
    next_level = line.level(badge.level + 1)
    nxt = None
    if next_level is not None:
        tree = explain(line.rule_of(next_level.level), values)
        nxt = {"level": next_level.level, "name": next_level.name, "met": tree["met"], "rule": tree,
               "missing": _missing(tree), "rights": [_right(r) for r in next_level.rights]}
    return {
        "tenant_id": state.tenant_id,
        "member_id": state.member_id,
        "line_id": line_id,
        "line_name": line.name,
        "rule_version": line.version,
        "fields": {name: kind.value for name, kind in line.fields.items()},
        "levels": [
            {"level": lv.level, "name": lv.name, "rule": explain(line.rule_of(lv.level), values),
             "rights": [_right(r) for r in lv.rights]}
            for lv in line.levels
        ],
        "level": badge.level,
        "level_name": level.name if level is not None else None,
        "since": _iso(badge.since),
        "decided_by_version": badge.rule_version or None,
        "qualified_level": qualified_level(line, values) if complete else None,
        "protection_until": _iso(badge.protection_until),
        "last_snapshot": badge.last_snapshot.isoformat() if badge.last_snapshot else None,
        "values": {name: badge.values.get(name) for name in line.fields},
        "rights": [_right(r) for r in level.rights] if level is not None else [],
        "rights_issued_for": rights_period(state, line_id),  # renewed each month the level holds (engine/badges.py)
        "next_level": nxt,
    }

