"""Sign-ups in the demo: every member's registration in the first hour, invitations among them,
a device farm whose extra accounts earn nothing, and e-mail, phone and real-name checks in the
first days (a few real names prove false, which locks the member: its later redemptions are refused).

Drawn from a random sequence of their own, so the rest of the stream is the same as without them.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import timedelta
from typing import Any

from memberflow.dev.demo.formats import TENANT, Ids, stamp
from memberflow.dev.demo.personas import Persona
from memberflow.dev.demo.schedule import Schedule, Slot

#: Share of members invited by an earlier one, every how many members one registers on the farm device,
#: and the share checked per kind.
INVITED_SHARE = 0.25
FARM_EVERY = 40
FARM_DEVICE = "d-farm-1"
CHECKED = (("email", 0.6), ("phone", 0.4), ("real_name", 0.2))
FALSE_SHARE = 0.1  # of the real-name checks
CHECK_DAYS = 3
SIGNUP_SLOTS = frozenset({"registration", "verification"})


class Signups:
    def __init__(self, seed: int, cast: list[Persona], schedule: Schedule, ids: Ids) -> None:
        self.rng = random.Random(f"signups:{seed}")
        self.cast = cast
        self.schedule = schedule
        self.ids = ids
        self.checks: dict[int, list[Slot]] = defaultdict(list)  # day -> the verifications then

    def registration_slots(self) -> list[Slot]:
        """One registration per member, spread over the first hour, with the checks that follow."""
        step = 3600 / max(1, len(self.cast))
        start = self.schedule.start
        slots = []
        for i, persona in enumerate(self.cast):
            inviter = self.cast[self.rng.randrange(i)].member_id if i and self.rng.random() < INVITED_SHARE else None
            device = FARM_DEVICE if i % FARM_EVERY == FARM_EVERY - 1 else persona.devices[0]
            at = start + timedelta(seconds=int(i * step))
            slots.append(self.schedule.slot(at, "registration", persona, device=device, invited_by=inviter))
            for kind, share in CHECKED:
                if self.rng.random() < share:
                    day = self.rng.randrange(CHECK_DAYS)
                    result = "false_information" if kind == "real_name" and self.rng.random() < FALSE_SHARE \
                        else "verified"
                    when = start + timedelta(days=day, hours=self.rng.randrange(1, 24),
                                             seconds=self.rng.randrange(3600))
                    self.checks[day].append(self.schedule.slot(when, "verification", persona, check=kind,
                                                               result=result))
        return slots

    def slots(self, day: int) -> list[Slot]:
        return self.checks.pop(day, [])

    def event(self, slot: Slot) -> tuple[str, dict[str, Any]]:
        """``(logical topic, value)`` of a sign-up slot."""
        member = slot.persona.member_id
        base = {"tenant_id": TENANT, "member_id": member, "occurred_at": stamp(slot.at), "type": slot.kind}
        if slot.kind == "registration":
            value = {**base, "event_id": self.ids.next("sg"), "channel": "app", "device_id": slot.data["device"]}
            if slot.data["invited_by"]:
                value["invited_by"] = slot.data["invited_by"]
            return "registrations", value
        value = {**base, "event_id": self.ids.next("vf"), "verification_id": self.ids.next("v"),
                 "kind": slot.data["check"], "result": slot.data["result"]}
        return "verifications", value
