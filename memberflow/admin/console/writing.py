"""The member page's writing forms: credit or debit points, grant a benefit, override the tier, and the
account actions -- each the API's request body (models/admin.py) with what the form adds, turned into
the same ``OperatorRequest`` the API routes submit (memberflow/admin/operations.py).

Every rendering of a form carries a new request id: a form posted twice (a double click, a reload)
is one request, whose first answer the second post gets.  A form that failed keeps its request id,
its values and its errors by field.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from pydantic import Field, field_validator

from memberflow.admin.console.forms import day_start
from memberflow.admin.operations import (
    ACCOUNT_ACTIONS,
    RISK_DECISIONS,
    OperatorRequest,
    account_request,
    benefit_request,
    points_request,
    risk_request,
    tier_override_request,
)
from models.admin import AccountActionRequest, BenefitGrantRequest, PointsAdjustment, TierOverrideRequest

DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def request_id() -> str:
    return f"console-{secrets.token_hex(8)}"


def _day(value: Any) -> Any:
    """A date field's day (``YYYY-MM-DD``, as a browser's date input sends it) as its first moment, UTC."""
    if isinstance(value, str) and DAY.fullmatch(value.strip()):
        try:
            return day_start(date.fromisoformat(value.strip()))
        except ValueError:
            return value
    return value


class PointsForm(PointsAdjustment):
    direction: Literal["credit", "debit"]

    def operator_request(self, member_id: str) -> OperatorRequest:
        body = PointsAdjustment.model_validate(self.model_dump(exclude={"direction"}))
        return points_request(member_id, body, debit=self.direction == "debit")


class BenefitForm(BenefitGrantRequest):
    _day = field_validator("valid_until", mode="before")(_day)

    def operator_request(self, member_id: str) -> OperatorRequest:
        return benefit_request(member_id, BenefitGrantRequest.model_validate(self.model_dump()))


class TierForm(TierOverrideRequest):
    _day = field_validator("until", mode="before")(_day)

    def operator_request(self, member_id: str) -> OperatorRequest:
        return tier_override_request(member_id, TierOverrideRequest.model_validate(self.model_dump()))


class AccountForm(AccountActionRequest):
    action: Literal[ACCOUNT_ACTIONS]  # type: ignore[valid-type]

    def operator_request(self, member_id: str) -> OperatorRequest:
        body = AccountActionRequest.model_validate(self.model_dump(exclude={"action"}))
        return account_request(member_id, self.action, body)


class RiskForm(AccountActionRequest):
    """A decision on one of the member's open abnormal spending flags (docs/rules.md ``risk.spending``)."""

    flag_id: str = Field(min_length=1, max_length=128)
    decision: Literal[RISK_DECISIONS]  # type: ignore[valid-type]

    def operator_request(self, member_id: str) -> OperatorRequest:
        body = AccountActionRequest.model_validate(self.model_dump(exclude={"flag_id", "decision"}))
        return risk_request(member_id, self.flag_id, self.decision, body)


#: the forms by the last part of the path they post to
FORMS: dict[str, type[PointsForm | BenefitForm | TierForm | AccountForm | RiskForm]] = {
    "points": PointsForm, "benefit": BenefitForm, "tier-override": TierForm, "account": AccountForm,
    "risk": RiskForm}


@dataclass(frozen=True)
class FormState:
    """One form as rendered: its request id, and after a failed post the values sent and the errors."""

    request_id: str = field(default_factory=request_id)
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def forms_for(failed: tuple[str, FormState] | None = None) -> dict[str, FormState]:
    """Every form with a new request id, but the one that ``failed``."""
    states = {name: FormState() for name in FORMS}
    if failed is not None:
        states[failed[0]] = failed[1]
    return states
