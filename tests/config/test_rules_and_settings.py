"""Exported schemas stay in step with the pydantic contracts; rules files
are validated with messages naming file, field path and why; settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from config.rules import RuleBook, RulesError, load_rules_file
from config.settings import SHIPPED_RULES_DIR, Settings
from memberflow.tools.schemas import check_schemas, rendered

ROOT = Path(__file__).resolve().parents[2]


def test_exported_schemas_are_current() -> None:
    stale = check_schemas(ROOT / "schemas")
    assert stale == [], f"run `make schemas`: stale {stale}"


def test_every_topic_has_a_schema_with_its_required_fields() -> None:
    schemas = {name: json.loads(text) for name, text in rendered().items()}
    orders = schemas["orders.schema.json"]
    paid = orders["$defs"]["OrderPaid"]
    assert {"event_id", "member_id", "occurred_at", "type", "order_id", "amount"} <= set(paid["required"])
    ledger = schemas["points-ledger.schema.json"]
    assert {"entry_id", "delta", "balance", "cause_event_id", "tenant_id", "member_id"} <= set(ledger["required"])
    assert {"source_topic", "reason", "payload"} <= set(schemas["dead-letters.schema.json"]["required"])


def test_stale_schema_is_detected(tmp_path: Path) -> None:
    for name, text in rendered().items():
        (tmp_path / name).write_text(text)
    assert check_schemas(tmp_path) == []
    (tmp_path / "orders.schema.json").write_text("{}")
    assert check_schemas(tmp_path) == ["orders.schema.json"]


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


def test_rules_check_command_exit_codes(tmp_path: Path) -> None:
    bad = write(tmp_path / "typo.yaml", "tiers: {tiers: [{id: NORMAL}]}\ntime_zone: Mars/Olympus\n")
    run = [sys.executable, "-m", "memberflow.cli", "rules", "check"]
    bad_run = subprocess.run([*run, str(bad)], capture_output=True, text=True, cwd=ROOT)
    assert bad_run.returncode == 1
    assert "time_zone" in bad_run.stderr and "unknown time zone" in bad_run.stderr and str(bad) in bad_run.stderr
    good = subprocess.run([*run, str(SHIPPED_RULES_DIR)], capture_output=True, text=True, cwd=ROOT)
    assert good.returncode == 0, good.stderr


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


def test_settings_from_environment() -> None:
    s = Settings.from_env({"BROKER_URL": "kafka://10.0.0.1:9092", "MEMBERFLOW_TOPIC_PREFIX": "prod.",
                           "MEMBERFLOW_TOPIC_ORDERS": "shop.orders.v2", "MEMBERFLOW_PARTITIONS": "8"})
    assert s.broker_url == "kafka://10.0.0.1:9092"
    assert s.topic("orders") == "shop.orders.v2" and s.topic("reviews") == "prod.reviews"
    assert s.partitions == 8
    with pytest.raises(KeyError):
        s.topic("nonsense")
    tuned = Settings.from_env({"MEMBERFLOW_WARM_STATES": "0", "MEMBERFLOW_FETCH_MAX_WAIT_MS": "250",
                               "MEMBERFLOW_BATCH_MAX": "2000"})
    assert (tuned.warm_states, tuned.fetch_max_wait_ms, tuned.batch_max) == (0, 250, 2000)
