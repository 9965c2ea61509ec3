"""Business lines and their badge rules (seed 000), validated by pydantic.

A business line (Baitiao, Wealth, Gold Bar, Small Treasury...) declares the
fields it reads from its data API snapshots, with their types, and a ladder of
badge levels.  Each level has a rule -- conditions over those fields combined
with ``all``/``any``, nested as deep as needed -- and the rights a member gets
on reaching it.  Everything is checked at load, like the rule-engine style of
compiling once: a condition on an undeclared field, an operator its type does
not support or a threshold that does not parse as the field's type fails
validation with the path of the bad part, never at evaluation.

Lines ship in the rules (``business_lines`` of a rules file, version 1 unless
stated).  At run time a :class:`LineDefinition` published to the
``business-lines`` topic supersedes a tenant's line when its version is higher
(see :mod:`engine.published_lines`).

The compiled form (thresholds parsed once) is built by the model validator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, PrivateAttr, Tag, model_validator

from config.strict import Strict
from models.fields import Ident, LineId

#: Field names are the data API's column names (``lc_score``, ``jt_hold_amt``...).
FieldName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
#: Names a snapshot uses for itself; a line cannot read them as scores.
RESERVED_FIELDS = frozenset({"user_pin", "member_id", "tenant_id", "event_id", "line_id", "dt", "occurred_at"})
MAX_TEXT = 256
Scalar = str | int | float | bool
Value = Decimal | int | bool | str


class FieldType(StrEnum):
    DECIMAL = "decimal"
    INT = "int"
    FLAG = "flag"
    STRING = "string"


class Op(StrEnum):
    GE = ">="
    GT = ">"
    LE = "<="
    LT = "<"
    EQ = "=="
    NE = "!="
    IN = "in"
    NOT_IN = "not_in"


ORDERED = frozenset({Op.GE, Op.GT, Op.LE, Op.LT})
MEMBERSHIP = frozenset({Op.IN, Op.NOT_IN})
OPS_BY_TYPE: dict[FieldType, frozenset[Op]] = {
    FieldType.DECIMAL: ORDERED | {Op.EQ, Op.NE},
    FieldType.INT: ORDERED | {Op.EQ, Op.NE} | MEMBERSHIP,
    FieldType.FLAG: frozenset({Op.EQ, Op.NE}),
    FieldType.STRING: frozenset({Op.EQ, Op.NE}) | MEMBERSHIP,
}

_INT_TEXT = re.compile(r"^[+-]?\d{1,30}$")
_FLAGS = {"1": True, "0": False, "true": True, "false": False, "y": True, "n": False}


def parse_value(kind: FieldType, raw: Any) -> Value:
    """A snapshot value (numbers arrive as strings) as ``kind``; ValueError says why not."""
    if isinstance(raw, bool):
        if kind is FieldType.FLAG:
            return raw
        raise ValueError(f"{raw!r} is not a {kind.value}")
    if kind is FieldType.DECIMAL:
        if not isinstance(raw, str | int | float) or (isinstance(raw, str) and len(raw) > 40):
            raise ValueError(f"{raw!r} is not a decimal")
        try:
            value = Decimal(str(raw).strip())
        except InvalidOperation:
            raise ValueError(f"{raw!r} is not a decimal") from None
        if not value.is_finite():
            raise ValueError(f"{raw!r} is not a finite decimal")
        return value
    if kind is FieldType.INT:
        if isinstance(raw, int):
            return raw
        if isinstance(raw, str) and _INT_TEXT.match(raw.strip()):
            return int(raw)
        raise ValueError(f"{raw!r} is not an integer")
    if kind is FieldType.FLAG:
        key = str(raw).strip().lower() if isinstance(raw, str | int) else None
        if key in _FLAGS:
            return _FLAGS[key]
        raise ValueError(f"{raw!r} is not a flag (0/1, true/false, Y/N)")
    if isinstance(raw, str) and len(raw) <= MAX_TEXT:
        return raw
    if isinstance(raw, int | float):
        return str(raw)
    raise ValueError(f"{raw!r} is not a string of at most {MAX_TEXT} characters")


def canonical(kind: FieldType, value: Value) -> str:
    """The text a parsed value is stored as (parses back to the same value)."""
    if kind is FieldType.FLAG:
        return "1" if value else "0"
    return str(value)


def holds(op: Op, value: Value, threshold: Value | tuple[Value, ...]) -> bool:
    if op is Op.GE:
        return value >= threshold  # type: ignore[operator]
    if op is Op.GT:
        return value > threshold  # type: ignore[operator]
    if op is Op.LE:
        return value <= threshold  # type: ignore[operator]
    if op is Op.LT:
        return value < threshold  # type: ignore[operator]
    if op is Op.EQ:
        return value == threshold
    if op is Op.NE:
        return value != threshold
    if op is Op.IN:
        return value in threshold  # type: ignore[operator]
    return value not in threshold  # type: ignore[operator]


# -- the rule tree -------------------------------------------------------------


class Condition(Strict):
    """``field op value``: e.g. ``{field: lc_score, op: ">=", value: 450}``."""

    field: FieldName
    op: Op
    value: Scalar | list[Scalar] = Field(description="threshold, parsed as the field's type; a list for in/not_in")


class AllOf(Strict):
    all: list[Rule] = Field(min_length=1, max_length=32)


class AnyOf(Strict):
    any: list[Rule] = Field(min_length=1, max_length=32)


def _rule_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "all" if "all" in value else "any" if "any" in value else "condition"
    return "all" if isinstance(value, AllOf) else "any" if isinstance(value, AnyOf) else "condition"


Rule = Annotated[
    Annotated[Condition, Tag("condition")] | Annotated[AllOf, Tag("all")] | Annotated[AnyOf, Tag("any")],
    Discriminator(_rule_kind),
]
AllOf.model_rebuild()
AnyOf.model_rebuild()


@dataclass(frozen=True, slots=True)
class Check:
    """A compiled condition: the threshold parsed as the field's type."""

    path: str
    field: str
    kind: FieldType
    op: Op
    threshold: Value | tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class Group:
    path: str
    mode: Literal["all", "any"]
    items: tuple[Check | Group, ...]


