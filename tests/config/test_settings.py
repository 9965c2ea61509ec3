"""Settings (config.settings) from the environment: broker, topic names, tuning."""

from __future__ import annotations

import pytest

from config.settings import Settings


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


def test_each_worker_is_a_static_member_of_its_group_unless_turned_off() -> None:
    one = Settings.from_env({"MEMBERFLOW_WEB_PORT": "6070"})
    other = Settings.from_env({"MEMBERFLOW_CANONICAL_URL": "http://worker-2:6066"})
    assert one.group_instance_id == "memberflow@http://127.0.0.1:6070"
    assert other.group_instance_id == "memberflow@http://worker-2:6066"
    assert Settings.from_env({"MEMBERFLOW_STATIC_MEMBERSHIP": "false"}).group_instance_id is None
