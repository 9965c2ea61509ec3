"""Business-line badges (seed 000): score snapshots in, badge levels and rights out.

A snapshot is read against the member's tenant's lines in force
(:func:`engine.published_lines.lines_for`): the line it names in ``line_id``, else every
line whose declared fields it carries.  Reading happens before anything
changes, so a snapshot with a missing field or a value that does not parse as
the line declares it is dead-lettered whole, never half-applied.  Per line, a
snapshot older than the last one applied is ignored.

The member's level in a line is the highest level whose rule holds.  An
upgrade happens at once: a ``badge-changes`` message naming the definition
version that decided it, and one ``benefit-grants`` message per right of the
new level.  Downgrades only happen in :func:`evaluate_badges`, the periodic
evaluation's hook, with the tiers' protection and warning semantics
(:mod:`engine.downgrades`): the first evaluation that finds a member short
sets ``protection_until`` to ``max(protection_days, downgrade_warning_days)``
ahead, a ``downgrade_warning`` goes out ``downgrade_warning_days`` before it,
qualifying again cancels it.

Rights are periodic (seed 000: the monthly evaluation "triggers rights
issuance"): a level's rights are issued when it is reached and again by the
first evaluation of every later local month while the level is held (a
pending downgrade still holds it), never for a level the member has lost.
Each renewal's grant id is (member, benefit, month, line, level, right), and
the member remembers the month each line's rights were issued for
(``benefit_periods["badge_rights:<line>"]``, :func:`rights_period`), so
repeating an evaluation issues nothing twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from config.business_lines import (
    BadgeDowngrade,
    BadgeLevel,
    BusinessLine,
    Check,
    Node,
    Value,
    canonical,
    holds,
    parse_value,
)
from config.rules import TenantRules
from config.tiers import Cadence
from config.topics import Topic
from engine.benefits import period_of
from engine.clock import add_months, local_day, start_moment, start_of_day
from engine.due_moments import LookAhead
from engine.outcome import Reject
from engine.published_lines import lines_for
from engine.step import Step
from models.badges import BadgeState, BusinessScores
from models.outputs import BadgeChange, DeadLetterReason, NotificationKind, TierDirection
from models.state import MemberState


@dataclass(frozen=True, slots=True)
class Reading:
    """One line's fields of a snapshot, parsed as the line declares them."""

    line_id: str
    line: BusinessLine
    values: dict[str, Value]


def complete(event: BusinessScores, rules: TenantRules) -> BusinessScores:
    """The snapshot's event time: ``dt`` at 00:00 in the tenant's time zone."""
    return event.in_zone(rules.tz)


def _invalid(detail: str) -> Reject:
    return Reject(DeadLetterReason.INVALID_EVENT, detail)


def read_snapshot(lines: Mapping[str, BusinessLine], event: BusinessScores) -> list[Reading]:
    """The lines a snapshot feeds, with their values; raises ``Reject`` naming the bad field."""
    scores = event.scores
    if event.line_id is not None:
        line = lines.get(event.line_id)
        if line is None:
            raise _invalid(f"line_id: no business line {event.line_id!r} for tenant {event.tenant_id}")
        chosen = [(event.line_id, line)]
    else:
        chosen = [(lid, line) for lid, line in sorted(lines.items())
                  if all(scores.get(name) is not None for name in line.fields)]
        if not chosen:
            raise _invalid(_nothing_to_read(lines, scores, event.tenant_id))
    readings = []
    for line_id, line in chosen:
        values: dict[str, Value] = {}
        for name, kind in line.fields.items():
            raw = scores.get(name)
            if raw is None:
                raise _invalid(f"{name}: missing, business line {line_id} needs it")
            try:
                values[name] = parse_value(kind, raw)
            except ValueError as exc:
                raise _invalid(f"{name}: {exc} (business line {line_id} reads it as {kind.value})") from None
        readings.append(Reading(line_id, line, values))
    return readings


def _nothing_to_read(lines: Mapping[str, BusinessLine], scores: Mapping[str, object], tenant_id: str) -> str:
    partial = []
    for line_id, line in sorted(lines.items()):
        missing = [name for name in line.fields if scores.get(name) is None]
        if len(missing) < len(line.fields):
            them = "it" if len(missing) == 1 else "them"
            partial.append(f"{', '.join(missing)}: missing, business line {line_id} needs {them}")
    if partial:
        return "; ".join(partial)
    return f"no business line of tenant {tenant_id} reads any of the fields {sorted(scores)}"


def passes(node: Node, values: Mapping[str, Value]) -> bool:
    if isinstance(node, Check):
        return holds(node.op, values[node.field], node.threshold)
    results = (passes(item, values) for item in node.items)
    return all(results) if node.mode == "all" else any(results)


def qualified_level(line: BusinessLine, values: Mapping[str, Value]) -> int:
    """The highest level whose rule holds (0: none)."""
    for level in range(line.top, 0, -1):
        if passes(line.rule_of(level), values):
            return level
    return 0


