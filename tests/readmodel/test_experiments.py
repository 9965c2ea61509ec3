"""Live experiments in the read model: each member's exposures from the member table's changelog (the
summary's ``experiments``), the arm on outputs decided under it, and the per-variant statistics --
checked against a hand computation and against SciPy's own Welch test -- on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from scipy import stats

from config.rules import RuleBook
from config.topics import Topic
from memberflow.readmodel import schema
from memberflow.readmodel.experiment_statistics import Moments, experiment_statistics, status, welch
from memberflow.readmodel.experiments import VariantSums, member_experiments, members_per_variant
from memberflow.readmodel.projection import MEMBERS_CHANGELOG, Projection, Record
from models.admin_experiments import ExperimentStatus
from models.state import ExperimentExposure
from tables.members import NEVER, DueMark, decode_record, encode
from tests.engine.fixtures import Member
from tests.readmodel.experiment_fixtures import ENROLLED, PARTS, RULES, member, records
from tests.readmodel.fixtures import stream

NOW = datetime(2025, 3, 20, tzinfo=UTC)
BOOK = RuleBook.single(RULES)


def project(db: sa.Engine, batch: list[Record]) -> None:
    with db.begin() as conn:
        Projection(BOOK, now=lambda: NOW).apply(conn, batch)


def test_each_member_s_exposure_is_a_row_replaced_by_its_next_summary(db):
    members = [member(*part) for part in PARTS]
    project(db, records(members))
    with db.connect() as conn:
        rows = {r.member_id: r for r in conn.execute(sa.select(schema.experiment_members))}
        assert members_per_variant(conn, "default") == {"double": {"holdout": 3, "double": 4}}
    assert set(rows) == {p[0] for p in PARTS}
    d3 = rows["d3"]
    assert (d3.experiment, d3.variant, Decimal(d3.spend), d3.orders, d3.points_issued, d3.upgrades, d3.downgrades,
            d3.grants, d3.benefits_used) == ("double", "double", Decimal("60.00"), 3, 120, 1, 0, 2, 1)
    assert d3.enrolled_at.replace(tzinfo=d3.enrolled_at.tzinfo or UTC) == ENROLLED
    again = member("d3", "double", "75.50", 4, 150, 1, 0, 2, 2)  # a later value of the same member
    project(db, records([again], first=len(members)))
    with db.connect() as conn:
        (row,) = member_experiments(conn, "default", "d3")
        assert (Decimal(row.spend), row.orders, row.benefits_used) == (Decimal("75.50"), 4, 2)
        assert conn.scalar(sa.select(sa.func.count()).select_from(schema.experiment_members)) == len(PARTS)


def test_a_member_outside_experiments_has_no_row(db):
    m = Member(RULES, member_id="plain")
    m.pay("o1", "12.00", "2025-02-20T09:30:00+00:00")  # before the experiment starts
    project(db, records([m]))
    with db.connect() as conn:
        assert member_experiments(conn, "default", "plain") == []
        assert conn.scalar(sa.select(sa.func.count()).select_from(schema.members)) == 1


def test_outputs_decided_under_an_arm_carry_it(db):
    m = Member(RULES, member_id="d9")
    m.pay("o1", "50.00", "2025-03-02T09:30:00+00:00")
    batch = []
    for out in m.outputs:
        if out.topic == Topic.POINTS_LEDGER:
            value = out.value.model_copy(update={"experiment": "double", "variant": "double"})
            batch.append(Record(out.topic, out.topic, 0, len(batch), out.key.encode(),
                                value.model_dump_json().encode(), 1_700_000_000_000))
    assert batch
    project(db, batch)
    with db.connect() as conn:
        arms = conn.execute(sa.select(schema.ledger.c.experiment, schema.ledger.c.variant)).all()
    assert set(arms) == {("double", "double")}


def test_statistics_per_variant_by_hand(db):
    project(db, records([member(*part) for part in PARTS]))
    with db.connect() as conn:
        figures = experiment_statistics(conn, "default", RULES.experiments[0], RULES, NOW)
    assert figures.status is ExperimentStatus.RUNNING and figures.control == "holdout"
    assert figures.currency == "CNY" and figures.point_value == Decimal("0.1")  # 10 points a yuan
    holdout, double = figures.variants
    assert (holdout.variant, holdout.control, holdout.members, holdout.spend, holdout.spend_per_member) == \
        ("holdout", True, 3, Decimal("60.00"), Decimal("20.00"))
    assert holdout.spend_sd == Decimal("10.00")  # deviations -10, 0, 10: variance 200 / 2
    assert (holdout.orders, holdout.orders_per_member, holdout.downgrades, holdout.points_issued,
            holdout.points_cost, holdout.benefits_granted) == (4, Decimal("1.33"), 1, 60, Decimal("6.00"), 1)
    assert (double.members, double.spend_per_member, double.upgrades, double.points_issued, double.points_cost,
            double.benefits_granted, double.benefits_used) == (4, Decimal("50.00"), 2, 400, Decimal("40.00"), 4, 2)
    assert double.spend_sd == Decimal("25.82")  # sqrt(2000 / 3)
    (diff,) = figures.differences
    # by hand: se^2 = (2000/3)/4 + 100/3 = 200; df = 200^2 / ((500/3)^2/3 + (100/3)^2/2) = 4.0755
    assert (diff.variant, diff.control, diff.difference) == ("double", "holdout", Decimal("30.00"))
    assert diff.degrees_of_freedom == pytest.approx(40000 / ((500 / 3) ** 2 / 3 + (100 / 3) ** 2 / 2))
    half = stats.t.ppf(0.975, diff.degrees_of_freedom) * 200 ** 0.5
    assert (float(diff.ci_low), float(diff.ci_high)) == pytest.approx((30 - half, 30 + half), abs=0.005)
    # and as SciPy's own Welch test has it
    welch_test = stats.ttest_ind([20, 40, 60, 80], [10, 20, 30], equal_var=False)
    interval = welch_test.confidence_interval(0.95)
    assert diff.p_value == pytest.approx(welch_test.pvalue)
    assert (float(diff.ci_low), float(diff.ci_high)) == pytest.approx((interval.low, interval.high), abs=0.005)


def test_statistics_of_a_cohort_count_the_members_enrolled_in_it(db):
    """Enrolled at or after ``enrolled_from``, before ``enrolled_until``: the bounds as the figures name them."""
    days = [datetime(2025, 3, d, 12, tzinfo=UTC) for d in (2, 3, 3, 4, 2, 3, 4)]  # one per member of PARTS
    project(db, records([member(*part, enrolled_at=day) for part, day in zip(PARTS, days, strict=True)]))
    start, end = datetime(2025, 3, 3, tzinfo=UTC), datetime(2025, 3, 4, 12, tzinfo=UTC)
    with db.connect() as conn:
        everyone = experiment_statistics(conn, "default", RULES.experiments[0], RULES, NOW)
        third = experiment_statistics(conn, "default", RULES.experiments[0], RULES, NOW, enrolled_from=start,
                                      enrolled_until=end)
        later = experiment_statistics(conn, "default", RULES.experiments[0], RULES, NOW, enrolled_from=start)
        earlier = experiment_statistics(conn, "default", RULES.experiments[0], RULES, NOW, enrolled_until=start)
    assert [v.members for v in everyone.variants] == [3, 4] and everyone.enrolled_from is None
    # enrolled on the 3rd: h2 (20.00), h3 (30.00), d3 (60.00); d1 and d4, at noon on the 4th, are the end: out
    assert [(v.variant, v.members, v.spend) for v in third.variants] == \
        [("holdout", 2, Decimal("50.00")), ("double", 1, Decimal("60.00"))]
    assert (third.enrolled_from, third.enrolled_until) == (start, end)
    assert third.differences[0].difference == Decimal("35.00")  # 60 - 25
    assert [v.members for v in later.variants] == [2, 3]  # with d1 and d4
    assert [v.members for v in earlier.variants] == [1, 1]  # h1 and d2, on the 2nd


def test_welch_from_sums_agrees_with_scipy_on_raw_samples():
    """The test from an arm's count, sum and sum of squares is SciPy's on the samples themselves."""
    a = [19.0, 22.0, 16.0, 29.0, 24.0]
    b = [20.0, 11.0, 17.0, 12.0]
    sums = [VariantSums(n, len(xs), Decimal(repr(sum(xs))), Decimal(repr(sum(x * x for x in xs))))
            for n, xs in (("a", a), ("b", b))]
    difference, low, high, p, df = welch(Moments.of(sums[0]), Moments.of(sums[1]))
    expected = stats.ttest_ind(a, b, equal_var=False)
    assert float(difference) == pytest.approx(22.0 - 15.0)
    assert p == pytest.approx(expected.pvalue) and df == pytest.approx(expected.df)
    ci = expected.confidence_interval(0.95)
    assert (float(low), float(high)) == pytest.approx((ci.low, ci.high))


def test_arms_without_enough_members_have_no_interval(db):
    project(db, records([member(*PARTS[0]), member(*PARTS[3])]))  # one member a side
    with db.connect() as conn:
        figures = experiment_statistics(conn, "default", RULES.experiments[0], RULES, NOW)
        (diff,) = figures.differences
        assert diff.difference == Decimal("10.00") and diff.ci_low is None and diff.p_value is None
        empty = experiment_statistics(conn, "acme", RULES.experiments[0], RULES, NOW)
    assert [v.members for v in empty.variants] == [0, 0] and empty.differences[0].difference is None


def test_status_follows_the_window_and_the_stop():
    experiment = RULES.experiments[0]
    assert status(experiment, datetime(2025, 2, 1, tzinfo=UTC)) is ExperimentStatus.SCHEDULED
    assert status(experiment, datetime(2030, 4, 1, tzinfo=UTC)) is ExperimentStatus.RUNNING
    ends = experiment.population.model_copy(update={"ends_at": datetime(2025, 4, 1, tzinfo=UTC)})
    assert status(experiment.model_copy(update={"population": ends}), datetime(2025, 4, 1, tzinfo=UTC)) \
        is ExperimentStatus.ENDED
    stopped = experiment.model_copy(update={"stopped_at": datetime(2025, 3, 10, tzinfo=UTC)})
    assert status(stopped, NOW) is ExperimentStatus.STOPPED


def test_stored_values_as_the_workers_write_them(db):
    """The demo stream's member records (state and journal, as the table stores them), a due mark in front,
    with an exposure added to some: the projector reads them like any changelog value."""
    _, stream_records = stream()
    changelog_records = [r for r in stream_records if r.topic == MEMBERS_CHANGELOG]
    chosen = []
    for i, record in enumerate(changelog_records[:6]):
        stored = decode_record(record.value)
        stored.state.experiments = {"double": ExperimentExposure(
            variant="double" if i % 2 else "holdout", enrolled_at=ENROLLED, spend=Decimal(f"{i}5.50"), orders=i)}
        stored.stored_json = None
        value = encode(stored, DueMark(0, NEVER, RULES.fingerprint))
        chosen.append(Record(record.topic, record.physical, 0, 100_000 + i, record.key, value, record.timestamp_ms))
    project(db, [*stream_records, *chosen])
    with db.connect() as conn:
        rows = conn.execute(sa.select(schema.experiment_members)).all()
        assert members_per_variant(conn, "default") == {"double": {"holdout": 3, "double": 3}}
    assert sorted(Decimal(r.spend) for r in rows) == [Decimal(f"{i}5.50") for i in range(6)]
