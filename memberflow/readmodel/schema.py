"""The read model's tables (SQLAlchemy Core), one schema for PostgreSQL and SQLite.

Two kinds of table live in the database:

* **Projection tables** (``PROJECTION``): everything the projector derives from
  the topics -- members, ledger entries, grants, benefit instances, gifts, memberships and membership changes,
  redemptions, tier changes, dead letters, audit records, tenant rules versions, business-line versions --
  and the topic offsets the projector has applied (``positions``), written in the same transaction as the rows.
  They are versioned by ``PROJECTION_VERSION``: when the code's version differs
  from the one stored in ``readmodel_meta``, the projector drops them and
  rebuilds them from the start of the topics (schema changes are
  rebuild-from-topics, no migrations).
* **Service tables** (``SERVICE``): the admin service's API tokens, the
  operators' requests (adjustments and account actions, kept for their first
  answer and the daily limits), the approvals of those over a limit and the
  what-if simulations with their reports.
  Nothing derives them from topics, so a rebuild leaves them alone.  Whether
  an operator's command was applied is read from the projection: the outputs
  and dead letters whose ``cause_event_id`` is the command's id.

Money is ``Numeric(18, 2)``; times are timezone-aware.  The indexes are those
the admin endpoints filter and sort on.
"""

from __future__ import annotations

from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    event,
)

#: bump when a projection table or what the projector writes into it changes: the next start rebuilds
PROJECTION_VERSION = 8

metadata = MetaData()
Money = Numeric(18, 2)
#: member ids compare byte by byte on both databases, so an id prefix search uses the key's index on PostgreSQL
MemberId = String(128).with_variant(String(128, collation="C"), "postgresql")
When = DateTime(timezone=True)


def _arm() -> tuple[Column, Column]:
    """The experiment arm an output was decided under (null: none), as the output names it."""
    return (Column("experiment", String(64), comment="the live experiment the member was in (null: none)"),
            Column("variant", String(64), comment="its arm: a variant's name or holdout"))


def _output(name: str, id_column: str, *columns: Column, indexes: tuple[tuple[str, ...], ...] = ()) -> Table:
    """A table of one output topic: its id, the tenant, member and time of its cause, ``columns``."""
    table = Table(
        name, metadata,
        Column(id_column, String(96), primary_key=True),
        Column("tenant_id", String(64), nullable=False),
        Column("member_id", String(128), nullable=False),
        Column("occurred_at", When, nullable=False),
        Column("cause_event_id", String(128), nullable=False),
        *columns,
    )
    Index(f"ix_{name}_member", table.c.tenant_id, table.c.member_id, table.c.occurred_at)
    Index(f"ix_{name}_time", table.c.tenant_id, table.c.occurred_at)
    Index(f"ix_{name}_cause", table.c.cause_event_id)  # an operator's command -> what it did
    for cols in indexes:
        Index(f"ix_{name}_{'_'.join(cols)}", table.c.tenant_id, *(table.c[c] for c in cols), table.c.occurred_at)
    return table


