"""Contact details (name, phone, email): published, not kept.

The rules never read them, so the member state stays without them: a profile
event or an import that gives any publishes a ``ContactChange`` on
``member-contacts`` (its id derived from the cause, so a replay publishes the
same), and the read model merges them into its ``member_contacts`` table.
"""

from __future__ import annotations

from config.topics import Topic
from engine.ids import derive_id
from engine.step import Step
from models.outputs import ContactChange


def contact_change(step: Step, name: str | None, phone: str | None, email: str | None) -> None:
    """Publish the contact details given (nothing when none is)."""
    if name is None and phone is None and email is None:
        return
    state = step.state
    step.emit(Topic.MEMBER_CONTACTS, ContactChange(
        contact_id=derive_id("ct", state.tenant_id, state.member_id, step.cause_id),
        name=name, phone=phone, email=email,
        tenant_id=state.tenant_id, member_id=state.member_id, occurred_at=step.occurred_at,
        cause_event_id=step.cause_id,
    ))
