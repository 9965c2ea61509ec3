"""Live experiments, the admin service's side: the experiments of the rules in force with their status
and members per arm (then those a later version removed, as the last version naming them defined
them, while the read model has members of them), their statistics, and stopping or rolling one out.

Stopping and rolling out publish a new version of the tenant's rules through ``publish_audited``, as
publishing a candidate does (admin only, audited, a retry with the same request id gets the version
the first request published): a stop sets the experiment's ``stopped_at`` to now; a roll-out also
makes the base rules the base merged with the variant's overlay (``config.experiments.merge_overlay``)
and names the variant in ``rolled_out``.  Both the API and the console call these.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException

from config.experiments import HOLDOUT, Experiment, merge_overlay
from config.rules import TenantRules
from memberflow.admin.deps import Scope, Services
from memberflow.admin.rules import CandidateError, TenantRulesService, document, publish_audited, version_detail
from memberflow.readmodel.experiment_statistics import control, experiment_statistics, status
from memberflow.readmodel.experiments import members_per_variant
from models.admin_experiments import (
    ExperimentInfo,
    ExperimentStatistics,
    ExperimentStatus,
    VariantInfo,
)
from models.admin_rules import RulesVersionDetail

STOP, ROLLOUT = "experiments.stop", "experiments.rollout"


def _info(experiment: Experiment, members: dict[str, int], now: datetime, removed: bool = False) -> ExperimentInfo:
    variants = [VariantInfo(name=HOLDOUT, weight=None, description="the base rules", members=members.get(HOLDOUT, 0))
                ] if experiment.holdout > 0 else []
    variants += [VariantInfo(name=v.name, weight=v.weight, description=v.description, overlay=v.overlay,
                             members=members.get(v.name, 0)) for v in experiment.variants]
    p = experiment.population
    return ExperimentInfo(experiment=experiment.id, description=experiment.description,
                          status=status(experiment, now, removed), tiers=p.tiers,
                          share=p.share, holdout=experiment.holdout, starts_at=p.starts_at, ends_at=p.ends_at,
                          stopped_at=experiment.stopped_at, rolled_out=experiment.rolled_out,
                          control=control(experiment), members=sum(members.values()), variants=variants)


def _removed(rules: TenantRulesService, tenant_id: str, current: TenantRules,
             ids: Iterable[str]) -> dict[str, tuple[Experiment, TenantRules]]:
    """The last definition, and the rules that held it, of each of ``ids`` the rules in force no longer
    name (an id no earlier version defines either is left out: nothing says what its arms were)."""
    wanted = set(ids) - {e.id for e in current.experiments}
    found: dict[str, tuple[Experiment, TenantRules]] = {}
    if not wanted:
        return found
    for version in rules.history(tenant_id):
        for defined in version.experiments:
            if defined.id in wanted and defined.id not in found:
                found[defined.id] = (defined, version)
        if found.keys() >= wanted:
            break
    return found


def experiments(rules: TenantRulesService, tenant_id: str, now: datetime | None = None) -> list[ExperimentInfo]:
    """The experiments of the rules in force, in their order, with members per arm; then, by id, those
    the rules no longer name but the read model has members of (``removed``)."""
    current, _ = rules.in_force(tenant_id)
    with rules.engine.connect() as conn:
        counted = members_per_variant(conn, tenant_id)
    now = now or datetime.now(UTC)
    listed = [_info(e, counted.get(e.id, {}), now) for e in current.experiments]
    removed = _removed(rules, tenant_id, current, counted)
    return listed + [_info(removed[i][0], counted[i], now, removed=True) for i in sorted(removed)]


def find(current: TenantRules, experiment_id: str) -> tuple[int, Experiment]:
    """The experiment's index and definition in ``current``; 404 when the rules in force have none so named."""
    for i, experiment in enumerate(current.experiments):
        if experiment.id == experiment_id:
            return i, experiment
    raise HTTPException(404, f"no experiment {experiment_id!r} in the rules in force")


