"""Rules files (config.rules): validated with messages naming file, field path and
why; a tenant's file merges over the default."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.rules import RuleBook, RulesError, load_rules_file
from config.settings import SHIPPED_RULES_DIR


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_bad_rules_name_file_field_path_and_why(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.yaml", (SHIPPED_RULES_DIR / "default.yaml").read_text().replace(
        "threshold: 500", "threshold: -500"))
    with pytest.raises(RulesError) as info:
        load_rules_file(bad)
    message = str(info.value)
    assert str(bad) in message and "tiers.tiers.2.qualify.0.threshold" in message and "greater than" in message


def test_tenant_file_merges_over_default_and_others_fall_back(tmp_path: Path) -> None:
    write(tmp_path / "default.yaml", (SHIPPED_RULES_DIR / "default.yaml").read_text())
    write(tmp_path / "acme.yaml", "time_zone: Europe/Berlin\npoints: {pending_days: 14}\n")
    book = RuleBook.load(tmp_path)
    acme = book.for_tenant("acme")
    assert acme.time_zone == "Europe/Berlin" and acme.points.pending_days == 14
    assert acme.tiers == book.default.tiers  # everything not stated comes from the default
    assert book.for_tenant("someone-else") is book.default


def test_unknown_keys_are_rejected(tmp_path: Path) -> None:
    data = (SHIPPED_RULES_DIR / "default.yaml").read_text() + "\nloyalty_magic: true\n"
    with pytest.raises(RulesError, match="loyalty_magic"):
        load_rules_file(write(tmp_path / "x.yaml", data))


def test_a_copy_with_changed_values_works_out_what_depends_on_them_again() -> None:
    rules = RuleBook.load(SHIPPED_RULES_DIR).for_tenant("default")
    assert rules.event_time.lateness == 7 * 86_400 * 10**6 and str(rules.tz) == rules.time_zone
    later = rules.limits.model_copy(update={"max_lateness": rules.limits.max_lateness / 7})
    copy = rules.model_copy(update={"limits": later, "time_zone": "Europe/Paris", "tenant_id": "t2"})
    assert copy.event_time.lateness == 86_400 * 10**6 and str(copy.tz) == "Europe/Paris"
    assert copy.fingerprint != rules.fingerprint
    assert rules.model_copy().event_time is rules.event_time  # a plain copy keeps them
