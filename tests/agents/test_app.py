"""What ``streams.create_app`` hands Faust from the settings."""

from __future__ import annotations

from pathlib import Path

from tests.agents.fixtures import build_worker


def test_the_consumer_joins_its_group_as_the_static_member_the_settings_name(tmp_path: Path) -> None:
    worker = build_worker(tmp_path)
    assert worker.app.conf.consumer_group_instance_id == "memberflow@http://127.0.0.1:6999"
