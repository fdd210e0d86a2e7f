"""A scripted chat-completions server on loopback, for what a real model server will not do on
demand: error statuses, ``Retry-After``, malformed or broken streams, stalls, tool-call fragments.

Each request is answered by the next scripted :class:`Reply` and recorded (headers, JSON body,
arrival time). Streams are sent with chunked encoding, one SSE event per chunk, so a stream cut
short (``end="drop"``) is a truncated body the client can tell from a finished one.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import attrs


@attrs.frozen(kw_only=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = attrs.field(factory=dict)
    #: An error reply's JSON body (sent whole), when ``events`` is None.
    body: Any = None
    #: The SSE ``data`` payloads of a stream (dicts are sent as JSON, strings as they are).
    events: list[Any] | None = None
    #: After the events: ``done`` ([DONE], then the body ends), ``drop`` (the connection is cut
    #: mid-body) or ``stall`` (nothing more; the server waits for the client to hang up).
    end: Literal["done", "drop", "stall"] = "done"


@attrs.frozen(kw_only=True)
class Received:
    headers: dict[str, str]
    body: dict[str, Any]
    at: float


def chunk(
    content: str | None = None,
    *,
    tool_calls: list[dict[str, Any]] | None = None,
    finish: str | None = None,
) -> dict[str, Any]:
    """A chat.completion.chunk with one choice."""
    delta: dict[str, Any] = {}
    if content is not None:
        delta["content"] = content
    if tool_calls is not None:
        delta["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "fake",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def usage_chunk(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    """The last chunk a server sends for ``stream_options.include_usage``: no choices."""
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "fake",
        "choices": [],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def text_reply(*pieces: str) -> Reply:
    """A streamed reply of these text pieces, finished with ``stop``."""
    return Reply(events=[*(chunk(piece) for piece in pieces), chunk(finish="stop")])


class FakeOpenAI:
    """Use as a context manager; ``url`` is the base URL to give the engine."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.received: list[Received] = []
        self.request_arrived = threading.Event()
        #: Set when a client hangs up on a stalled stream; ``hung_up_at`` says when.
        self.hung_up = threading.Event()
        self.hung_up_at = 0.0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self.replies.extend(replies)

    def _next(self, received: Received) -> Reply:
        with self._lock:
            self.received.append(received)
            self.request_arrived.set()
            if not self.replies:
                return Reply(status=500, body={"error": {"message": "no reply scripted"}})
            return self.replies.pop(0)

    def __enter__(self) -> FakeOpenAI:
        # A short poll interval: shutdown() waits for the serving loop's next look at its flag.
        serve = functools.partial(self._server.serve_forever, poll_interval=0.02)
        threading.Thread(target=serve, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                headers = {name.lower(): value for name, value in self.headers.items()}
                reply = fake._next(Received(headers=headers, body=body, at=time.monotonic()))
                if reply.events is None:
                    self._send_whole(reply)
                else:
                    self._send_stream(reply, reply.events)

            def _send_whole(self, reply: Reply) -> None:
                data = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _write_chunk(self, data: bytes) -> None:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

            def _send_stream(self, reply: Reply, events: list[Any]) -> None:
                self.send_response(reply.status)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                for event in _payloads(events):
                    self._write_chunk(b"data: %s\n\n" % event.encode())
                if reply.end == "stall":
                    # recv returns b"" once the client closes its end: no polling, no sleep.
                    while self.connection.recv(4096):
                        pass
                    fake.hung_up_at = time.monotonic()
                    fake.hung_up.set()
                if reply.end == "done":
                    self._write_chunk(b"data: [DONE]\n\n")
                    self.wfile.write(b"0\r\n\r\n")
                self.close_connection = reply.end != "done"

        return Handler


def _payloads(events: list[Any]) -> Iterator[str]:
    for event in events:
        yield event if isinstance(event, str) else json.dumps(event)
