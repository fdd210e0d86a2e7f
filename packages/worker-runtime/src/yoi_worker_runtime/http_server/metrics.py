"""``GET /v1/metrics``: the server's figures in the Prometheus text format (prometheus-client).

Each app has a registry of its own, so two apps in one process never mix their figures;
counters count from the moment the app was created.

- ``yoi_http_requests_total{method,route,status}``: requests answered; ``route`` is the route's
  template (``/v1/workers/{worker_id}``), ``unmatched`` when none matched; an unusual method
  counts as ``other``;
- ``yoi_http_request_duration_seconds{method,route}``: from a request's arrival to its
  answer's status line (for an event stream: until the stream started);
- ``yoi_http_connections`` and ``yoi_http_connections_closed_total{reason}``: open connections
  and those the connection rules closed (``header_timeout``, ``evicted``, ``refused``);
  ``serve`` only;
- ``yoi_open_streams``: open event streams;
- ``yoi_workers{status}``: Workers by status;
- ``yoi_turns_started_total`` and ``yoi_turns_ended_total{outcome}`` (``completed``,
  ``failed``, ``interrupted``);
- ``yoi_store_write_duration_seconds{operation}`` and ``yoi_store_write_failures_total
  {operation}``: each store write (``prepare``, ``commit``, ``abort``,
  ``record_runtime_started``), timed around the Runtime's persistence call;
- ``yoi_store_commit_batch_size``: changes covered by one commit (they share one sync: the
  group commit of the write path; see :mod:`.watched_store`).

The store figures need the Runtime opened with ``wrap_persistence=WatchedPersistence`` (as
``serve`` does); turns are counted from the Runtime's events (one count per event, as the
Runtime commits it).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from yoi_worker_runtime.http_server.connections import ConnectionGuard
from yoi_worker_runtime.http_server.options import ServerState
from yoi_worker_runtime.http_server.streams import StreamHub
from yoi_worker_runtime.model import RuntimeEvent
from yoi_worker_runtime.runtime import LiveMessage, Runtime

#: The classic text format, which every Prometheus version reads.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Route label of a request that matched no route.
UNMATCHED = "unmatched"
#: Method labels; any other method counts as ``other`` (a client cannot grow the label set).
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

_TURN_ENDS = {
    "turn_completed": "completed",
    "turn_failed": "failed",
    "turn_interrupted": "interrupted",
}
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class _RuntimeCollector(Collector):
    """Workers by status, read from the Runtime at each scrape."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        summary = self.runtime.summary()
        workers = GaugeMetricFamily("yoi_workers", "Workers by status", labels=["status"])
        workers.add_metric(["running"], summary.active_worker_count)
        workers.add_metric(["stopped"], summary.stopped_worker_count)
        workers.add_metric(["cancelled"], summary.cancelled_worker_count)
        yield workers


class _ConnectionCollector(Collector):
    """Open connections and those the connection rules closed, read from the guard."""

    def __init__(self, guard: ConnectionGuard) -> None:
        self.guard = guard

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("yoi_http_connections", "Open connections", value=self.guard.open)
        closed = CounterMetricFamily(
            "yoi_http_connections_closed",
            "Connections closed by the connection rules",
            labels=["reason"],
        )
        for reason in ("header_timeout", "evicted", "refused"):
            closed.add_metric([reason], self.guard.closed[reason])
        yield closed


class Metrics:
    """One app's figures: fed by the request middleware, the Runtime's events and the watched
    persistence; rendered by ``GET /v1/metrics``."""

    def __init__(self, runtime: Runtime, hub: StreamHub, state: ServerState) -> None:
        registry = self.registry = CollectorRegistry()
        self._requests = Counter(
            "yoi_http_requests",
            "Requests answered",
            ["method", "route", "status"],
            registry=registry,
        )
        self._latency = Histogram(
            "yoi_http_request_duration_seconds",
            "Seconds from a request's arrival to its answer's status line",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        streams = Gauge("yoi_open_streams", "Open event streams", registry=registry)
        streams.set_function(lambda: hub.open_streams)
        self._turns_started = Counter("yoi_turns_started", "Turns started", registry=registry)
        self._turns_ended = Counter(
            "yoi_turns_ended", "Turns ended, by outcome", ["outcome"], registry=registry
        )
        self._store_writes = Histogram(
            "yoi_store_write_duration_seconds",
            "Seconds each store write took",
            ["operation"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self._store_failures = Counter(
            "yoi_store_write_failures", "Store writes that failed", ["operation"], registry=registry
        )
        self._commit_batches = Histogram(
            "yoi_store_commit_batch_size",
            "Writes covered by one commit (one fsync)",
            buckets=_BATCH_BUCKETS,
            registry=registry,
        )
        registry.register(_RuntimeCollector(runtime))
        if state.connections is not None:
            registry.register(_ConnectionCollector(state.connections))
        if state.store is not None:
            state.store.on_write(self._store_write)
            state.store.on_commit_batch(self._commit_batches.observe)
        runtime.subscribe(self._runtime_message)

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in _METHODS else "other"
        self._requests.labels(method, route, str(status)).inc()
        self._latency.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def _store_write(self, operation: str, seconds: float, ok: bool) -> None:
        self._store_writes.labels(operation).observe(seconds)
        if not ok:
            self._store_failures.labels(operation).inc()

    def _runtime_message(self, message: LiveMessage) -> None:
        if not isinstance(message, RuntimeEvent):
            return
        if message.kind == "turn_started":
            self._turns_started.inc()
        elif message.kind in _TURN_ENDS:
            self._turns_ended.labels(_TURN_ENDS[message.kind]).inc()
