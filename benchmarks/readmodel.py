"""The read model on PostgreSQL (`make bench-readmodel`): member search over many members, and the projector.

1. Search: fills the ``members`` table of a throwaway PostgreSQL (started on
   loopback, ``memberflow.dev.postgres``) with BENCH_RM_MEMBERS members
   (default 1,000,000) of one tenant, and ``member_contacts`` with a name, phone
   and email for each, with the schema's own indexes, then runs
   each filter kind of the admin service's member search (the query
   ``memberflow.readmodel.queries.search_members`` builds, first page of 50)
   BENCH_RM_QUERIES times with random bounds and prints p50 and p95 in ms.
2. Projector: applies BENCH_RM_LEDGER ledger records (and the demo stream's
   member changelog) through ``Projection.apply`` in batches of 500, as the
   projector does after a fetch, and prints records/s.  Kafka is left out.
3. Export: downloads every member as CSV and as XLSX over HTTP from the admin
   service (uvicorn on loopback, in this process), reading the body as it
   streams, and prints rows, bytes, seconds and the process's resident memory
   before, at its peak (sampled every 64 KiB read) and after.
"""

from __future__ import annotations

import os
import random
import statistics
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
import uvicorn

from config.rules import RuleBook
from config.settings import SHIPPED_RULES_DIR
from config.topics import Topic
from memberflow.admin.app import create_app
from memberflow.admin.operations import Limits
from memberflow.admin.tokens import create_token
from memberflow.dev.postgres import local_postgres
from memberflow.readmodel import queries, schema
from memberflow.readmodel.database import open_database, prepare
from memberflow.readmodel.projection import Projection, Record
from models.admin import Role
from models.outputs import LedgerEntry

MEMBERS = int(os.environ.get("BENCH_RM_MEMBERS", 1_000_000))
QUERIES = int(os.environ.get("BENCH_RM_QUERIES", 40))
LEDGER = int(os.environ.get("BENCH_RM_LEDGER", 100_000))
TENANT = "default"
NOW = datetime(2026, 3, 1, tzinfo=UTC)
TIERS = ["NORMAL"] * 60 + ["SILVER"] * 25 + ["GOLD"] * 10 + ["DIAMOND"] * 4 + ["BLACK_GOLD"]
STATUSES = ["active"] * 98 + ["locked", "frozen"]
SURNAMES = ["Zhang", "Wang", "Li", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Müller", "Schmidt",
            "García", "Martin", "Smith", "Jones", "Nguyen", "Kim", "Sato", "Suzuki", "Rossi", "Silva", "Novak"]
GIVEN = ["Wei", "Fang", "Min", "Jing", "Lei", "Na", "Anna", "Jan", "Maria", "Luca", "Yuki", "Ana", "Tom", "Eva",
         "Hui", "Jun", "Ming", "Xin", "Yan", "Ying", "Bo", "Chao", "Dan", "Hao", "Kai", "Ling", "Mei", "Ping"]


