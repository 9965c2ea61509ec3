"""Member data migration: one row per member, as a CSV or JSONL file or the admin endpoint gives it.

A row carries the member's profile, tier (with since / protection until),
points lots with their earn and expiry dates, and growth.  ``ImportRow``
validates a row; each valid row becomes one ``ImportMember`` command on
``member-commands`` (models/commands.py) whose id is derived from the tenant,
the member and a hash of the row's content, so importing the same file again
imports nothing twice.

In a CSV file the lots are one column, ``lots``: entries separated by ``;``,
each ``<points> <earned at> [<expires at>]`` with RFC 3339 times, e.g.
``120 2025-01-10T00:00:00+08:00 2026-01-11T00:00:00+08:00; 30 2025-06-01T12:00:00+08:00``.
Empty CSV cells are left out.  In JSONL, ``lots`` is a list of objects.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from models.fields import Email, Ident, PersonName, Phone

#: most lots one row may carry
MAX_LOTS = 1000


class ImportLot(BaseModel):
    """Points earned together in the previous system; never pending."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    points: int = Field(ge=1, le=1_000_000_000)
    earned_at: AwareDatetime
    expires_at: AwareDatetime | None = Field(default=None, description="null: the points never expire")

    @model_validator(mode="after")
    def _expires_after_earning(self) -> ImportLot:
        if self.expires_at is not None and self.expires_at <= self.earned_at:
            raise ValueError("expires_at must be after earned_at")
        return self


class ImportRow(BaseModel):
    """One member to import.  Validated with the context ``{"as_of": <the import's moment>}`` (the
    CLI and the endpoint give it), a lot already expired then or earned after it is refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant_id: Ident = "default"
    member_id: Ident
    name: PersonName | None = None
    phone: Phone | None = None
    email: Email | None = None
    birthday: date | None = None
    time_zone: str | None = Field(default=None, max_length=64)
    tier: Ident | None = Field(default=None, description="the member's tier in the previous system")
    tier_since: AwareDatetime | None = None
    protection_until: AwareDatetime | None = Field(default=None, description="no downgrade before then")
    growth: int = Field(default=0, ge=0, le=1_000_000_000)
    lots: list[ImportLot] = Field(default_factory=list, max_length=MAX_LOTS)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except Exception:
                raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("lots", mode="before")
    @classmethod
    def _lots_text(cls, value: object) -> object:
        """The CSV form: ``points earned_at [expires_at]`` entries separated by ``;``."""
        if not isinstance(value, str):
            return value
        lots = []
        for i, entry in enumerate(e for e in value.split(";") if e.strip()):
            parts = entry.split()
            if len(parts) not in (2, 3):
                raise ValueError(f"lot {i + 1}: want '<points> <earned at> [<expires at>]', got {entry.strip()!r}")
            lots.append(dict(zip(("points", "earned_at", "expires_at"), parts, strict=False)))
        return lots

    @field_validator("lots")
    @classmethod
    def _lots_as_of(cls, lots: list[ImportLot], info: ValidationInfo) -> list[ImportLot]:
        as_of = (info.context or {}).get("as_of")
        if as_of is None:
            return lots
        for i, lot in enumerate(lots):
            if lot.earned_at > as_of:
                raise ValueError(f"lot {i + 1} is earned after the import ({as_of.isoformat()})")
            if lot.expires_at is not None and lot.expires_at <= as_of:
                raise ValueError(f"lot {i + 1} expired before the import ({as_of.isoformat()})")
        return lots

    @model_validator(mode="after")
    def _tier_dates(self) -> ImportRow:
        if (self.tier_since is not None or self.protection_until is not None) and self.tier is None:
            raise ValueError("tier_since and protection_until need a tier")
        return self

    def content_hash(self) -> str:
        """A digest of what the row says (the same row in CSV or JSONL gives the same digest)."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def import_command_id(row: ImportRow) -> str:
    """The import command's id: the tenant, the member and the row's content."""
    digest = hashlib.blake2b(f"{row.tenant_id}\x1f{row.member_id}\x1f{row.content_hash()}".encode(),
                             digest_size=12).hexdigest()
    return f"im-{digest}"


def as_of_context(as_of: datetime) -> dict[str, datetime]:
    return {"as_of": as_of}


# -- the file formats ---------------------------------------------------------------


def csv_rows(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, the row's fields) per data row of a CSV file with a header, or (line, why it
    is unreadable).  Empty cells are left out; a row with more cells than the header is refused."""
    reader = csv.DictReader(lines, restkey=EXTRA_CELLS)
    try:
        for record in reader:
            if EXTRA_CELLS in record:
                yield reader.line_num, f"{len(record[EXTRA_CELLS])} cell(s) more than the header has"
                continue
            yield reader.line_num, {k: v.strip() for k, v in record.items()
                                    if k is not None and v is not None and v.strip()}
    except csv.Error as exc:
        yield reader.line_num, f"not CSV: {exc}"


def jsonl_rows(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, the row's object) per non-blank line of a JSONL file, or (line, why it is unreadable)."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            yield number, f"not JSON: {exc}"
            continue
        yield (number, value) if isinstance(value, dict) else (number, "not a JSON object")


READERS = {"csv": csv_rows, "jsonl": jsonl_rows}
EXTRA_CELLS = "\x00extra"


def format_of(path: str) -> str:
    """``csv`` or ``jsonl``, from a file name's suffix (``.json`` and ``.ndjson`` are JSONL)."""
    suffix = path.rsplit(".", 1)[-1].lower()
    if suffix == "csv":
        return "csv"
    if suffix in ("jsonl", "ndjson", "json"):
        return "jsonl"
    raise ValueError(f"{path}: want a .csv or .jsonl file")


def describe(exc: ValidationError) -> str:
    """A validation error as ``path: why; ...`` (the first three)."""
    errors = exc.errors(include_url=False, include_input=False)
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}" for e in errors[:3])


def checked_row(fields: dict[str, Any], tenant_id: str, as_of: datetime) -> ImportRow | str:
    """The row for ``tenant_id`` validated as of the import, or why not."""
    if fields.get("tenant_id", tenant_id) != tenant_id:
        return f"tenant_id: {fields['tenant_id']!r} is not the import's tenant {tenant_id!r}"
    try:
        return ImportRow.model_validate({**fields, "tenant_id": tenant_id}, context=as_of_context(as_of))
    except ValidationError as exc:
        return describe(exc)
