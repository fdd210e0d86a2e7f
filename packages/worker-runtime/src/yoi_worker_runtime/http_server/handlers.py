"""What each endpoint does: call one Runtime method and return the model to answer with.

By the time a handler runs, the app has checked the request as :mod:`.routes` declares it (the
Host, the token, the query, the Worker id, the body), and it renders what the handler returns.
What a Worker is and how it behaves lives in the Runtime alone.

Store I/O never runs on the event loop. Mutations write through the Runtime's persistence, so
they run in a worker thread. Reads run inline: the Runtime serves them from memory under a lock
held only for short, I/O-free sections (never behind a store write), so they cannot block the
loop, and a thread hop would cost more than the read itself. With the ``memory`` backend
nothing touches a store at all, and mutations run inline too. Long-poll waits always get a
thread of their own pool.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import attrs
from starlette.responses import Response, StreamingResponse

from yoi_worker_runtime.codec import to_json
from yoi_worker_runtime.http_server.errors import ApiError
from yoi_worker_runtime.http_server.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from yoi_worker_runtime.http_server.metrics import Metrics
from yoi_worker_runtime.http_server.options import AppOptions, ServerState
from yoi_worker_runtime.http_server.streams import StreamHub
from yoi_worker_runtime.model import (
    EventBatch,
    EventCursor,
    RuntimeDiagnostic,
    RuntimeLifecycleAck,
    RuntimeSummary,
    TranscriptProjection,
    TurnDetail,
    TurnInterruptAck,
    WorkerDetail,
    WorkerInteractionAck,
    WorkerLifecycleAck,
    WorkerPage,
    WorkerRef,
    WorkerSummary,
)
from yoi_worker_runtime.runtime import Runtime

T = TypeVar("T")

#: A long-poll waits in slices this long, so a shutdown never waits for a full ``wait``.
_WAIT_SLICE = 0.25
_EVENT_ID = re.compile(r"[0-9]+")


class Service:
    """The Runtime behind the API, and how calls into it are run."""

    def __init__(
        self,
        runtime: Runtime,
        options: AppOptions,
        state: ServerState,
        openapi: dict[str, Any],
    ) -> None:
        self.runtime = runtime
        self.options = options
        self.state = state
        #: The OpenAPI document this server answers with.
        self.openapi = openapi
        self._wait_limiter: anyio.CapacityLimiter | None = None
        self._inline_mutations = runtime.backend == "memory"
        self.hub = StreamHub(runtime, capacity=options.stream_buffer)
        state.on_shutdown(self.hub.close)
        self.metrics = Metrics(runtime, self.hub, state)

    async def mutate(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a Runtime mutation in a worker thread: store I/O never blocks the event loop."""
        if self._inline_mutations:
            return function(*args, **kwargs)
        return await anyio.to_thread.run_sync(partial(function, *args, **kwargs))

    async def long_poll(
        self, wait: float, slice_of: Callable[[float], T], done: Callable[[T], bool]
    ) -> T:
        """``slice_of(seconds)`` (a blocking Runtime wait) in a worker thread of its own pool, in
        short slices until ``done`` or ``wait`` seconds pass, so that a graceful shutdown
        answers waiting clients at once instead of after ``wait``."""
        if self._wait_limiter is None:
            self._wait_limiter = anyio.CapacityLimiter(self.options.max_event_waiters)
        deadline = time.monotonic() + wait
        while True:
            remaining = deadline - time.monotonic()
            step = max(0.0, min(remaining, _WAIT_SLICE))
            result = await anyio.to_thread.run_sync(
                partial(slice_of, step), limiter=self._wait_limiter
            )
            if done(result) or remaining <= _WAIT_SLICE or self.state.stopping():
                return result
            if self.runtime.status == "stopped" or self.runtime.closed:
                return result


@attrs.frozen(kw_only=True)
class Call:
    """One request, checked and parsed as its endpoint declares."""

    service: Service
    #: Every declared query parameter: its parsed value, its default, or None.
    query: dict[str, Any]
    #: The Worker the path names (endpoints under ``/v1/workers/{worker_id}``).
    worker_ref: WorkerRef | None
    #: The body as the endpoint's model; None when it declares none or an optional one is empty.
    body: Any
    #: Path parameters besides the Worker id (e.g. ``turn_id``).
    path: dict[str, str] = attrs.field(factory=dict)
    #: The request's headers, lower-cased names (what streams read ``Last-Event-ID`` from).
    headers: dict[str, str] = attrs.field(factory=dict)

    @property
    def runtime(self) -> Runtime:
        return self.service.runtime

    @property
    def ref(self) -> WorkerRef:
        assert self.worker_ref is not None, "the endpoint's path names no Worker"
        return self.worker_ref


