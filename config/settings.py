"""Process settings, read from the environment once.

| variable | default | meaning |
|---|---|---|
| ``MEMBERFLOW_BROKER_URL`` (or ``BROKER_URL``) | ``kafka://127.0.0.1:9092`` | Kafka bootstrap |
| ``MEMBERFLOW_DATA_DIR`` | ``./data`` | RocksDB tables (one dir per worker) |
| ``MEMBERFLOW_WEB_HOST`` / ``MEMBERFLOW_WEB_PORT`` | ``127.0.0.1`` / ``6066`` | member lookup and ``/metrics`` |
| ``MEMBERFLOW_CANONICAL_URL`` | ``http://{host}:{port}`` | URL other workers use to reach this one |
| ``MEMBERFLOW_TOPIC_PREFIX`` | empty | prefix of every topic name |
| ``MEMBERFLOW_TOPIC_<NAME>`` | | full name override of one topic, e.g. ``MEMBERFLOW_TOPIC_ORDERS`` |
| ``MEMBERFLOW_PARTITIONS`` | ``4`` | partitions of every co-partitioned topic |
| ``MEMBERFLOW_RULES_DIR`` | the shipped ``config/rules`` | tenant rule files (``<tenant>.yaml``, ``default.yaml``) |
| ``MEMBERFLOW_LOG_LEVEL`` | ``info`` | log level |
| ``MEMBERFLOW_APP_ID`` | ``memberflow`` | consumer group and table namespace |
| ``MEMBERFLOW_MAX_PAYLOAD_BYTES`` | ``65536`` | larger input payloads are dead-lettered |
| ``MEMBERFLOW_BATCH_MAX`` | ``500`` | most records one fetch hands the members agent |
| ``MEMBERFLOW_WARM_STATES`` | ``20000`` | decoded member states kept between batches (0: none) |
| ``MEMBERFLOW_FETCH_MAX_WAIT_MS`` | ``20`` | longest a fetch waits for new data (Tansu answers late) |
| ``MEMBERFLOW_STORE`` | ``rocksdb://`` | table store (``memory://`` for tests) |
| ``MEMBERFLOW_RECOVERY_CONSISTENCY_CHECK`` | ``true`` | Faust offset check on recovery |
| ``MEMBERFLOW_PRODUCER_REQUEST_TIMEOUT_S`` | ``30`` | an unacknowledged publish fails then; its batch is tried again |
| ``MEMBERFLOW_GC_THRESHOLD`` | ``20000`` | objects allocated between young collections (Python: 700; 0 keeps it) |
| ``MEMBERFLOW_REDEMPTION_TIMEOUT_MS`` | ``10000`` | how long ``POST .../redemptions`` waits for the answer (then 504) |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

SHIPPED_RULES_DIR = Path(__file__).resolve().parent / "rules"

#: Logical topic names; the physical name is prefix + name unless overridden.
TOPICS = (
    "orders",
    "reviews",
    "logins",
    "complaints",
    "profiles",
    "business-scores",
    "redemptions",
    "business-lines",
    "commands",
    "member-rekey",
    "member-commands",
    "evaluation-slices",
    "points-ledger",
    "tier-changes",
    "badge-changes",
    "benefit-grants",
    "notifications",
    "dead-letters",
    "redemption-results",
)


@dataclass(frozen=True)
class Settings:
    broker_url: str = "kafka://127.0.0.1:9092"
    data_dir: Path = Path("data")
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    canonical_url: str | None = None
    topic_prefix: str = ""
    topic_overrides: Mapping[str, str] = field(default_factory=dict)
    partitions: int = 4
    rules_dir: Path = SHIPPED_RULES_DIR
    log_level: str = "info"
    app_id: str = "memberflow"
    max_payload_bytes: int = 65536
    batch_max: int = 500
    warm_states: int = 20000
    fetch_max_wait_ms: int = 20
    store: str = "rocksdb://"
    recovery_consistency_check: bool = True
    redemption_timeout_ms: int = 10000
    gc_threshold: int = 20000
    producer_request_timeout_s: float = 30.0

    def topic(self, name: str) -> str:
        """Physical topic name of logical topic ``name``."""
        if name not in TOPICS:
            raise KeyError(f"unknown topic {name!r}")
        return self.topic_overrides.get(name) or f"{self.topic_prefix}{name}"

    @property
    def web_url(self) -> str:
        return self.canonical_url or f"http://{self.web_host}:{self.web_port}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def get(name: str, default: str) -> str:
            return env.get(f"MEMBERFLOW_{name}", default)

        overrides = {
            t: env[f"MEMBERFLOW_TOPIC_{t.upper().replace('-', '_')}"]
            for t in TOPICS
            if env.get(f"MEMBERFLOW_TOPIC_{t.upper().replace('-', '_')}")
        }
        return cls(
            broker_url=env.get("MEMBERFLOW_BROKER_URL") or env.get("BROKER_URL") or cls.broker_url,
            data_dir=Path(get("DATA_DIR", str(cls.data_dir))),
            web_host=get("WEB_HOST", cls.web_host),
            web_port=int(get("WEB_PORT", str(cls.web_port))),
            canonical_url=get("CANONICAL_URL", "") or None,
            topic_prefix=get("TOPIC_PREFIX", ""),
            topic_overrides=overrides,
            partitions=int(get("PARTITIONS", str(cls.partitions))),
            rules_dir=Path(get("RULES_DIR", str(SHIPPED_RULES_DIR))),
            log_level=get("LOG_LEVEL", cls.log_level),
            app_id=get("APP_ID", cls.app_id),
            max_payload_bytes=int(get("MAX_PAYLOAD_BYTES", str(cls.max_payload_bytes))),
            batch_max=int(get("BATCH_MAX", str(cls.batch_max))),
            warm_states=int(get("WARM_STATES", str(cls.warm_states))),
            fetch_max_wait_ms=int(get("FETCH_MAX_WAIT_MS", str(cls.fetch_max_wait_ms))),
            store=get("STORE", cls.store),
            recovery_consistency_check=get("RECOVERY_CONSISTENCY_CHECK", "true").lower() in ("1", "true", "yes"),
            redemption_timeout_ms=int(get("REDEMPTION_TIMEOUT_MS", str(cls.redemption_timeout_ms))),
            gc_threshold=int(get("GC_THRESHOLD", str(cls.gc_threshold))),
            producer_request_timeout_s=float(get("PRODUCER_REQUEST_TIMEOUT_S", str(cls.producer_request_timeout_s))),
        )
