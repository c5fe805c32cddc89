"""Prometheus metrics, one registry per app so that several apps (tests) never collide.

Only the server process records metrics (model workers are processes behind its one batcher, and
report nothing themselves), so the counts are whole without the client library's multiprocess mode.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "ner_requests",
            "HTTP requests by route and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "ner_request_seconds",
            "HTTP request latency by route",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.batch_sentences = Histogram(
            "ner_batch_sentences",
            "sentences per model call",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "ner_queue_sentences", "sentences waiting or running", registry=self.registry
        )
        self.queue_tokens = Gauge("ner_queue_tokens", "tokens waiting or running", registry=self.registry)
        self.tokens = Counter("ner_tokens", "tokens tagged", registry=self.registry)
        self.workers_ready = Gauge("ner_workers_ready", "model workers up", registry=self.registry)
        self.worker_restarts = Counter(
            "ner_worker_restarts",
            "model workers replaced after a failure or a missed deadline",
            registry=self.registry,
        )