@attrs.frozen
class WithStatus:
    """An answer whose status the handler chooses (a probe's 200 or 503)."""

    status: int
    body: dict[str, str]


def _stopped(runtime: Runtime) -> str | None:
    """Why the Runtime no longer serves, if it does not."""
    lost = runtime.lease_lost_reason
    if lost is not None:
        return (
            f"runtime {runtime.runtime_id} lost its hosting lease ({lost}); it serves nothing "
            "more and must be restarted"
        )
    if runtime.closed:
        return f"runtime {runtime.runtime_id} is closed"
    if runtime.status == "stopped":
        return (
            f"runtime {runtime.runtime_id} has stopped (POST /v1/runtime/stop); reads work, "
            "every change answers 409 runtime_stopped"
        )
    return None


async def health(call: Call) -> WithStatus:
    reason = _stopped(call.runtime)
    if reason is not None:
        status = "lease_lost" if call.runtime.lease_lost_reason is not None else "stopped"
        return WithStatus(503, {"status": status, "reason": reason})
    return WithStatus(200, {"status": "ok"})


def _not_ready(service: Service) -> tuple[str, str] | None:
    """(status, reason) of a server that should get no requests now, in order of weight."""
    stopped = _stopped(service.runtime)
    if stopped is not None:
        lost = service.runtime.lease_lost_reason is not None
        return ("lease_lost" if lost else "stopped"), stopped
    phase = service.state.phase
    if phase == "stopping":
        return "stopping", "the server is shutting down"
    if phase == "starting":
        return "starting", "the server does not accept requests yet"
    store = service.state.store
    problem = store.problem() if store is not None else None
    if problem is not None:
        return "store_failing", problem
    return None


async def ready(call: Call) -> WithStatus:
    not_ready = _not_ready(call.service)
    if not_ready is not None:
        status, reason = not_ready
        return WithStatus(503, {"status": status, "reason": reason})
    return WithStatus(200, {"status": "ready"})


async def metrics(call: Call) -> Response:
    body = call.service.metrics.render()
    headers = {"cache-control": "no-store"}
    return Response(body, media_type=METRICS_CONTENT_TYPE, headers=headers)


async def openapi(call: Call) -> dict[str, Any]:
    return call.service.openapi


async def runtime_summary(call: Call) -> RuntimeSummary:
    return call.runtime.summary()


async def stop_runtime(call: Call) -> RuntimeLifecycleAck:
    return await call.service.mutate(call.runtime.stop_runtime)


async def diagnostics(call: Call) -> list[RuntimeDiagnostic]:
    return call.runtime.diagnostics()


async def list_workers(call: Call) -> Response:
    """A page of Workers. A big page (intents can be long) is encoded a few Workers at a time
    in a worker thread and streamed, so the event loop keeps serving other requests."""
    page = call.runtime.worker_page(after=call.query["after"], limit=call.query["limit"])
    headers = {"cache-control": "no-store", "x-content-type-options": "nosniff"}
    if sum(_rough_size(worker) for worker in page.workers) < _INLINE_BYTES:
        body = json.dumps(to_json(page), ensure_ascii=False, separators=(",", ":")).encode()
        return Response(body, media_type="application/json", headers=headers)
    return StreamingResponse(_page_chunks(page), media_type="application/json", headers=headers)


#: Bytes of JSON a page may have to be rendered at once on the event loop.
_INLINE_BYTES = 64 << 10
#: Workers encoded per trip to a worker thread (one: a Worker's JSON may be megabytes).
_ENCODE_GROUP = 1


def _rough_size(worker: WorkerSummary) -> int:
    """About how long a Worker's JSON is: its free-text fields plus the fixed ones."""
    texts = [getattr(worker.intent, name, None) for name in ("objective", "role", "purpose")]
    return 400 + sum(len(text) for text in texts if isinstance(text, str))


async def _page_chunks(page: WorkerPage) -> AsyncIterator[bytes]:
    def encode(workers: tuple[WorkerSummary, ...]) -> bytes:
        return b",".join(
            json.dumps(to_json(worker), ensure_ascii=False, separators=(",", ":")).encode()
            for worker in workers
        )

    yield b'{"workers":['
    workers = page.workers
    for start in range(0, len(workers), _ENCODE_GROUP):
        group = workers[start : start + _ENCODE_GROUP]
        yield (b"," if start else b"") + await anyio.to_thread.run_sync(encode, group)
    yield b'],"next_after":' + json.dumps(page.next_after).encode() + b"}"


