"""Reading Server-Sent Events from a real server over raw connections, in tests.

``SseReader`` opens one HTTP/1.1 request on its own socket and parses the stream frame by frame
(each frame: its ``id``, ``event`` and decoded ``data``; comments are frames with ``comment``
set), with every read bounded by a deadline.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import attrs


@attrs.frozen
class Frame:
    event: str | None = None
    data: Any = None
    id: int | None = None
    comment: str | None = None


class SseReader:
    def __init__(
        self,
        url: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        receive_buffer: int | None = None,
    ) -> None:
        parts = urlsplit(url)
        assert parts.hostname is not None and parts.port is not None
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer is not None:  # a small window makes a reader that never reads stall
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.connect((parts.hostname, parts.port))
        lines = [f"GET {path} HTTP/1.1", f"Host: {parts.hostname}:{parts.port}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self._buffer = b""
        self.status, self.headers = self._head()

    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("nothing arrived on the stream in time")
        self.sock.settimeout(remaining)
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("the server closed the stream")
        self._buffer += chunk

    def _head(self, timeout: float = 10.0) -> tuple[int, dict[str, str]]:
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self._buffer:
            self._fill(deadline)
        head, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode().split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self._chunked = headers.get("transfer-encoding") == "chunked"
        self._body = b""
        return int(status_line.split()[1]), headers

    def body(self, timeout: float = 10.0) -> Any:
        """The whole (JSON) body of a non-stream answer."""
        deadline = time.monotonic() + timeout
        length = int(self.headers.get("content-length", "0"))
        while len(self._buffer) < length:
            self._fill(deadline)
        return json.loads(self._buffer[:length])

    def _body_bytes(self, deadline: float) -> None:
        """Move decoded body bytes from the socket buffer (de-chunking) into ``_body``."""
        if not self._chunked:
            if not self._buffer:
                self._fill(deadline)
            self._body += self._buffer
            self._buffer = b""
            return
        while True:
            if b"\r\n" in self._buffer:
                size_line, rest = self._buffer.split(b"\r\n", 1)
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    raise EOFError("the stream ended")
                if len(rest) >= size + 2:
                    self._body += rest[:size]
                    self._buffer = rest[size + 2 :]
                    return
            self._fill(deadline)

    def next_frame(self, timeout: float = 10.0) -> Frame:
        deadline = time.monotonic() + timeout
        while b"\n\n" not in self._body:
            self._body_bytes(deadline)
        raw, self._body = self._body.split(b"\n\n", 1)
        fields: dict[str, str] = {}
        for line in raw.decode().split("\n"):
            if line.startswith(":"):
                return Frame(comment=line[1:].strip())
            name, _, value = line.partition(": ")
            fields[name] = value
        event_id = int(fields["id"]) if "id" in fields else None
        data = json.loads(fields["data"]) if "data" in fields else None
        return Frame(event=fields.get("event"), data=data, id=event_id)

    def frames_until(self, predicate: Any, timeout: float = 30.0) -> list[Frame]:
        """Frames (comments left out) up to and including the first that ``predicate`` accepts."""
        deadline = time.monotonic() + timeout
        found: list[Frame] = []
        while True:
            frame = self.next_frame(max(0.001, deadline - time.monotonic()))
            if frame.comment is not None:
                continue
            found.append(frame)
            if predicate(frame):
                return found

    def close(self) -> None:
        self.sock.close()
