"""A tenant's business lines as the console and the API show them: each line's version in force and history.

The versions shipped come from the tenant's rules in force (the rules directory's, or a published rules
version); the published ones from the read model's ``business_line_versions`` (the projector keeps every
valid definition read on ``business-lines``).  As on the workers (``engine.published_lines``), a published
version supersedes a line only when it is higher than the version in force.
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa

from config.business_lines import BusinessLine
from memberflow.readmodel import schema
from memberflow.readmodel.projection import utc
from models.admin_rules import BusinessLineHistory, LineVersionInfo


def _shipped(line: BusinessLine) -> LineVersionInfo:
    return LineVersionInfo(version=line.version, name=line.name, levels=len(line.levels), source="rules")


def line_histories(engine: sa.Engine, tenant_id: str,
                   shipped: Mapping[str, BusinessLine]) -> list[BusinessLineHistory]:
    """Every line of ``tenant_id``, shipped or published, by line id."""
    v = schema.business_line_versions.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(v.line_id, v.version, v.definition, v.first_seen_at)
                            .where(v.tenant_id == tenant_id).order_by(v.line_id, v.version)).all()
    versions: dict[str, list[LineVersionInfo]] = {line_id: [_shipped(line)] for line_id, line in shipped.items()}
    for row in rows:
        versions.setdefault(row.line_id, []).append(LineVersionInfo(
            version=row.version, name=row.definition["name"], levels=len(row.definition["levels"]),
            source="published", seen_at=utc(row.first_seen_at)))
    histories = []
    for line_id in sorted(versions):
        # newest first; a published version equal to the shipped one does not supersede it, so it sorts below
        known = sorted(versions[line_id], key=lambda lv: (lv.version, lv.source == "rules"), reverse=True)
        histories.append(BusinessLineHistory(line_id=line_id, in_force=known[0], versions=known))
    return histories