def stored_values(line: BusinessLine, badge: BadgeState) -> dict[str, Value] | None:
    """The member's last values read as ``line`` declares them; None when they
    cannot be (a newer version reads a field the last snapshot did not carry)."""
    values: dict[str, Value] = {}
    for name, kind in line.fields.items():
        text = badge.values.get(name)
        if text is None:
            return None
        try:
            values[name] = parse_value(kind, text)
        except ValueError:
            return None
    return values


_UNKNOWN = object()
MEMO_SIZE = 65_536  # stored value sets remembered per definition before the memo starts again


def stored_level(line: BusinessLine, badge: BadgeState) -> int | None:
    """``qualified_level`` of the member's last values (None: ``stored_values`` cannot read them),
    remembered per definition: a member's values stay as they are until its next snapshot, and an
    evaluation looks at them on every pass."""
    key = tuple(map(badge.values.get, line.fields))
    memo = line.levels_memo
    level = memo.get(key, _UNKNOWN)
    if level is _UNKNOWN:
        values = stored_values(line, badge)
        level = None if values is None else qualified_level(line, values)
        if len(memo) >= MEMO_SIZE:
            memo.clear()
        memo[key] = level
    return level  # type: ignore[return-value]


# -- changes --------------------------------------------------------------------------


def _move(step: Step, line_id: str, line: BusinessLine, badge: BadgeState, to_level: int, reason: str) -> None:
    """Change the badge's level and publish it; an upgrade grants the new level's rights."""
    from_level, up = badge.level, to_level > badge.level
    badge.level, badge.since, badge.rule_version = to_level, step.occurred_at, line.version
    badge.protection_until, badge.downgrade_warned = None, False
    level = line.level(to_level)
    step.emit(
        Topic.BADGE_CHANGES,
        BadgeChange(
            change_id=step._id("bc", line_id, from_level, to_level),
            line_id=line_id,
            from_level=from_level,
            to_level=to_level,
            direction=TierDirection.UP if up else TierDirection.DOWN,
            rule_version=line.version,
            reason=reason,
            level_name=level.name if level else None,
            values=dict(badge.values),
            **step._common(),
        ),
    )
    if not up or level is None:
        return
    _grant_rights(step, line_id, line, level, None)
    step.state.benefit_periods[_rights_key(line_id)] = period_of(step.day, Cadence.MONTH)


def _rights_key(line_id: str) -> str:
    return f"badge_rights:{line_id}"


def rights_period(state: MemberState, line_id: str) -> str | None:
    """The local month (``YYYY-MM``) the line's rights were last issued for."""
    return state.benefit_periods.get(_rights_key(line_id))


def _grant_rights(step: Step, line_id: str, line: BusinessLine, level: BadgeLevel, month: str | None) -> None:
    """Issue ``level``'s rights: on reaching it (``month`` None: ids from the cause), or as the
    renewal for ``month`` (ids from the month, whatever the cause)."""
    for i, right in enumerate(level.rights):
        step.grant(
            right.benefit,
            f"{line_id}:{level.level}:{i}",
            period=month,
            line_id=line_id,
            badge_level=level.level,
            value=right.value,
            quantity=right.quantity,
            valid_from=step.occurred_at,
            valid_until=step.occurred_at + timedelta(days=right.valid_days) if right.valid_days else None,
            details={"level_name": level.name, "rule_version": line.version,
                     **({"description": right.description} if right.description else {}),
                     **({"period": month} if month is not None else {})},
        )


def renew_rights(step: Step, line_id: str, line: BusinessLine, badge: BadgeState) -> bool:
    """Issue the held level's rights for the step's local month unless issued for it already;
    True when the state changed."""
    month = period_of(step.day, Cadence.MONTH)
    level = line.level(badge.level) if badge.level >= 1 else None
    if level is None or not level.rights or rights_period(step.state, line_id) == month:
        return False
    _grant_rights(step, line_id, line, level, month)
    step.state.benefit_periods[_rights_key(line_id)] = month
    return True


def _requalified(badge: BadgeState) -> bool:
    """Cancel a pending downgrade; True when there was one."""
    if badge.protection_until is None and not badge.downgrade_warned:
        return False
    badge.protection_until, badge.downgrade_warned = None, False
    return True


def apply_reading(step: Step, dt: date, reading: Reading) -> None:
    badge = step.state.badges.get(reading.line_id)
    if badge is not None and badge.last_snapshot is not None and dt < badge.last_snapshot:
        return  # older than what this line already applied
    if badge is None:
        badge = step.state.badges[reading.line_id] = BadgeState()
    line = reading.line
    badge.last_snapshot = dt
    badge.values = {name: canonical(kind, reading.values[name]) for name, kind in line.fields.items()}
    level = qualified_level(line, reading.values)
    if level > badge.level:
        _move(step, reading.line_id, line, badge, level, "qualified")
    elif level == badge.level:
        _requalified(badge)


def apply_business_scores(step: Step, event: BusinessScores) -> None:
    """Handler of ``business-scores`` snapshots (engine.apply.HANDLERS)."""
    readings = read_snapshot(lines_for(step.rules, step.state.tenant_id), event)
    for reading in readings:  # nothing changed before this point
        apply_reading(step, event.dt, reading)


