"""Registrations and logins re-keyed by device: the members agent's reports to the device agent
(``device-activity``, keyed by tenant and device id, so one device's reports meet on one partition)."""

from __future__ import annotations

from config.topics import Topic
from engine.ids import derive_id
from engine.outcome import Emitted
from engine.step import Step
from models.devices import DeviceActivity, device_key


def report_device(step: Step, kind: str, device_id: str) -> None:
    """Tell the device agent that the member registered or logged in on ``device_id``."""
    state = step.state
    activity = DeviceActivity(
        activity_id=derive_id("da", state.tenant_id, state.member_id, step.cause_id, kind),
        kind=kind,
        tenant_id=state.tenant_id,
        device_id=device_id,
        member_id=state.member_id,
        occurred_at=step.occurred_at,
        cause_event_id=step.cause_id,
    )
    step.outputs.append(Emitted(Topic.DEVICE_ACTIVITY, device_key(state.tenant_id, device_id), activity))


def report_login(step: Step, device_id: str) -> None:
    """A login's report, once per member, device and local day (the device agent keeps the latest);
    none when no rule watches logins (``risk.logins_per_device`` null)."""
    if step.rules.risk.logins_per_device is None:
        return
    seen = f"device:{device_id}"
    if step.counter(seen) == 0:
        report_device(step, "login", device_id)
    step.bump(seen)
