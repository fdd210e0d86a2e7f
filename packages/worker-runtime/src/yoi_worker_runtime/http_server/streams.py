"""Server-Sent Events: the Runtime's events and text deltas, live, resumable by event id.

One :class:`StreamHub` per app listens to the Runtime once and fans every message out to the
open streams. Each stream has a bounded buffer, so a slow reader never slows the Runtime or
another stream: when its buffer is full, text deltas are dropped first (the reader is told how
many with ``event: deltas_dropped``, where they would have been); when a durable event would
be dropped, the stream ends with ``event: lagged`` naming the last event it delivered, so the
reader resumes from there.

Resuming: a stream registers with the hub *before* it replays the durable events after the
reader's cursor from the Runtime, then sends what arrived live, skipping ids it already sent.
So it misses nothing committed while it replayed, and sends nothing twice. Durable events
carry ``id:``; deltas and notes carry none, so ``Last-Event-ID`` always names a durable event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import attrs

from yoi_worker_runtime.codec import to_json
from yoi_worker_runtime.model import EventCursor, RuntimeEvent, TurnTextDelta
from yoi_worker_runtime.runtime import LiveMessage, Runtime

#: Durable events replayed per read while a stream catches up.
_REPLAY_PAGE = 256


def _frame(kind: str, data: object, event_id: int | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"{head}event: {kind}\ndata: {body}\n\n".encode()


@attrs.define(eq=False)
class _Item:
    """A message shared by every stream it goes to; encoded once, by the first to send it."""

    message: LiveMessage
    frame: bytes | None = None

    def encoded(self) -> bytes:
        if self.frame is None:
            message = self.message
            if isinstance(message, RuntimeEvent):
                self.frame = _frame(message.kind, to_json(message), message.id)
            else:
                self.frame = _frame("text_delta", to_json(message))
        return self.frame


@attrs.define(eq=False)
class _Queued:
    """An item in one stream's buffer, and how many deltas were dropped just before it."""

    item: _Item
    dropped_before: int = 0


class _Subscriber:
    """One open stream's buffer. ``push`` runs on whatever thread committed the message (under
    the Runtime's lock: it only appends); the stream's task takes from it on the event loop."""

    def __init__(
        self, worker_id: str | None, capacity: int, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.worker_id = worker_id
        self.capacity = capacity
        self._loop = loop
        self._lock = threading.Lock()
        self._items: deque[_Queued] = deque()
        self._wake = asyncio.Event()
        self._wake_pending = False
        #: Deltas dropped after the last buffered item (told before the next one).
        self._dropped_last = 0
        self.lagged = False
        self.closing = False

    def wants(self, message: LiveMessage) -> bool:
        if self.worker_id is None:
            return True
        ref = message.worker_ref
        return ref is not None and ref.worker_id == self.worker_id

    def push(self, item: _Item) -> None:
        with self._lock:
            if self.lagged or self.closing:
                return
            if len(self._items) >= self.capacity and not self._make_room(item):
                return
            self._items.append(_Queued(item, self._dropped_last))
            self._dropped_last = 0
            self._signal()

    def _make_room(self, item: _Item) -> bool:
        """Drop a delta to fit ``item``; a durable event that cannot fit ends the stream. The
        count of dropped deltas moves to the item after them, so the reader learns of the gap
        where it is."""
        if isinstance(item.message, TurnTextDelta):
            self._dropped_last += 1
            self._signal()  # the reader hears of the drop even if nothing follows
            return False
        for index, queued in enumerate(self._items):
            if isinstance(queued.item.message, TurnTextDelta):
                del self._items[index]
                gap = queued.dropped_before + 1
                if index < len(self._items):
                    self._items[index].dropped_before += gap
                else:
                    self._dropped_last += gap
                return True
        self.lagged = True
        self._signal()
        return False

    def close(self) -> None:
        with self._lock:
            self.closing = True
            self._signal()

    def _signal(self) -> None:
        if not self._wake_pending:
            self._wake_pending = True
            self._loop.call_soon_threadsafe(self._wake.set)

    async def take(self, timeout: float) -> tuple[list[_Queued], int]:
        """Everything buffered and the deltas dropped after it, waiting up to ``timeout`` for
        something (empty: none came)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        with self._lock:
            self._wake.clear()
            self._wake_pending = False
            items = list(self._items)
            self._items.clear()
            dropped_last, self._dropped_last = self._dropped_last, 0
        return items, dropped_last


class StreamHub:
    """Fans the Runtime's messages out to every open stream of one app."""

    def __init__(self, runtime: Runtime, *, capacity: int) -> None:
        self.runtime = runtime
        self.capacity = capacity
        self._lock = threading.Lock()
        self._subscribers: set[_Subscriber] = set()
        self._unsubscribe: Any = None
        self._closed = False

    @property
    def open_streams(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def _deliver(self, message: LiveMessage) -> None:
        item = _Item(message)
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            if subscriber.wants(message):
                subscriber.push(item)

    def register(self, worker_id: str | None) -> _Subscriber:
        subscriber = _Subscriber(worker_id, self.capacity, asyncio.get_running_loop())
        with self._lock:
            if self._unsubscribe is None:
                self._unsubscribe = self.runtime.subscribe(self._deliver)
            if self._closed:
                subscriber.closing = True
            self._subscribers.add(subscriber)
        return subscriber

    def unregister(self, subscriber: _Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(subscriber)

    def close(self) -> None:
        """End every stream with ``event: shutdown`` (the server is stopping)."""
        with self._lock:
            self._closed = True
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            subscriber.close()

    async def stream(
        self, worker_id: str | None, after: int, heartbeat: float
    ) -> AsyncIterator[bytes]:
        """The SSE body: events after ``after`` (replayed), then live messages until the reader
        goes away, lags, or the server stops."""
        subscriber = self.register(worker_id)
        try:
            yield b": connected\n\n"
            last = after
            async for frame, event_id in self._replay(worker_id, after):
                last = event_id
                yield frame
            while True:
                items, dropped_last = await subscriber.take(heartbeat)
                for queued in items:
                    if queued.dropped_before:
                        yield _frame("deltas_dropped", {"count": queued.dropped_before})
                    message = queued.item.message
                    if isinstance(message, RuntimeEvent):
                        if message.id <= last:
                            continue  # sent by the replay already
                        last = message.id
                    yield queued.item.encoded()
                if dropped_last:
                    yield _frame("deltas_dropped", {"count": dropped_last})
                dropped = dropped_last + sum(queued.dropped_before for queued in items)
                if subscriber.lagged:
                    yield _frame("lagged", {"last_event_id": last})
                    return
                if subscriber.closing:
                    yield _frame("shutdown", {"last_event_id": last})
                    return
                if not items and not dropped:
                    yield b": heartbeat\n\n"
        finally:
            self.unregister(subscriber)

    async def _replay(self, worker_id: str | None, after: int) -> AsyncIterator[tuple[bytes, int]]:
        runtime = self.runtime
        cursor = EventCursor(runtime_id=runtime.runtime_id, next_event_id=after + 1)
        while True:
            batch = runtime.read_events(cursor, _REPLAY_PAGE)
            for event in batch.events:
                ref = event.worker_ref
                if worker_id is None or (ref is not None and ref.worker_id == worker_id):
                    yield _Item(event).encoded(), event.id
            if not batch.has_more:
                return
            cursor = batch.cursor
            await asyncio.sleep(0)  # let other streams run while a long backlog replays
