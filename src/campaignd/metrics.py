"""Prometheus metrics of an instance (served at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENESS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0)

scheduler_lateness = Histogram(
    "campaignd_scheduler_lateness_seconds",
    "Seconds between a campaign's scheduledFor and the start of its run.",
    buckets=LATENESS_BUCKETS,
)
runs_started = Counter("campaignd_runs_started_total", "Runs started, by trigger.", ["trigger"])
runs_finished = Counter("campaignd_runs_finished_total", "Runs finished, by outcome.", ["outcome"])
campaigns_missed = Counter(
    "campaignd_campaigns_missed_total", "Campaigns overdue beyond the misfire grace."
)
deliveries = Counter("campaignd_deliveries_total", "Delivery attempts, by outcome.", ["outcome"])
send_latency = Histogram(
    "campaignd_send_latency_seconds",
    "Seconds one message took at the transport.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
fanout_duration = Histogram(
    "campaignd_fanout_duration_seconds",
    "Seconds a campaign's fan-out took.",
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
queue_depth = Gauge(
    "campaignd_queue_depth", "Deliveries queued or being sent, as the live runs last counted them."
)
lock_owned = Gauge(
    "campaignd_scheduler_lock_owned", "1 when this instance holds the scheduler lock."
)
