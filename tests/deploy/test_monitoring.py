"""Prometheus and Grafana provisioning (deploy/): both workers scraped, the
datasource and a dashboard that queries only the metrics the application
exports (read from the worker's own registry), and covers every one of them."""

from __future__ import annotations

import re
from urllib.parse import urlparse

from tests.deploy.fixtures import (
    ALLOWED_LABEL_VALUES,
    ALLOWED_LABELS,
    ALLOWED_SERIES,
    COUNTERS,
    WORKER_PORT,
    WORKERS,
    iter_panels,
    promql_equality_matchers,
    promql_labels,
    promql_series,
    template_exprs,
)


def test_prometheus_scrapes_both_workers(prometheus_config):
    targets = {}
    for job in prometheus_config["scrape_configs"]:
        for sc in job.get("static_configs", []):
            for t in sc["targets"]:
                targets[t] = job
    for name in WORKERS:
        job = targets.get(f"{name}:{WORKER_PORT}")
        assert job is not None, f"{name} is not scraped"
        assert job.get("metrics_path", "/metrics") == "/metrics"
        interval = job.get("scrape_interval", prometheus_config.get("global", {}).get("scrape_interval"))
        assert interval in {"5s", "15s"}, interval


def test_datasource_points_at_prometheus(datasources, services):
    prom = [d for d in datasources if d["type"] == "prometheus"]
    assert len(prom) == 1
    url = urlparse(prom[0]["url"])
    assert url.hostname == "prometheus" and url.hostname in services
    assert url.port == 9090
    assert prom[0].get("uid")


def test_dashboard_uses_the_provisioned_datasource(dashboard, datasources):
    uid = next(d["uid"] for d in datasources if d["type"] == "prometheus")
    refs = []
    for panel in iter_panels(dashboard["panels"]):
        refs.append(panel.get("datasource"))
        refs += [t.get("datasource") for t in panel.get("targets", [])]
    refs += [v.get("datasource") for v in dashboard.get("templating", {}).get("list", [])]
    for ref in refs:
        if ref is None:
            continue
        ref_uid = ref.get("uid") if isinstance(ref, dict) else ref
        assert ref_uid in {uid, "-- Grafana --"}, ref


# -- dashboard ------------------------------------------------------------------


def test_promql_helpers():
    assert promql_series('sum by (topic) (rate(memberflow_outputs_sent_total{instance=~"$x"}[5m]))') == {
        "memberflow_outputs_sent_total"
    }
    assert promql_series(
        "histogram_quantile(0.99, sum by (le) (rate(a_bucket[$__rate_interval]))) / on (job) b_total"
    ) == {"a_bucket", "b_total"}
    assert promql_series("sum(rate(memberflow_event_total[1m])) > 2e3") == {"memberflow_event_total"}
    assert promql_labels('sum by (direction, to_tier) (x{kind="earn", job=~"a"})') == {
        "direction", "to_tier", "kind", "job"
    }


def test_dashboard_is_valid(dashboard):
    assert dashboard.get("uid") and dashboard.get("title")
    panels = list(iter_panels(dashboard["panels"]))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    for p in panels:
        if p.get("type") == "row":
            continue
        assert p.get("targets"), f"panel {p.get('title')!r} has no query"
        for key in ("h", "w", "x", "y"):
            assert isinstance(p["gridPos"][key], int)
        assert p["gridPos"]["x"] + p["gridPos"]["w"] <= 24


def test_dashboard_queries_only_known_metrics(dashboard, panel_exprs):
    assert panel_exprs
    exprs = panel_exprs + [("templating", e) for e in template_exprs(dashboard)]
    for title, expr in exprs:
        series = promql_series(expr)
        assert series, f"{title}: no metric in {expr!r}"
        unknown = series - ALLOWED_SERIES
        assert not unknown, f"{title}: unknown metric(s) {sorted(unknown)} in {expr!r}"
        bad_labels = promql_labels(expr) - ALLOWED_LABELS
        assert not bad_labels, f"{title}: unknown label(s) {sorted(bad_labels)} in {expr!r}"
        for label, value in promql_equality_matchers(expr):
            if label in ALLOWED_LABEL_VALUES:
                assert value in ALLOWED_LABEL_VALUES[label], f"{title}: {label}={value!r}"


def test_dashboard_job_matches_prometheus(panel_exprs, dashboard, prometheus_config):
    jobs = {j["job_name"] for j in prometheus_config["scrape_configs"]}
    exprs = [e for _, e in panel_exprs] + template_exprs(dashboard)
    for expr in exprs:
        for label, value in promql_equality_matchers(expr):
            if label == "job":
                assert value in jobs, expr


def test_dashboard_covers_every_metric(panel_exprs):
    exprs = [e for _, e in panel_exprs]

    def used(pattern):
        return any(re.search(pattern, e) for e in exprs)

    for counter in COUNTERS:
        assert used(rf"rate\({counter}\b"), f"no rate() of {counter}"
    assert used(r"by \(topic\) \(rate\(memberflow_events_consumed_total\b")
    assert used(r"by \(outcome\) \(rate\(memberflow_events_consumed_total\b")
    assert used(r"by \(reason\) \(rate\(memberflow_dead_letters_total\b")
    assert used(r"by \(topic\) \(rate\(memberflow_outputs_sent_total\b")
    assert used(r"by \(kind\) \(rate\(memberflow_points_total\b")
    assert used(r"by \(direction, to_tier\) \(rate\(memberflow_tier_changes_total\b")
    for q in ("0.5", "0.99"):
        assert used(
            rf"histogram_quantile\({q}0*, sum by \(le\) \(rate\(memberflow_event_processing_seconds_bucket\b"
        ), f"no p{q} latency"
    assert any(
        "memberflow_batch_size_sum" in e and "memberflow_batch_size_count" in e and "/" in e
        for e in exprs
    ), "no average batch size"
    assert used(r"\bup\{[^}]*job=\"memberflow\""), "no worker up panel"
    assert used(r"by \(topic\) \(memberflow_readmodel_lag_records\b"), "no read model lag panel"


def test_prometheus_scrapes_the_projector(prometheus_config, services):
    targets = {t for job in prometheus_config["scrape_configs"] for sc in job.get("static_configs", [])
               for t in sc["targets"]}
    assert "projector:6068" in targets and "projector" in services
