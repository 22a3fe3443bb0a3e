"""metrics.py declares every family once, and says explicitly which series each belongs to."""

from __future__ import annotations

from jobwatch import metrics as m


def test_every_declared_metric_is_in_exactly_one_group() -> None:
    declared = [v for v in vars(m).values() if isinstance(v, m.Metric)]
    groups = (m.JOB_FAMILIES, m.CRONJOB_FAMILIES, m.FAILURE_COUNTERS, m.EXPORTER_FAMILIES)
    grouped = [metric for group in groups for metric in group]
    assert sorted(grouped, key=lambda x: x.name) == sorted(declared, key=lambda x: x.name)
    assert len({metric.name for metric in grouped}) == len(grouped)
    assert tuple(grouped) == m.ALL


def test_per_job_families_are_gauges_labelled_by_the_job() -> None:
    for metric in m.JOB_FAMILIES:
        assert metric.type == "gauge", metric.name
        assert metric.labels[: len(m.JOB_LABELS)] == m.JOB_LABELS, metric.name
        assert metric.name.startswith("jobwatch_job_"), metric.name


def test_per_cronjob_families_are_gauges_labelled_by_the_cronjob() -> None:
    for metric in m.CRONJOB_FAMILIES:
        assert metric.type == "gauge", metric.name
        assert metric.labels[: len(m.CRONJOB_LABELS)] == m.CRONJOB_LABELS, metric.name
        assert metric.name.startswith("jobwatch_cronjob_"), metric.name


def test_counters_and_self_metrics_are_not_per_object() -> None:
    for metric in (*m.FAILURE_COUNTERS, *m.EXPORTER_FAMILIES):
        assert "job_name" not in metric.labels, metric.name
    assert {metric.type for metric in m.FAILURE_COUNTERS} == {"counter"}
    assert all(metric.name.startswith("jobwatch_exporter_") for metric in m.EXPORTER_FAMILIES)