# -- periodic evaluation ----------------------------------------------------------------


def evaluate_badges(step: Step, as_of: datetime | date) -> bool:
    """Re-evaluate every badge of the member with the definitions in force as of
    ``as_of``: downgrades (protection, warning), and upgrades a newer definition
    allows.  Pure; returns True when the state changed.  Evaluating again as of
    the same moment changes nothing (each step is remembered: the badge's
    ``since``, ``protection_until``, ``downgrade_warned``, the rights' month).  The level
    held after that gets its rights for the month (:func:`renew_rights`).  A hook for
    ``engine.evaluation.EVALUATION_HOOKS``: ``(step, as_of) -> changed``."""
    if not isinstance(as_of, datetime):
        as_of = start_of_day(as_of, step.rules.tz)
    lines = lines_for(step.rules, step.state.tenant_id)
    changed = False
    for line_id in sorted(step.state.badges):
        badge, line = step.state.badges[line_id], lines.get(line_id)
        if badge.since is not None and badge.since >= as_of:
            continue  # decided at or after this moment: a repeated evaluation changes nothing
        if line is None:
            continue  # a retired line: kept until the next snapshot, no rights to issue
        qualified = stored_level(line, badge)
        if qualified is not None:  # values this version cannot read: the level is kept until the next snapshot
            changed = _evaluate_line(step, line_id, line, badge, qualified, as_of) or changed
        changed = renew_rights(step, line_id, line, badge) or changed
    return changed


def _evaluate_line(step: Step, line_id: str, line: BusinessLine, badge: BadgeState, qualified: int,
                   as_of: datetime) -> bool:
    if qualified > badge.level:
        _move(step, line_id, line, badge, qualified, "evaluation")
        return True
    if qualified == badge.level:
        return _requalified(badge)
    one_down = max(qualified, min(badge.level - 1, line.top))
    target = qualified if line.downgrade is BadgeDowngrade.TO_QUALIFIED else one_down
    changed = False
    if badge.protection_until is None:
        wait = max(line.protection_days, line.downgrade_warning_days)
        badge.protection_until, badge.downgrade_warned = as_of + timedelta(days=wait), False
        changed = True
    warn_days = line.downgrade_warning_days
    if warn_days and not badge.downgrade_warned and as_of >= badge.protection_until - timedelta(days=warn_days):
        held = line.level(badge.level)
        name = held.name if held else f"level {badge.level}"
        step.notify(
            NotificationKind.DOWNGRADE_WARNING,
            f"{line.name} badge {name} ends on {local_day(badge.protection_until, step.rules.tz).isoformat()} "
            "unless it qualifies again",
            f"badge:{line_id}",
            line_id=line_id,
            from_level=badge.level,
            to_level=target,
            effective_at=badge.protection_until.isoformat(),
            rule_version=line.version,
        )
        badge.downgrade_warned = True
        changed = True
    if as_of >= badge.protection_until:
        _move(step, line_id, line, badge, target, "downgrade")
        changed = True
    return changed


def badges_due(ahead: LookAhead) -> datetime | None:
    """The earliest moment from ``ahead.since`` on at which :func:`evaluate_badges` could change a
    badge, under the definitions in force (they travel in the rules, and a due mark holds only
    under them: ``TenantRules.due_fingerprint``)."""
    state, since = ahead.state, ahead.since
    if not state.badges:
        return None
    lines = lines_for(ahead.rules, state.tenant_id)
    due = None
    for line_id, badge in state.badges.items():
        line = lines.get(line_id)
        if line is None:
            continue  # a retired line: nothing until the next snapshot
        moment = _line_due(ahead, line_id, line, badge)
        if moment is None:
            continue
        if due is None or moment < due:
            due = moment
            if due <= since:
                return since
    return due


def _line_due(ahead: LookAhead, line_id: str, line: BusinessLine, badge: BadgeState) -> datetime | None:
    """``badges_due`` for one badge."""
    since = ahead.since
    due = None
    qualified = stored_level(line, badge)
    if qualified is not None:
        if qualified > badge.level:
            return since  # an upgrade a newer definition allows
        if qualified == badge.level:
            if badge.protection_until is not None or badge.downgrade_warned:
                return since  # a pending downgrade to cancel
        elif badge.protection_until is None:
            return since  # short of its level: protection starts
        else:
            due = badge.protection_until
            if line.downgrade_warning_days and not badge.downgrade_warned:
                due = min(due, badge.protection_until - timedelta(days=line.downgrade_warning_days))
    level = line.level(badge.level) if badge.level >= 1 else None
    if level is not None and level.rights:
        if rights_period(ahead.state, line_id) != period_of(ahead.day, Cadence.MONTH):
            return since
        first = add_months(ahead.day.replace(day=1), 1)
        renewal = start_moment(first, ahead.rules.tz)
        due = renewal if due is None else min(due, renewal)
    return due
