"""Business-line definitions (seed 000, config.business_lines): the shipped lines,
field types, operators, compiled rules, and rules files naming the bad part.
(Published definitions refused with the path: tests/engine/test_published_lines.py.)"""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from config.business_lines import BusinessLine, FieldType, LineDefinition, Op, holds, parse_value
from config.rules import RuleBook, RulesError, load_rules_file
from config.settings import SHIPPED_RULES_DIR
from tests.config.fixtures import definition


def test_shipped_lines_are_seed_000s_four_at_version_1():
    lines = RuleBook.load(SHIPPED_RULES_DIR).default.business_lines
    assert sorted(lines) == ["baitiao", "gold_bar", "small_treasury", "wealth"]
    assert {line.version for line in lines.values()} == {1}
    assert lines["wealth"].fields == {"lc_score": FieldType.INT, "jt_hold_amt": FieldType.DECIMAL,
                                      "gdlc_jy_flag": FieldType.FLAG}
    for line in lines.values():
        assert [lv.level for lv in line.levels] == [1, 2, 3]
        assert all(lv.rights for lv in line.levels)


@pytest.mark.parametrize(
    ("kind", "raw", "value"),
    [
        (FieldType.DECIMAL, "3000.00", Decimal("3000.00")),
        (FieldType.DECIMAL, "1600", Decimal("1600")),
        (FieldType.DECIMAL, 12, Decimal(12)),
        (FieldType.DECIMAL, 0.5, Decimal("0.5")),
        (FieldType.DECIMAL, " -1.25 ", Decimal("-1.25")),
        (FieldType.INT, "450", 450),
        (FieldType.INT, 450, 450),
        (FieldType.INT, "-3", -3),
        (FieldType.FLAG, "0", False),
        (FieldType.FLAG, "1", True),
        (FieldType.FLAG, 1, True),
        (FieldType.FLAG, True, True),
        (FieldType.FLAG, "false", False),
        (FieldType.FLAG, "Y", True),
        (FieldType.FLAG, "n", False),
        (FieldType.STRING, "beijing", "beijing"),
        (FieldType.STRING, 42, "42"),
    ],
)
def test_values_parse_as_their_declared_type(kind, raw, value):
    parsed = parse_value(kind, raw)
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        (FieldType.DECIMAL, "abc"),
        (FieldType.DECIMAL, "NaN"),
        (FieldType.DECIMAL, "Infinity"),
        (FieldType.DECIMAL, ""),
        (FieldType.DECIMAL, True),
        (FieldType.DECIMAL, [1]),
        (FieldType.DECIMAL, "1" * 41),
        (FieldType.INT, "450.0"),
        (FieldType.INT, "4.5"),
        (FieldType.INT, "x"),
        (FieldType.INT, True),
        (FieldType.INT, 4.0),
        (FieldType.FLAG, "2"),
        (FieldType.FLAG, "yes"),
        (FieldType.FLAG, 1.0),
        (FieldType.STRING, {"a": 1}),
        (FieldType.STRING, "x" * 257),
        (FieldType.STRING, False),
    ],
)
def test_values_that_do_not_parse_are_refused(kind, raw):
    with pytest.raises(ValueError):
        parse_value(kind, raw)


@pytest.mark.parametrize(
    ("op", "value", "threshold", "expected"),
    [
        (Op.GE, 450, 450, True), (Op.GE, 449, 450, False),
        (Op.GT, 451, 450, True), (Op.GT, 450, 450, False),
        (Op.LE, 450, 450, True), (Op.LE, 451, 450, False),
        (Op.LT, 449, 450, True), (Op.LT, 450, 450, False),
        (Op.EQ, Decimal("3000.00"), Decimal("3000"), True), (Op.EQ, Decimal("3000.01"), Decimal("3000"), False),
        (Op.NE, True, False, True), (Op.NE, False, False, False),
        (Op.IN, "bj", ("bj", "sh"), True), (Op.IN, "gz", ("bj", "sh"), False),
        (Op.NOT_IN, "gz", ("bj", "sh"), True), (Op.NOT_IN, "bj", ("bj", "sh"), False),
    ],
)
def test_every_operator_at_its_boundary(op, value, threshold, expected):
    assert holds(op, value, threshold) is expected


def test_a_valid_definition_compiles_its_thresholds_once():
    line = LineDefinition.model_validate(definition())
    top = line.rule_of(2)
    assert top.mode == "all"
    any_group = top.items[1]
    assert any_group.mode == "any" and any_group.items[1].threshold == Decimal("999.99")
    assert line.rule_of(1).threshold == 100


def test_the_rules_file_section_is_validated_too():
    with pytest.raises(ValidationError) as err:
        BusinessLine.model_validate({"name": "x", "fields": {"a": "int"},
                                     "levels": [{"level": 1, "name": "one", "rule": {"field": "b", "op": ">=",
                                                                                      "value": 1}}]})
    assert "levels.0.rule.field" in str(err.value) and "not one of the line's fields" in str(err.value)


def test_a_bad_line_in_a_rules_file_names_file_line_and_path(tmp_path):
    text = (SHIPPED_RULES_DIR / "default.yaml").read_text().replace(
        "rule: {field: lc_score, op: \">=\", value: 300}", "rule: {field: lc_scor, op: \">=\", value: 300}")
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(RulesError) as info:
        load_rules_file(path)
    message = str(info.value)
    assert str(path) in message and "business_lines.wealth" in message and "levels.0.rule.field" in message
