"""Process settings: ``MEMBERFLOW_*`` environment variables, read once, validated by pydantic-settings.

Every setting is a field below with its description; ``settings_table`` renders
them for the README (a test keeps the two equal).  A bad value fails at start
with the variable's name and the value (``SettingsError``).  Topic names are
the prefix plus the logical name (``config.topics``) unless one is overridden
with ``MEMBERFLOW_TOPIC_<NAME>`` (``MEMBERFLOW_TOPIC_ORDERS=shop.orders``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, ValidationError
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from config.topics import Topic

SHIPPED_RULES_DIR = Path(__file__).resolve().parent / "rules"
PREFIX = "MEMBERFLOW_"

#: the environment ``Settings`` reads, when not ``os.environ`` (``Settings.from_env``)
_ENVIRONMENT: ContextVar[Mapping[str, str] | None] = ContextVar("memberflow_environment", default=None)


class SettingsError(ValueError):
    """A setting that does not validate; the message names the variable and its value."""


def override_variable(topic: Topic) -> str:
    return f"{PREFIX}TOPIC_{topic.upper().replace('-', '_')}"


class _Environment(EnvSettingsSource):
    """The process environment (or the mapping ``Settings.from_env`` was given), and the
    per-topic name overrides collected into ``topic_overrides``."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        env = _ENVIRONMENT.get()
        return {name.lower(): value for name, value in (os.environ if env is None else env).items() if value}

    def __call__(self) -> dict[str, Any]:
        data = super().__call__()
        overrides = {t.value: self.env_vars[override_variable(t).lower()] for t in Topic
                     if self.env_vars.get(override_variable(t).lower())}
        if overrides:
            data["topic_overrides"] = overrides
        return data


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, frozen=True, extra="ignore", validate_default=False)

    broker_url: str = Field("kafka://127.0.0.1:9092", description="Kafka bootstrap (`BROKER_URL` works too)",
                            validation_alias=AliasChoices(f"{PREFIX}BROKER_URL", "BROKER_URL"))
    data_dir: Path = Field(Path("data"), description="RocksDB tables; one directory per worker")
    web_host: str = Field("127.0.0.1", description="address of the member API and `/metrics`")
    web_port: int = Field(6066, ge=1, le=65535, description="port of the member API and `/metrics`")
    canonical_url: str | None = Field(None, description="how other workers reach this one "
                                      "(default `http://<web_host>:<web_port>`); lookups are routed to the owner")
    app_id: str = Field("memberflow", min_length=1, description="consumer group, and prefix of the table changelogs")
    static_membership: bool = Field(True, description="a restarted worker rejoins the group as the same member "
                                    "(`group.instance.id` = app id @ canonical URL) and takes its partitions back "
                                    "after a crash at once, not after the 10 s the group waits for a lost member")
    topic_prefix: str = Field("", description="prefix of every topic name; `MEMBERFLOW_TOPIC_<NAME>` "
                              "overrides one topic's whole name (e.g. `MEMBERFLOW_TOPIC_ORDERS`)")
    topic_overrides: dict[str, str] = Field(default_factory=dict, exclude=True)
    partitions: int = Field(4, ge=1, le=10_000, description="partitions of every topic (all co-partitioned)")
    rules_dir: Path = Field(SHIPPED_RULES_DIR, description="tenant rules: a directory of `default.yaml` and "
                            "`<tenant>.yaml` files, or one file for every tenant")
    log_level: str = Field("info", description="log level")
    store: str = Field("rocksdb://", description="table store (`memory://` for tests)")
    max_payload_bytes: int = Field(65536, ge=256, description="larger inputs are dead-lettered")
    batch_max: int = Field(500, ge=1, description="most records one fetch hands the members agent")
    warm_states: int = Field(20000, ge=0, description="decoded member states kept between batches (`0`: none)")
    fetch_max_wait_ms: int = Field(20, ge=1, description="longest a fetch waits for new data; Kafka answers as "
                                   "soon as data arrives, Tansu does not, so keep it small there")
    recovery_consistency_check: bool = Field(True, description="Faust's offset check when a table is recovered "
                                             "(it holds on Tansu too: changelog ends are learnt from a marker)")
    producer_request_timeout_s: float = Field(30.0, gt=0, description="a publish the broker has not acknowledged "
                                              "by then fails, and its batch is tried again")
    gc_threshold: int = Field(20000, ge=0, description="allocations between young garbage collections "
                              "(Python's default is 700; `0` keeps it); start-up objects are frozen out of them")
    redemption_timeout_ms: int = Field(10000, ge=1, description="how long `POST …/redemptions` waits for its "
                                       "answer before a 504")
    service_tokens_file: Path = Field(Path("run/service-tokens.jsonl"), description="the hashed service tokens "
                                      "the member API accepts (`memberflow service-token create` adds one); "
                                      "read again when it changes, none valid while it is missing")
    readmodel_url: str = Field("sqlite:///run/readmodel.sqlite", min_length=1, description="the read model's "
                               "database, a SQLAlchemy URL (`postgresql+psycopg://user:pw@host/db` in production)")
    admin_port: int = Field(6080, ge=1, le=65535, description="port of the admin service (`memberflow admin`, on "
                            "`MEMBERFLOW_WEB_HOST`)")
    adjustment_limit_points: int = Field(1000, ge=0, description="most points one credit or debit may move "
                                         "without an approver's approval")
    operator_daily_limit_points: int = Field(5000, ge=0, description="most points one operator's credits and "
                                             "debits may move in a UTC day without approval")
    projector_port: int = Field(6068, ge=1, le=65535, description="port of the projector's `/metrics` "
                                "(on `MEMBERFLOW_WEB_HOST`)")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _Environment(settings_cls)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``env`` (default: the process environment); ``SettingsError`` names a bad variable."""
        with _reading(env):
            try:
                return cls()
            except ValidationError as exc:
                raise SettingsError(_describe(exc)) from None

    def topic(self, topic: Topic | str) -> str:
        """Physical name of a logical topic (``KeyError`` for a name that is none)."""
        try:
            return self.physical_names[topic]
        except KeyError:
            raise KeyError(f"unknown topic {topic!r}") from None

    @cached_property
    def physical_names(self) -> dict[Topic, str]:
        """Logical topic -> physical name, for every topic."""
        return {t: self.topic_overrides.get(t.value) or f"{self.topic_prefix}{t.value}" for t in Topic}

    def logical_topics(self) -> dict[str, Topic]:
        """Physical name -> logical topic, for every topic."""
        return {name: t for t, name in self.physical_names.items()}

    @property
    def web_url(self) -> str:
        return self.canonical_url or f"http://{self.web_host}:{self.web_port}"

    @property
    def group_instance_id(self) -> str | None:
        """The worker's static member id in the consumer group: stable across its restarts,
        unique among the workers (each has its own canonical URL)."""
        return f"{self.app_id}@{self.web_url}" if self.static_membership else None

    @property
    def bootstrap(self) -> str:
        return bootstrap_of(self.broker_url)


def bootstrap_of(broker_url: str) -> str:
    """``host:port`` of a broker URL's first broker, as Kafka clients take it."""
    return broker_url.split("://", 1)[-1].split(";")[0]


@contextmanager
def _reading(env: Mapping[str, str] | None) -> Iterator[None]:
    token = _ENVIRONMENT.set(env)
    try:
        yield
    finally:
        _ENVIRONMENT.reset(token)


def _variable(field: str) -> str:
    return "BROKER_URL" if field == "BROKER_URL" else f"{PREFIX}{field.upper()}"


def _describe(exc: ValidationError) -> str:
    return "; ".join(
        f"{_variable(str(e['loc'][0])) if e['loc'] else 'settings'}={e.get('input')!r}: {e['msg']}"
        for e in exc.errors(include_url=False)
    )


def settings_table() -> str:
    """Every setting as a Markdown table (the README carries it)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        if field.exclude:
            continue
        default = field.default
        shown = "the shipped `config/rules`" if default == SHIPPED_RULES_DIR else (
            "" if default in (None, "") else f"`{str(default).lower() if isinstance(default, bool) else default}`")
        rows.append(f"| `{_variable(name)}` | {shown} | {field.description} |")
    return "\n".join(rows)
