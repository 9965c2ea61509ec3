"""Create every topic with the right partition count (kafka-python admin)."""

from __future__ import annotations

import time

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from config.settings import Settings
from config.topics import Topic
from tables.ledger import TABLE_NAME as LEDGER_TABLE_NAME
from tables.members import TABLE_NAME


def all_topics(settings: Settings) -> dict[str, int]:
    """Physical name -> partitions of every topic and table changelog (all co-partitioned)."""
    topics = {settings.topic(t): settings.partitions for t in Topic}
    topics[f"{settings.app_id}-{TABLE_NAME}-changelog"] = settings.partitions
    topics[f"{settings.app_id}-{LEDGER_TABLE_NAME}-changelog"] = settings.partitions
    return topics


def create_topics(settings: Settings, timeout: float = 30.0) -> list[str]:
    """Create missing topics; returns the names created."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap, client_id="memberflow-admin")
            break
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    created = []
    try:
        existing = set(admin.list_topics())
        for name, partitions in all_topics(settings).items():
            if name in existing:
                continue
            config = {"cleanup.policy": "compact"} if name.endswith("-changelog") else {}
            try:
                admin.create_topics([NewTopic(name, partitions, 1, topic_configs=config)])
                created.append(name)
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()
    return created