Node = Check | Group


# -- lines -----------------------------------------------------------------------


class Right(Strict):
    """One right (benefit) of a badge level, granted when a member reaches it."""

    benefit: Ident = Field(description="benefit kind, e.g. wealth_fee_coupon")
    description: str = ""
    value: Decimal | None = Field(default=None, ge=0, allow_inf_nan=False, description="face value in money")
    quantity: int = Field(default=1, ge=1, le=1000)
    valid_days: int | None = Field(default=None, ge=1, le=3660, description="validity from the grant; none = open")


class BadgeLevel(Strict):
    level: int = Field(ge=1, le=100)
    name: str = Field(min_length=1, max_length=64)
    rule: Rule
    rights: list[Right] = Field(default_factory=list, max_length=50)


class BadgeDowngrade(StrEnum):
    """Like tiers: one level per evaluation, or straight to the qualified level."""

    ONE_DOWN = "one_down"
    TO_QUALIFIED = "to_qualified"


class BusinessLine(Strict):
    """A business line as configured: fields, levels, protection and warning."""

    name: str = Field(min_length=1, max_length=64)
    version: int = Field(default=1, ge=1, description="monotonic per line; a higher version supersedes")
    fields: dict[FieldName, FieldType] = Field(min_length=1, max_length=64)
    levels: list[BadgeLevel] = Field(min_length=1, max_length=100)
    protection_days: int = Field(default=0, ge=0, le=3660, description="no downgrade this long after an upgrade")
    downgrade: BadgeDowngrade = BadgeDowngrade.ONE_DOWN
    downgrade_warning_days: int = Field(default=7, ge=0, le=365)

    _compiled: dict[int, Node] = PrivateAttr(default_factory=dict)
    #: the engine's memo of this definition's level by a member's stored values (``engine.badges.stored_level``)
    _levels: dict[tuple[str | None, ...], int | None] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> BusinessLine:
        reserved = sorted(RESERVED_FIELDS & set(self.fields))
        if reserved:
            raise ValueError(f"fields.{reserved[0]}: reserved name, a snapshot uses it for itself")
        numbers = [lv.level for lv in self.levels]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError(f"levels: must be numbered 1..{len(numbers)} in order, got {numbers}")
        # raises ValueError naming the path of the bad part
        self._compiled = {lv.level: _compile(lv.rule, f"levels.{i}.rule", self.fields)
                          for i, lv in enumerate(self.levels)}
        return self

    def rule_of(self, level: int) -> Node:
        # read straight from pydantic's private storage: its attribute fallback costs more than the rule
        return self.__pydantic_private__["_compiled"][level]  # type: ignore[index]

    @property
    def levels_memo(self) -> dict[tuple[str | None, ...], int | None]:
        return self.__pydantic_private__["_levels"]  # type: ignore[index]

    def level(self, number: int) -> BadgeLevel | None:
        return self.levels[number - 1] if 1 <= number <= len(self.levels) else None

    @property
    def top(self) -> int:
        return len(self.levels)


def _compile(rule: Condition | AllOf | AnyOf, path: str, fields: dict[str, FieldType]) -> Node:
    if isinstance(rule, AllOf | AnyOf):
        mode: Literal["all", "any"] = "all" if isinstance(rule, AllOf) else "any"
        children = rule.all if isinstance(rule, AllOf) else rule.any
        return Group(path, mode, tuple(_compile(c, f"{path}.{mode}.{i}", fields) for i, c in enumerate(children)))
    kind = fields.get(rule.field)
    if kind is None:
        raise ValueError(f"{path}.field: {rule.field!r} is not one of the line's fields {sorted(fields)}")
    if rule.op not in OPS_BY_TYPE[kind]:
        allowed = " ".join(sorted(o.value for o in OPS_BY_TYPE[kind]))
        raise ValueError(f"{path}.op: {rule.op.value!r} does not apply to {kind.value} field {rule.field} ({allowed})")
    threshold: Value | tuple[Value, ...]
    try:
        if rule.op in MEMBERSHIP:
            if not isinstance(rule.value, list) or not rule.value:
                raise ValueError(f"{rule.op.value} needs a non-empty list")
            threshold = tuple(parse_value(kind, v) for v in rule.value)
        elif isinstance(rule.value, list):
            raise ValueError(f"{rule.op.value} needs a single value, not a list")
        else:
            threshold = parse_value(kind, rule.value)
    except ValueError as exc:
        raise ValueError(f"{path}.value: {exc} (field {rule.field} is {kind.value})") from None
    return Check(path, rule.field, kind, rule.op, threshold)


class LineDefinition(BusinessLine):
    """A business line published to the ``business-lines`` topic (key: ``tenant_id/line_id``).

    Applied by every worker without a restart when ``version`` is higher than
    the version in force for the tenant's line; otherwise ignored.
    """

    tenant_id: Ident = "default"
    line_id: LineId
    version: int = Field(ge=1, description="monotonic per (tenant, line); a version <= the current one is ignored")