def name_of(i: int) -> str:
    """A name per member: a surname, a given name and a two-letter tail, so names repeat like real ones."""
    tail = chr(97 + i % 26) + chr(97 + i // 26 % 26)
    return f"{SURNAMES[i * 7 % len(SURNAMES)]} {GIVEN[i * 11 % len(GIVEN)]}{tail}"


def fill(engine: sa.Engine, rng: random.Random) -> float:
    started = time.perf_counter()
    columns = [c.name for c in schema.members.columns]
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur, cur.copy(f"COPY members ({', '.join(columns)}) FROM STDIN") as copy:
            for i in range(MEMBERS):
                balance = int(rng.paretovariate(1.2) * 100)
                spend = Decimal(int(rng.paretovariate(1.1) * 10_000)) / 100
                last = NOW - timedelta(seconds=rng.randrange(400 * 86400))
                row = {"tenant_id": TENANT, "member_id": f"m{i:07d}", "tier": rng.choice(TIERS),
                       "qualified_tier": "NORMAL", "tier_since": None, "protection_until": None,
                       "status": rng.choice(STATUSES), "balance": balance, "spendable": balance, "pending": 0,
                       "debt": 0, "lifetime_earned": balance, "growth": balance, "spend_30d": spend / 12,
                       "spend_365d": spend, "joined_at": last - timedelta(days=rng.randrange(900)),
                       "last_event_at": last, "last_login_at": last, "badges": "[]", "page": "{}",
                       "summarised_at": NOW, "next_expiry_at": last + timedelta(days=rng.randrange(1, 730)),
                       "next_expiry_points": balance}
                copy.write_row([row.get(c) for c in columns])  # the columns left out are null
        raw.commit()
    finally:
        raw.close()
    fill_contacts(engine)
    with engine.connect() as conn:
        auto = conn.execution_options(isolation_level="AUTOCOMMIT")
        auto.execute(sa.text("ANALYZE members"))
        auto.execute(sa.text("ANALYZE member_contacts"))
    return time.perf_counter() - started


def fill_contacts(engine: sa.Engine) -> None:
    columns = [c.name for c in schema.member_contacts.columns]
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur, cur.copy(f"COPY member_contacts ({', '.join(columns)}) FROM STDIN") as copy:
            for i in range(MEMBERS):
                name = name_of(i)
                row = {"tenant_id": TENANT, "member_id": f"m{i:07d}", "name": name, "name_folded": name.casefold(),
                       "name_at": NOW, "phone": f"+86138{i:08d}", "phone_at": NOW,
                       "email": f"member{i}@example.com", "email_at": NOW}
                copy.write_row([row[c] for c in columns])
        raw.commit()
    finally:
        raw.close()


def searches(rng: random.Random) -> dict[str, callable]:
    def when() -> datetime:
        return NOW - timedelta(days=rng.randrange(400))

    return {
        "id prefix": lambda: queries.MemberSearch(TENANT, id_prefix=f"m{rng.randrange(MEMBERS):07d}"[:6]),
        "tier": lambda: queries.MemberSearch(TENANT, tier=rng.choice(TIERS[60:])),
        "status": lambda: queries.MemberSearch(TENANT, status=rng.choice(["locked", "frozen"])),
        "points range": lambda: (lambda lo: queries.MemberSearch(TENANT, points_min=lo, points_max=lo + 50))(
            rng.randrange(100, 2000)),
        "spend range": lambda: (lambda lo: queries.MemberSearch(TENANT, spend_min=Decimal(lo),
                                                                spend_max=Decimal(lo + 20)))(rng.randrange(100, 900)),
        "last activity range": lambda: (lambda t: queries.MemberSearch(TENANT, active_from=t,
                                                                       active_to=t + timedelta(days=1)))(when()),
        "top balance (sorted)": lambda: queries.MemberSearch(TENANT, sort="balance", descending=True),
        "tier, by spend (sorted)": lambda: queries.MemberSearch(TENANT, tier="GOLD", sort="spend_365d",
                                                                descending=True),
        "most recent activity (sorted)": lambda: queries.MemberSearch(TENANT, sort="last_event_at", descending=True),
        "name prefix": lambda: queries.MemberSearch(TENANT, name=name_of(rng.randrange(MEMBERS))[:-1]),
        "name contains": lambda: queries.MemberSearch(TENANT, name=name_of(rng.randrange(MEMBERS)).split()[1],
                                                      name_match="contains"),
        "name contains, rare": lambda: queries.MemberSearch(TENANT, name="zzz", name_match="contains"),
        "phone": lambda: queries.MemberSearch(TENANT, phone=f"+86138{rng.randrange(MEMBERS):08d}"),
        "email": lambda: queries.MemberSearch(TENANT, email=f"member{rng.randrange(MEMBERS)}@example.com"),
    }


def bench_search(engine: sa.Engine, rng: random.Random) -> None:
    print(f"{'filter':<32} {'p50 ms':>8} {'p95 ms':>8} {'rows':>6}")
    with engine.connect() as conn:
        for name, make in searches(rng).items():
            times, found = [], 0
            for _ in range(QUERIES):
                search = make()
                started = time.perf_counter()
                rows, _ = queries.search_members(conn, search, None, 50)
                times.append((time.perf_counter() - started) * 1000)
                found += len(rows)
            times.sort()
            p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
            print(f"{name:<32} {statistics.median(times):8.1f} {p95:8.1f} {found / QUERIES:6.0f}", flush=True)


def ledger_records(rng: random.Random) -> list[Record]:
    records = []
    for offset in range(LEDGER):
        member = f"m{rng.randrange(MEMBERS):07d}"
        entry = LedgerEntry(tenant_id=TENANT, member_id=member, occurred_at=NOW + timedelta(seconds=offset),
                            cause_event_id=f"ev{offset}", entry_id=f"le-{offset:012d}", kind="earn", rule="base",
                            delta=rng.randrange(1, 500), balance=rng.randrange(1, 10_000))
        records.append(Record(Topic.POINTS_LEDGER, Topic.POINTS_LEDGER, offset % 8, offset, member.encode(),
                              entry.model_dump_json().encode(), 0))
    return records


def bench_projector(engine: sa.Engine, rng: random.Random) -> None:
    projection = Projection(RuleBook.load(SHIPPED_RULES_DIR))
    records = ledger_records(rng)
    started = time.perf_counter()
    for at in range(0, len(records), 500):
        with engine.begin() as conn:
            projection.apply(conn, records[at:at + 500])
    elapsed = time.perf_counter() - started
    print(f"projector, ledger records into PostgreSQL: {len(records):,} in {elapsed:.1f} s = "
          f"{len(records) / elapsed:,.0f} records/s (batches of 500, one transaction each)")


def rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        kib = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
    return kib / 1024


class _Discard:
    """The admin service's publishers in a benchmark that writes nothing: nothing is published."""

    def publish(self, value) -> None:
        raise AssertionError("the export benchmark publishes nothing")

    send = wait = publish


def bench_export(engine: sa.Engine) -> None:
    secret, _ = create_token(engine, "bench", Role.VIEWER, TENANT)
    app = create_app(engine, _Discard(), _Discard(), Limits(per_adjustment=0, per_operator_day=0))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    print("export of every member, streamed over HTTP (rows, MiB, s, RSS MiB before / peak / after):")
    try:
        for fmt in ("csv", "xlsx"):
            request = urllib.request.Request(f"http://127.0.0.1:{port}/tenants/{TENANT}/exports/members?format={fmt}",
                                             headers={"Authorization": f"Bearer {secret}"})
            before = peak = rss_mib()
            started = time.perf_counter()
            size = newlines = 0
            with urllib.request.urlopen(request, timeout=3600) as response:
                while chunk := response.read(64 * 1024):
                    size += len(chunk)
                    newlines += chunk.count(b"\n")
                    peak = max(peak, rss_mib())
            elapsed = time.perf_counter() - started
            rows = f"{newlines - 1:,}" if fmt == "csv" else f"{MEMBERS:,} (asked)"
            print(f"  {fmt:4}  {rows:>20} rows  {size / 2**20:8.1f} MiB  {elapsed:7.1f} s  "
                  f"RSS {before:6.0f} / {peak:6.0f} / {rss_mib():6.0f}", flush=True)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def main() -> None:
    rng = random.Random(18)
    with local_postgres() as url:
        engine = open_database(url)
        prepare(engine)
        print(f"filling {MEMBERS:,} members ...", flush=True)
        print(f"filled in {fill(engine, rng):.1f} s", flush=True)
        bench_search(engine, rng)
        bench_export(engine)
        bench_projector(engine, rng)
        engine.dispose()


if __name__ == "__main__":
    main()