async def create_worker(call: Call) -> WorkerDetail:
    return await call.service.mutate(call.runtime.create_worker, call.body)


async def worker_detail(call: Call) -> WorkerDetail:
    return call.runtime.worker_detail(call.ref)


async def send_input(call: Call) -> WorkerInteractionAck:
    return await call.service.mutate(call.runtime.send_input, call.ref, call.body)


async def stop_worker(call: Call) -> WorkerLifecycleAck:
    return await _finish(call, call.runtime.stop_worker)


async def cancel_worker(call: Call) -> WorkerLifecycleAck:
    return await _finish(call, call.runtime.cancel_worker)


async def _finish(
    call: Call, operation: Callable[[WorkerRef, str | None], WorkerLifecycleAck]
) -> WorkerLifecycleAck:
    reason = call.body.reason if call.body is not None else None
    return await call.service.mutate(operation, call.ref, reason)


async def transcript(call: Call) -> TranscriptProjection:
    query = call.query
    return call.runtime.transcript_projection(call.ref, start=query["start"], limit=query["limit"])


async def events(call: Call) -> EventBatch:
    runtime = call.runtime
    cursor_text, runtime_id = call.query["cursor"], call.query["runtime_id"]
    limit, wait = call.query["limit"], call.query["wait"]
    if cursor_text == "start":
        cursor = runtime.event_cursor_from_start()
    elif cursor_text == "now":
        cursor = runtime.event_cursor_now()
    elif _EVENT_ID.fullmatch(cursor_text):
        cursor = EventCursor(
            runtime_id=runtime_id if runtime_id is not None else runtime.runtime_id,
            next_event_id=int(cursor_text),
        )
    else:
        raise ApiError(
            "invalid_query",
            f"cursor must be 'start', 'now' or an event id, got {cursor_text!r}",
        )
    if runtime_id is not None and cursor_text in ("start", "now"):
        cursor = attrs.evolve(cursor, runtime_id=runtime_id)
    batch = runtime.read_events(cursor, limit)
    if batch.events or wait == 0:
        return batch
    return await call.service.long_poll(
        wait,
        partial(runtime.wait_for_events, cursor, limit=limit),
        lambda found: bool(found.events),
    )


async def interrupt_turn(call: Call) -> TurnInterruptAck:
    drop_queued = call.body.drop_queued if call.body is not None else False
    return await call.service.mutate(call.runtime.interrupt_turn, call.ref, drop_queued=drop_queued)


async def turn_detail(call: Call) -> TurnDetail:
    runtime, ref, turn_id = call.runtime, call.ref, call.path["turn_id"]
    turn = runtime.turn_detail(ref, turn_id)
    wait = call.query["wait"]
    if turn.phase not in ("queued", "running") or wait == 0:
        return turn
    return await call.service.long_poll(
        wait,
        lambda seconds: runtime.wait_for_turn(ref, turn_id, seconds),
        lambda found: found.phase not in ("queued", "running"),
    )


def _stream_start(call: Call) -> int:
    """The event id a stream replays after: ``Last-Event-ID``, else ``?after=`` (``now``, the
    default: only what comes next; ``0``: from the first event)."""
    text = call.headers.get("last-event-id") or call.query["after"]
    last = call.runtime.summary().last_event_id
    if text == "now":
        return last
    if not _EVENT_ID.fullmatch(text) or int(text) > last:
        raise ApiError(
            "invalid_cursor",
            f"a stream starts after 'now', 0 or an event id up to {last}, got {text!r}",
        )
    return int(text)


def _event_stream(call: Call, worker_id: str | None) -> StreamingResponse:
    after = _stream_start(call)
    service = call.service
    body = service.hub.stream(worker_id, after, service.options.stream_heartbeat)
    headers = {"cache-control": "no-store", "x-accel-buffering": "no"}
    return StreamingResponse(body, media_type="text/event-stream", headers=headers)


async def events_stream(call: Call) -> StreamingResponse:
    return _event_stream(call, None)


async def worker_stream(call: Call) -> StreamingResponse:
    call.runtime.worker_detail(call.ref)  # WorkerNotFound before the stream starts
    return _event_stream(call, call.ref.worker_id)
