"""Business-line definitions (seed 000): field types, operators, and validation
errors that name the path of the bad part."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from config.business_lines import BusinessLine, FieldType, LineDefinition, Op, holds, parse_value
from config.rules import RulesError, load_rules_file
from config.settings import SHIPPED_RULES_DIR
from engine.published_lines import describe, error_path, parse_definition
from tests.engine.badge_fixtures import shipped


def definition(**over: Any) -> dict[str, Any]:
    base = {
        "tenant_id": "default",
        "line_id": "jd_plus",
        "version": 2,
        "name": "JD Plus",
        "fields": {"plus_score": "int", "plus_amt": "decimal", "plus_flag": "flag", "plus_city": "string"},
        "levels": [
            {"level": 1, "name": "Plus", "rule": {"field": "plus_score", "op": ">=", "value": 100},
             "rights": [{"benefit": "plus_coupon", "value": 5, "valid_days": 7}]},
            {"level": 2, "name": "Plus Gold",
             "rule": {"all": [{"field": "plus_score", "op": ">=", "value": 200},
                              {"any": [{"field": "plus_flag", "op": "==", "value": True},
                                       {"field": "plus_amt", "op": ">", "value": "999.99"}]}]}},
        ],
    }
    return {**base, **over}


def problem(data: dict[str, Any]) -> str:
    parsed = parse_definition(json.dumps(data).encode(), 65536)
    assert isinstance(parsed, str), "expected the definition to be invalid"
    return parsed


def test_shipped_lines_are_seed_000s_four_at_version_1():
    lines = shipped().default.business_lines
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


@pytest.mark.parametrize(
    ("change", "path", "why"),
    [
        (lambda d: d["levels"][1]["rule"]["all"][1]["any"][0].update(field="nope"),
         "levels.1.rule.all.1.any.0.field", "not one of the line's fields"),
        (lambda d: d["levels"][0]["rule"].update(field="plus_flag", op=">="),
         "levels.0.rule.op", "does not apply to flag"),
        (lambda d: d["levels"][0]["rule"].update(value="lots"),
         "levels.0.rule.value", "not an integer"),
        (lambda d: d["levels"][0]["rule"].update(field="plus_city", op="in", value="bj"),
         "levels.0.rule.value", "needs a non-empty list"),
        (lambda d: d["levels"][0]["rule"].update(op=">=", value=[1, 2]),
         "levels.0.rule.value", "single value"),
        (lambda d: d["levels"][1].update(level=3), "levels", "numbered 1..2"),
        (lambda d: d["fields"].update(user_pin="string"), "fields.user_pin", "reserved"),
        (lambda d: d["fields"].update(plus_score="money"), "fields.plus_score", "Input should be"),
        (lambda d: d["levels"][0]["rule"].update(opp=">="), "levels.0.rule.opp", "Extra inputs"),
        (lambda d: d["levels"][1]["rule"].update(all=[]), "levels.1.rule.all", "at least 1"),
        (lambda d: d["levels"][0]["rights"][0].update(value=-1), "levels.0.rights.0.value", "greater than"),
        (lambda d: d.update(version=0), "version", "greater than or equal to 1"),
        (lambda d: d.pop("version"), "version", "Field required"),
        (lambda d: d.update(line_id="bad id!"), "line_id", "pattern"),
        (lambda d: d.update(levels=[]), "levels", "at least 1"),
    ],
)
def test_invalid_definitions_name_the_field_path(change, path, why):
    data = json.loads(json.dumps(definition()))
    change(data)
    detail = problem(data)
    assert detail.startswith(f"{path}:") or f" {path}:" in detail, detail
    assert why in detail, detail


def test_malformed_or_empty_definitions():
    assert parse_definition(b"{nope", 65536).startswith("malformed JSON")
    assert parse_definition(None, 65536) == "empty message"
    assert "bytes >" in parse_definition(b"{" + b" " * 100 + b"}", 50)


def test_error_paths_drop_the_rule_trees_union_tags():
    assert error_path(("levels", 2, "rule", "all", "all", 1, "any", "any", 0, "condition", "op")) == \
        "levels.2.rule.all.1.any.0.op"
    assert error_path(()) == "<root>"


def test_the_rules_file_section_is_validated_too():
    with pytest.raises(ValidationError) as err:
        BusinessLine.model_validate({"name": "x", "fields": {"a": "int"},
                                     "levels": [{"level": 1, "name": "one", "rule": {"field": "b", "op": ">=",
                                                                                      "value": 1}}]})
    assert "levels.0.rule.field" in describe(err.value)


def test_a_bad_line_in_a_rules_file_names_file_line_and_path(tmp_path):
    text = (SHIPPED_RULES_DIR / "default.yaml").read_text().replace(
        "rule: {field: lc_score, op: \">=\", value: 300}", "rule: {field: lc_scor, op: \">=\", value: 300}")
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(RulesError) as info:
        load_rules_file(path)
    message = str(info.value)
    assert str(path) in message and "business_lines.wealth" in message and "levels.0.rule.field" in message