readmodel_meta = Table(
    "readmodel_meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

positions = Table(
    "positions", metadata,
    Column("topic", String(255), primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("next_offset", BigInteger, nullable=False, comment="the offset the projector reads next"),
)

members = Table(
    "members", metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("member_id", MemberId, primary_key=True),
    Column("tier", String(64), nullable=False),
    Column("qualified_tier", String(64), nullable=False),
    Column("tier_since", When),
    Column("protection_until", When),
    Column("status", String(32), nullable=False),
    Column("status_reason", Text),
    Column("status_since", When),
    Column("tier_override_until", When),
    Column("balance", BigInteger, nullable=False),
    Column("spendable", BigInteger, nullable=False),
    Column("pending", BigInteger, nullable=False),
    Column("debt", BigInteger, nullable=False),
    Column("lifetime_earned", BigInteger, nullable=False),
    Column("growth", BigInteger, nullable=False),
    Column("spend_30d", Money, nullable=False),
    Column("spend_365d", Money, nullable=False),
    Column("joined_at", When, nullable=False, comment="the earliest event time the member's state shows"),
    Column("last_event_at", When, nullable=False, comment="the member's latest event time"),
    Column("last_login_at", When),
    Column("badges", JSON, nullable=False),
    Column("page", JSON, nullable=False, comment="engine.views.member_summary as of summarised_at"),
    Column("summarised_at", When, nullable=False),
    Column("next_expiry_at", When, comment="when the member's next points lot expires (null: none expires)"),
    Column("next_expiry_points", BigInteger, nullable=False, default=0, comment="points expiring then"),
)
Index("ix_members_tier", members.c.tenant_id, members.c.tier, members.c.member_id)
Index("ix_members_status", members.c.tenant_id, members.c.status, members.c.member_id)
Index("ix_members_balance", members.c.tenant_id, members.c.balance, members.c.member_id)
Index("ix_members_spend", members.c.tenant_id, members.c.spend_365d, members.c.member_id)
Index("ix_members_activity", members.c.tenant_id, members.c.last_event_at, members.c.member_id)
Index("ix_members_expiry", members.c.tenant_id, members.c.next_expiry_at, members.c.member_id)

#: contact details from ``member-contacts``, merged per field (the latest event time wins); the member search
#: joins them.  A table of its own: a member's row is replaced from the changelog, its contact details are not.
member_contacts = Table(
    "member_contacts", metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("member_id", MemberId, primary_key=True),
    Column("name", String(200)),
    Column("name_folded", String(200).with_variant(String(200, collation="C"), "postgresql"),
           comment="the name case-folded, for a case-insensitive search"),
    Column("name_at", When),
    Column("phone", String(40)),
    Column("phone_at", When),
    Column("email", String(254)),
    Column("email_at", When),
)
Index("ix_member_contacts_name", member_contacts.c.tenant_id, member_contacts.c.name_folded)
# a name searched for anywhere in it (``name_match=contains``): a trigram index, on PostgreSQL only
Index("ix_member_contacts_name_trgm", member_contacts.c.name_folded, postgresql_using="gin",
      postgresql_ops={"name_folded": "gin_trgm_ops"}).ddl_if(dialect="postgresql")
event.listen(metadata, "before_create", DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql"))
Index("ix_member_contacts_phone", member_contacts.c.tenant_id, member_contacts.c.phone)
Index("ix_member_contacts_email", member_contacts.c.tenant_id, member_contacts.c.email)

ledger = _output(
    "ledger_entries", "entry_id",
    Column("kind", String(32), nullable=False),
    Column("rule", String(96), nullable=False),
    Column("delta", BigInteger, nullable=False),
    Column("balance", BigInteger, nullable=False, comment="the running balance as published"),
    Column("order_id", String(128)),
    Column("pending_until", When),
    Column("expires_at", When),
    Column("operator", String(160), comment="an operator's adjustment: who made it"),
    Column("approver", String(160), comment="and who approved it, when it was over a limit"),
    Column("reason", Text, comment="an operator's adjustment: why"),
    *_arm(),
    indexes=(("kind",), ("rule",)),
)

grants = _output(
    "grants", "grant_id",
    Column("benefit", String(96), nullable=False),
    Column("tier", String(64)),
    Column("value", Money),
    Column("quantity", Integer, nullable=False),
    Column("valid_from", When),
    Column("valid_until", When),
    Column("line_id", String(96)),
    Column("badge_level", Integer),
    Column("details", JSON, nullable=False),
    *_arm(),
    indexes=(("benefit",),),
)

redemptions = _output(
    "redemptions", "result_id",
    Column("request_id", String(128), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("status", String(32), nullable=False),
    Column("reason", String(64)),
    Column("points_spent", BigInteger, nullable=False),
    Column("points_returned", BigInteger, nullable=False),
    Column("granted", JSON),
    indexes=(("kind",), ("status",)),
)

tier_changes = _output(
    "tier_changes", "change_id",
    Column("from_tier", String(64), nullable=False),
    Column("to_tier", String(64), nullable=False),
    Column("direction", String(8), nullable=False),
    Column("reason", String(96), nullable=False),
    *_arm(),
    indexes=(("direction",),),
)

#: the notifications of an account's status changes and operators' tier overrides
account_changes = _output(
    "account_changes", "notification_id",
    Column("kind", String(32), nullable=False),
    Column("status", String(32), comment="the status set (kind account_status)"),
    Column("tier", String(64), comment="the tier set (kind tier_override)"),
    Column("until", When, comment="the override's end (kind tier_override)"),
    Column("previous", String(64), comment="the status or tier before"),
    Column("reason", Text, nullable=False),
    Column("operator", String(128)),
    Column("approver", String(128)),
)

gifts = Table(
    "gifts", metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("gift_id", String(128), primary_key=True),
    Column("sender_id", String(128), nullable=False),
    Column("receiver_id", String(128), nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("status", String(32), nullable=False),
    Column("offered_at", When),
    Column("respond_by", When),
    Column("closed_at", When),
    Column("detail", JSON, nullable=False, comment="the gift as the sender's member summary shows it"),
)
Index("ix_gifts_status", gifts.c.tenant_id, gifts.c.status, gifts.c.offered_at)
Index("ix_gifts_sender", gifts.c.tenant_id, gifts.c.sender_id)

benefit_instances = Table(
    "benefit_instances", metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("benefit_id", String(96), primary_key=True, comment="the grant id"),
    Column("member_id", String(128), nullable=False),
    Column("benefit", String(96), nullable=False),
    Column("tier", String(64)),
    Column("value", Money),
    Column("quantity", Integer, nullable=False),
    Column("status", String(16), nullable=False, comment="issued, used, expired or voided"),
    Column("uses", Integer, nullable=False, comment="orders it was used on"),
    Column("amount_saved", Money, comment="the sum of what it took off those orders, as reported"),
    Column("issued_at", When, nullable=False),
    Column("valid_until", When),
    Column("settled_at", When),
    Column("detail", JSON, nullable=False, comment="the instance as the member summary shows it"),
)
Index("ix_benefit_instances_issued", benefit_instances.c.tenant_id, benefit_instances.c.issued_at)
Index("ix_benefit_instances_member", benefit_instances.c.tenant_id, benefit_instances.c.member_id)

#: a member's membership of a merchant's plan (seed 002), as its state shows it when summarised
memberships = Table(
    "memberships", metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("member_id", MemberId, primary_key=True),
    Column("merchant_id", String(64), primary_key=True),
    Column("plan_id", String(64), primary_key=True),
    Column("level_id", String(64), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("since", When, nullable=False),
    Column("until", When),
    Column("status", String(16), nullable=False,
           comment="active, expired or revoked (one past until: expired, as of the summary)"),
    Column("card_id", String(96), nullable=False),
    Column("product_id", String(64)),
)
Index("ix_memberships_plan", memberships.c.tenant_id, memberships.c.merchant_id, memberships.c.plan_id,
      memberships.c.level_id, memberships.c.status)

#: a member's part in a live experiment (config/experiments.py), as its state's exposure shows it when summarised:
#: its arm and what happened to it in the experiment.  The experiment statistics sum these per variant.
experiment_members = Table(
    "experiment_members", metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("experiment", String(64), primary_key=True),
    Column("member_id", MemberId, primary_key=True),
    Column("variant", String(64), nullable=False, comment="a variant's name, or holdout"),
    Column("enrolled_at", When, nullable=False, comment="the event time of the member's first event in it"),
    Column("spend", Money, nullable=False, comment="paid, net of refunds, in the experiment"),
    Column("orders", Integer, nullable=False),
    Column("points_issued", BigInteger, nullable=False),
    Column("upgrades", Integer, nullable=False),
    Column("downgrades", Integer, nullable=False),
    Column("grants", Integer, nullable=False),
    Column("benefits_used", Integer, nullable=False),
)
Index("ix_experiment_members_variant", experiment_members.c.tenant_id, experiment_members.c.experiment,
      experiment_members.c.variant)

membership_changes = _output(
    "membership_changes", "change_id",
    Column("kind", String(16), nullable=False, comment="joined, extended, upgraded, expired or revoked"),
    Column("merchant_id", String(64), nullable=False),
    Column("plan_id", String(64), nullable=False),
    Column("level_id", String(64), nullable=False),
    Column("product_id", String(64)),
    Column("order_id", String(128)),
    Column("card_id", String(96), nullable=False),
    Column("until", When),
    Column("amount", Money, comment="what the card order paid (joined, extended, upgraded)"),
    indexes=(("kind",),),
)

dead_letters = Table(
    "dead_letters", metadata,
    Column("dead_letter_id", String(96), primary_key=True),
    Column("tenant_id", String(64)),
    Column("member_id", String(128)),
    Column("source_topic", String(255), nullable=False),
    Column("partition", Integer),
    Column("offset", BigInteger),
    Column("reason", String(64), nullable=False),
    Column("detail", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("cause_event_id", String(128)),
    Column("recorded_at", When, nullable=False, comment="when the dead letter was published"),
)
Index("ix_dead_letters_tenant", dead_letters.c.tenant_id, dead_letters.c.recorded_at)
Index("ix_dead_letters_cause", dead_letters.c.cause_event_id)

audit = Table(
    "audit", metadata,
    Column("audit_id", String(96), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("at", When, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("role", String(32), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(255)),
    Column("reason", Text, nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("detail", JSON, nullable=False),
)
Index("ix_audit_tenant", audit.c.tenant_id, audit.c.at)

rules_versions = Table(
    "rules_versions", metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("published_by", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("published_at", When, nullable=False),
    Column("rules", JSON, nullable=False, comment="the complete rules document of this version"),
)

business_line_versions = Table(
    "business_line_versions", metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("line_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("definition", JSON, nullable=False, comment="the line's definition as published"),
    Column("first_offset", BigInteger, nullable=False, comment="the offset of the first record with this version"),
    Column("first_seen_at", When, nullable=False, comment="that record's broker timestamp"),
)

api_tokens = Table(
    "api_tokens", metadata,
    Column("token_id", String(32), primary_key=True),
    Column("secret_hash", String(128), nullable=False, comment="sha256 of the secret; the secret is never stored"),
    Column("tenant_id", String(64), comment="null: every tenant"),
    Column("role", String(16), nullable=False),
    Column("name", String(128), nullable=False),
    Column("created_at", When, nullable=False),
    Column("revoked_at", When),
)

operator_requests = Table(
    "operator_requests", metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("request_id", String(128), primary_key=True),
    Column("command_id", String(96), nullable=False),
    Column("member_id", String(128), nullable=False),
    Column("action", String(32), nullable=False),
    Column("points", BigInteger, comment="a credit's or debit's points (signed); null otherwise"),
    Column("token_id", String(32), nullable=False),
    Column("actor", String(160), nullable=False),
    Column("fingerprint", String(64), nullable=False, comment="sha256 of the action, member, body and token"),
    Column("reason", Text, nullable=False),
    Column("requested_at", When, nullable=False),
    Column("approval_id", String(96), comment="set when the request waits for an approver"),
    Column("answer", JSON, nullable=False, comment="the first answer, given again to a retry"),
)
Index("ix_operator_requests_actor", operator_requests.c.tenant_id, operator_requests.c.token_id,
      operator_requests.c.requested_at)
Index("ix_operator_requests_member", operator_requests.c.tenant_id, operator_requests.c.member_id,
      operator_requests.c.requested_at)

approvals = Table(
    "approvals", metadata,
    Column("approval_id", String(96), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("member_id", String(128), nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("command_id", String(96), nullable=False),
    Column("action", String(32), nullable=False),
    Column("points", BigInteger),
    Column("maker", String(160), nullable=False),
    Column("maker_token_id", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("why", Text, nullable=False, comment="which limit it is over"),
    Column("requested_at", When, nullable=False),
    Column("command", JSON, nullable=False, comment="the command published once approved (approver filled in then)"),
    Column("state", String(16), nullable=False, comment="pending, approved or rejected"),
    Column("decided_by", String(160)),
    Column("decided_at", When),
    Column("decision_reason", Text),
)
Index("ix_approvals_state", approvals.c.tenant_id, approvals.c.state, approvals.c.requested_at)

#: what-if simulations started through the admin service: their state and, once done, the report (its figures and
#: its HTML page), so that any admin instance serves them; at most one runs per tenant (``ux_simulations_running``)
simulations = Table(
    "simulations", metadata,
    Column("simulation_id", String(40), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("state", String(16), nullable=False, comment="running, done or failed"),
    Column("days", Integer, nullable=False),
    Column("evaluate", String(16), nullable=False),
    Column("since", When, nullable=False),
    Column("until", When, nullable=False),
    Column("base_rules", String(64), nullable=False, comment="the rules in force compared with, as outputs name them"),
    Column("rules", JSON, nullable=False, comment="the candidate's complete rules document"),
    Column("requested_by", String(160), nullable=False),
    Column("token_id", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("started_at", When, nullable=False),
    Column("heartbeat_at", When, nullable=False, comment="the running instance's last sign of life"),
    Column("finished_at", When),
    Column("error", Text),
    Column("figures", JSON, comment="report.json"),
    Column("report_html", Text, comment="report.html"),
)
Index("ix_simulations_tenant", simulations.c.tenant_id, simulations.c.started_at)
Index("ux_simulations_running", simulations.c.tenant_id, unique=True,
      sqlite_where=simulations.c.state == "running", postgresql_where=simulations.c.state == "running")

SERVICE: tuple[Table, ...] = (api_tokens, operator_requests, approvals, simulations)
PROJECTION: tuple[Table, ...] = tuple(t for t in metadata.sorted_tables if t not in SERVICE)
