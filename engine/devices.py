"""The device actor's rules, pure: ``(device state, report, rules) -> (state, outputs)``.

Registrations: a member's registration on a device is allowed while the device
has at most ``risk.registrations_per_device.max_members`` registrations (this
one included, refused ones too) within ``window`` of it, before or after.  The
verdict goes to the member as a ``device_verdict`` command; a refusal also
raises a ``registrations_per_device`` risk flag naming the device and every
member counted.  Verdicts are taken in the order the device's partition
delivers the reports and never revised: a redelivered report finds its member
recorded and sends nothing (the agent sends a report's outputs before it
stores the state, so they went out the first time).

Logins: when more than ``risk.logins_per_device.max_members`` members log in
from one device within ``window`` of each other, a ``logins_per_device`` flag
names them; each member tips it at most once.  Flags only.
"""

from __future__ import annotations

from datetime import datetime

from config.risk import DeviceLimit
from config.rules import TenantRules
from config.topics import Topic
from engine.ids import derive_id
from engine.outcome import Emitted
from models.commands import DeviceVerdict
from models.devices import (
    DeviceActivity,
    DeviceRegistration,
    DeviceState,
    RiskAction,
    RiskFlag,
    RiskRule,
    device_key,
)


def new_device(tenant_id: str, device_id: str) -> DeviceState:
    return DeviceState(tenant_id=tenant_id, device_id=device_id)


def apply_activity(
    state: DeviceState | None, activity: DeviceActivity, rules: TenantRules
) -> tuple[DeviceState, list[Emitted]]:
    """The device's state after ``activity`` (changed in place, or new) and what to send."""
    if state is None:
        state = new_device(activity.tenant_id, activity.device_id)
    if activity.kind == "registration":
        outputs = _registration(state, activity, rules.risk.registrations_per_device)
    else:
        outputs = _login(state, activity, rules.risk.logins_per_device)
    if state.latest is None or activity.occurred_at > state.latest:
        state.latest = activity.occurred_at
    _forget_old(state, rules)
    return state, outputs


def _within(at: datetime, other: datetime, limit: DeviceLimit) -> bool:
    return abs(at - other) < limit.window


def _registration(state: DeviceState, activity: DeviceActivity, limit: DeviceLimit) -> list[Emitted]:
    member, at = activity.member_id, activity.occurred_at
    if member in state.registrations:
        return []  # redelivered: decided and sent already
    counted = sorted((r.at, m) for m, r in state.registrations.items() if _within(r.at, at, limit))
    registrations = len(counted) + 1
    allowed = registrations <= limit.max_members
    state.registrations[member] = DeviceRegistration(at=at, allowed=allowed)
    verdict = DeviceVerdict(
        type="device_verdict",
        command_id=derive_id("dv", state.tenant_id, state.device_id, member, activity.cause_event_id),
        tenant_id=state.tenant_id,
        member_id=member,
        occurred_at=at,
        device_id=state.device_id,
        registration_event_id=activity.cause_event_id,
        allowed=allowed,
        registrations=registrations,
        limit=limit.max_members,
    )
    outputs = [Emitted(Topic.MEMBER_COMMANDS, member, verdict)]
    if not allowed:
        members = [m for _, m in sorted([*counted, (at, member)])]
        outputs.append(_flag(state, activity, RiskRule.REGISTRATIONS_PER_DEVICE, RiskAction.NO_REWARDS, members,
                             limit))
    return outputs


def _login(state: DeviceState, activity: DeviceActivity, limit: DeviceLimit | None) -> list[Emitted]:
    member, at = activity.member_id, activity.occurred_at
    latest = state.logins.get(member)
    if latest is None or at > latest:
        state.logins[member] = at
    if limit is None or member in state.login_flagged:
        return []
    counted = sorted((t, m) for m, t in state.logins.items() if m != member and _within(t, at, limit))
    if len(counted) + 1 <= limit.max_members:
        return []
    state.login_flagged.append(member)
    members = [m for _, m in sorted([*counted, (at, member)])]
    return [_flag(state, activity, RiskRule.LOGINS_PER_DEVICE, RiskAction.FLAG_ONLY, members, limit)]


def _flag(state: DeviceState, activity: DeviceActivity, rule: RiskRule, action: RiskAction, members: list[str],
          limit: DeviceLimit) -> Emitted:
    flag = RiskFlag(
        flag_id=derive_id("rf", state.tenant_id, state.device_id, rule.value, activity.member_id),
        rule=rule,
        action=action,
        device_id=state.device_id,
        members=members,
        limit=limit.max_members,
        window=limit.window,
        tenant_id=state.tenant_id,
        member_id=activity.member_id,
        occurred_at=activity.occurred_at,
        cause_event_id=activity.cause_event_id,
    )
    return Emitted(Topic.RISK_FLAGS, device_key(state.tenant_id, state.device_id), flag)


def _forget_old(state: DeviceState, rules: TenantRules) -> None:
    """Drop what no report can count any more: older than twice a window before the latest
    report (a report counts others within one window of it, and may be up to one window late)."""
    assert state.latest is not None
    risk = rules.risk
    horizon = state.latest - 2 * risk.registrations_per_device.window
    old = [m for m, r in state.registrations.items() if r.at < horizon]
    for m in old:
        del state.registrations[m]
    if risk.logins_per_device is not None:
        horizon = state.latest - 2 * risk.logins_per_device.window
        gone = [m for m, t in state.logins.items() if t < horizon]
        for m in gone:
            del state.logins[m]
        if gone:
            state.login_flagged = [m for m in state.login_flagged if m in state.logins]
