"""Adjustments, account actions and risk flag decisions on a member (operator and above), and the approvals of
those over a limit (listed by viewers, decided by approvers who did not make them).

Each write answers 202: the command is published (or waits for an approver); the
member's page shows it ``pending`` until its ledger entry, grant or status change
is in the read model (memberflow/admin/operations.py).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from memberflow.admin.deps import Scope, Services, scoped, services
from memberflow.admin.operations import (
    Operations,
    account_request,
    approval_row,
    benefit_request,
    membership_grant_request,
    points_request,
    risk_request,
    tier_override_request,
)
from memberflow.admin.routes.members import Cursor, Limit, paged
from memberflow.readmodel import commands as views
from models.admin import (
    AccountActionRequest,
    ApprovalDecision,
    ApprovalRow,
    ApprovalState,
    BenefitGrantRequest,
    CommandAnswer,
    MembershipGrantRequest,
    Page,
    PointsAdjustment,
    Role,
    TierOverrideRequest,
)

router = APIRouter(prefix="/tenants/{tenant_id}", tags=["operations"])
MemberPath = "/members/{member_id}"
ANSWERS = {404: {"description": "no such member in this tenant"},
           409: {"description": "the request id was used already for another request"}}


def operations(request: Request) -> Operations:
    return request.app.state.operations


Operator = Depends(scoped(Role.OPERATOR))
Ops = Depends(operations)


@router.post(f"{MemberPath}/credit", response_model=CommandAnswer, status_code=202, responses=ANSWERS,
             summary="credit points (over a limit: waits for an approver)")
def credit(member_id: str, body: PointsAdjustment, scope: Scope = Operator, ops: Operations = Ops):
    return ops.submit(scope, points_request(member_id, body, debit=False))


@router.post(f"{MemberPath}/debit", response_model=CommandAnswer, status_code=202, responses=ANSWERS,
             summary="debit points (over a limit: waits for an approver); one that would overdraw is refused")
def debit(member_id: str, body: PointsAdjustment, scope: Scope = Operator, ops: Operations = Ops):
    return ops.submit(scope, points_request(member_id, body, debit=True))


@router.post(f"{MemberPath}/benefits", response_model=CommandAnswer, status_code=202, responses=ANSWERS,
             summary="grant a benefit (waits for an approver)")
def grant(member_id: str, body: BenefitGrantRequest, scope: Scope = Operator, ops: Operations = Ops):
    return ops.submit(scope, benefit_request(member_id, body))


@router.post(f"{MemberPath}/tier-override", response_model=CommandAnswer, status_code=202, responses=ANSWERS,
             summary="set the tier and hold it against downgrades until a date (waits for an approver)")
def tier_override(member_id: str, body: TierOverrideRequest, scope: Scope = Operator, ops: Operations = Ops):
    return ops.submit(scope, tier_override_request(member_id, body))


@router.post(f"{MemberPath}/memberships", response_model=CommandAnswer, status_code=202, responses=ANSWERS,
             summary="grant a membership of a merchant's plan level listing operator_grant, until a date (waits "
                     "for an approver); a level not listing it is refused not_joinable")
def membership_grant(member_id: str, body: MembershipGrantRequest, scope: Scope = Operator, ops: Operations = Ops):
    return ops.submit(scope, membership_grant_request(member_id, body))


def _account_action(action: str, summary: str) -> None:
    @router.post(f"{MemberPath}/{action}", response_model=CommandAnswer, status_code=202, responses=ANSWERS,
                 summary=summary, name=action)
    def act(member_id: str, body: AccountActionRequest, scope: Scope = Operator, ops: Operations = Ops):
        return ops.submit(scope, account_request(member_id, action, body))


_account_action("lock", "lock the account (points cannot be spent)")
_account_action("unlock", "unlock the account: the appeal path, it clears a complaint's lock too")
_account_action("freeze", "freeze the account")
_account_action("unfreeze", "unfreeze the account")

FlagId = Annotated[str, Path(min_length=1, max_length=128)]


def _risk_decision(decision: str, summary: str) -> None:
    @router.post(f"{MemberPath}/risk-flags/{{flag_id}}/{decision}", response_model=CommandAnswer, status_code=202,
                 responses=ANSWERS, summary=summary, name=f"risk_{decision}")
    def decide(member_id: str, flag_id: FlagId, body: AccountActionRequest, scope: Scope = Operator,
               ops: Operations = Ops):
        return ops.submit(scope, risk_request(member_id, flag_id, decision, body))


_risk_decision("release", "release the points an abnormal spending flag holds: they become spendable")
_risk_decision("confirm", "confirm an abnormal spending flag: the points it holds are cancelled (a ledger entry)")
_risk_decision("dismiss", "dismiss an abnormal spending flag that holds nothing")


@router.get("/approvals", response_model=Page[ApprovalRow], summary="the approval queue, newest first")
def approvals(state: ApprovalState | None = None,
              member_id: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
              cursor: Cursor = None, limit: Limit = 50, scope: Scope = Depends(scoped(Role.VIEWER)),
              svc: Services = Depends(services)):
    with svc.engine.connect() as conn:
        return paged(lambda: views.search_approvals(conn, scope.tenant_id, state.value if state else None,
                                                    member_id, cursor, limit), ApprovalRow, approval_row)


DECISION = {403: {"description": "not an approver, or the maker of the request"},
            404: {"description": "no such approval in this tenant"}, 409: {"description": "decided already"}}


@router.post("/approvals/{approval_id}/approve", response_model=ApprovalRow, responses=DECISION,
             summary="approve: the command is published (approver; not the maker)")
def approve(approval_id: str, body: ApprovalDecision, scope: Scope = Depends(scoped(Role.APPROVER)),
            ops: Operations = Ops):
    return ops.decide(scope, approval_id, body, approve=True)


@router.post("/approvals/{approval_id}/reject", response_model=ApprovalRow, responses=DECISION,
             summary="reject: nothing is published (approver; not the maker)")
def reject(approval_id: str, body: ApprovalDecision, scope: Scope = Depends(scoped(Role.APPROVER)),
           ops: Operations = Ops):
    return ops.decide(scope, approval_id, body, approve=False)