def _defined(rules: TenantRulesService, tenant_id: str, experiment_id: str) -> tuple[Experiment, TenantRules, bool]:
    """The experiment as the rules in force define it, or else as the last version that did (removed: True),
    with those rules; 404 when no version of the tenant's rules ever named it."""
    current, _ = rules.in_force(tenant_id)
    for experiment in current.experiments:
        if experiment.id == experiment_id:
            return experiment, current, False
    removed = _removed(rules, tenant_id, current, [experiment_id])
    if experiment_id not in removed:
        raise HTTPException(404, f"no experiment {experiment_id!r} in the tenant's rules, in force or earlier")
    return *removed[experiment_id], True


def experiment(rules: TenantRulesService, tenant_id: str, experiment_id: str) -> ExperimentInfo:
    found, _, removed = _defined(rules, tenant_id, experiment_id)
    with rules.engine.connect() as conn:
        counted = members_per_variant(conn, tenant_id)
    return _info(found, counted.get(experiment_id, {}), datetime.now(UTC), removed)


def statistics(rules: TenantRulesService, tenant_id: str, experiment_id: str, enrolled_from: datetime | None = None,
               enrolled_until: datetime | None = None) -> ExperimentStatistics:
    """The experiment's figures, of the members enrolled in ``[enrolled_from, enrolled_until)`` when given."""
    found, defining, removed = _defined(rules, tenant_id, experiment_id)
    with rules.engine.connect() as conn:
        return experiment_statistics(conn, tenant_id, found, defining, removed=removed, enrolled_from=enrolled_from,
                                     enrolled_until=enrolled_until)


def _stopped(doc: dict[str, Any], index: int, now: datetime, rolled_out: str | None) -> dict[str, Any]:
    entries = [dict(e) for e in doc["experiments"]]
    entries[index] = {**entries[index], "stopped_at": now.isoformat(),
                      **({"rolled_out": rolled_out} if rolled_out is not None else {})}
    return {**doc, "experiments": entries}


def _publish(rules: TenantRulesService, svc: Services, scope: Scope, action: str, experiment_id: str,
             variant: str | None, reason: str, request_id: str) -> RulesVersionDetail:
    earlier = svc.audit.find(scope.who, action, request_id)
    if earlier is not None:  # a retry: the version the first request published
        row = rules.version(scope.tenant_id, earlier.detail["version"])
        if row is None or earlier.detail.get("experiment") != experiment_id or \
                earlier.detail.get("variant") != variant:
            raise HTTPException(409, f"request id {request_id!r} was used already for another {action}")
        return version_detail(row)
    current, _ = rules.in_force(scope.tenant_id)
    index, found = find(current, experiment_id)
    now = datetime.now(UTC)
    if status(found, now) is ExperimentStatus.STOPPED:
        raise HTTPException(409, f"experiment {experiment_id!r} was stopped at {found.stopped_at.isoformat()}")
    doc = {**document(current), "tenant_id": scope.tenant_id}
    if variant is not None:
        chosen = next((v for v in found.variants if v.name == variant), None)
        if chosen is None:
            names = [v.name for v in found.variants]
            raise HTTPException(422, [{"loc": ["body", "variant"], "type": "value_error",
                                       "msg": f"{variant!r} is not a variant of {experiment_id!r}: {names}"}])
        base = merge_overlay({k: v for k, v in doc.items() if k != "experiments"}, chosen.overlay)
        doc = {**base, "experiments": doc["experiments"]}
    try:
        candidate = rules.candidate(scope.tenant_id, _stopped(doc, index, now, variant))
    except CandidateError as exc:
        raise HTTPException(422, [{**e, "loc": ["body", "variant" if variant else "rules", *e["loc"]]}
                                  for e in exc.errors]) from None
    detail: dict[str, Any] = {"experiment": experiment_id, "variant": variant}
    return publish_audited(rules, svc, scope, action, candidate, reason, request_id, detail)


def stop(rules: TenantRulesService, svc: Services, scope: Scope, experiment_id: str, reason: str,
         request_id: str) -> RulesVersionDetail:
    """Publish the rules in force with the experiment stopped now."""
    return _publish(rules, svc, scope, STOP, experiment_id, None, reason, request_id)


def rollout(rules: TenantRulesService, svc: Services, scope: Scope, experiment_id: str, variant: str, reason: str,
            request_id: str) -> RulesVersionDetail:
    """Publish the rules in force with ``variant``'s overlay merged into the base and the experiment stopped
    now, naming the variant rolled out."""
    return _publish(rules, svc, scope, ROLLOUT, experiment_id, variant, reason, request_id)

