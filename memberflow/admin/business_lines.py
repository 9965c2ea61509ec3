"""A tenant's business lines as the console shows them: each line's version in force and its history.

The shipped versions come from the tenant's rules in force (the rules directory's, or a published rules
version); the published ones from the read model's ``business_line_versions`` (the projector keeps every
valid definition read on ``business-lines``).  As on the workers (``engine.published_lines``), a published
version supersedes a line only when it is higher than the version in force.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from config.business_lines import BusinessLine
from memberflow.readmodel import schema


@dataclass(frozen=True, slots=True)
class LineVersion:
    version: int
    name: str
    levels: int
    source: str  # "shipped" or "published"
    seen_at: datetime | None = None  # a published version: when the broker first carried it


@dataclass(slots=True)
class LineHistory:
    line_id: str
    in_force: LineVersion
    versions: list[LineVersion] = field(default_factory=list)  # newest first


def _version(line: BusinessLine, source: str, seen_at: datetime | None = None) -> LineVersion:
    return LineVersion(line.version, line.name, len(line.levels), source, seen_at)


def line_histories(engine: sa.Engine, tenant_id: str, shipped: dict[str, BusinessLine]) -> list[LineHistory]:
    """Every line of ``tenant_id``, shipped or published, by line id."""
    v = schema.business_line_versions.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(v.line_id, v.version, v.definition, v.first_seen_at)
                            .where(v.tenant_id == tenant_id).order_by(v.line_id, v.version)).all()
    histories = {line_id: LineHistory(line_id, _version(line, "shipped"), [_version(line, "shipped")])
                 for line_id, line in shipped.items()}
    for row in rows:
        published = LineVersion(row.version, row.definition["name"], len(row.definition["levels"]), "published",
                                row.first_seen_at)
        history = histories.get(row.line_id)
        if history is None:
            histories[row.line_id] = LineHistory(row.line_id, published, [published])
            continue
        history.versions.append(published)
        if published.version > history.in_force.version:
            history.in_force = published
    for history in histories.values():
        history.versions.sort(key=lambda lv: (lv.version, lv.source == "published"), reverse=True)
    return [histories[k] for k in sorted(histories)]
