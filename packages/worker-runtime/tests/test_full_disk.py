"""A full disk: a change is refused with InsufficientStorage (REST: 507) and leaves nothing
behind, reads keep working, and the same request succeeds once space is freed.

On a real 1 MiB tmpfs where this machine can mount one (the tests run as root here), else on
the real ``fs`` stores behind a wrapper that fails every write with ENOSPC (``small_disk``).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.feature("fs-store")

if "fs-store" not in os.environ.get("YOI_TEST_FEATURES", "fs-store"):
    pytest.skip("runs in the fs-store session", allow_module_level=True)

from small_disk import SmallDisk, small_disk  # noqa: E402
from yoi_worker_runtime import (  # noqa: E402
    BuiltinProfile,
    CreateWorkerRequest,
    InsufficientStorage,
    Runtime,
    TaskIntent,
    WorkerInput,
    WorkerRef,
    to_json,
)

#: More inputs than fit in the slack of the last pages of a full disk's files.
MAX_INPUTS = 500


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    with small_disk(tmp_path) as made:
        yield made


def task(name: str) -> CreateWorkerRequest:
    return CreateWorkerRequest(
        name=name, intent=TaskIntent(objective="fill"), profile=BuiltinProfile(value="none")
    )


def user(content: str) -> WorkerInput:
    return WorkerInput(kind="user", content=content)


def readings(runtime: Runtime) -> Any:
    """What every reader sees (the Runtime answers reads from memory)."""
    workers = runtime.list_workers()
    return to_json(
        (
            workers,
            [runtime.transcript_projection(worker.worker_ref) for worker in workers],
            runtime.read_events(runtime.event_cursor_from_start(), limit=256),
        )
    )


def entries(directory: Path) -> set[str]:
    return {entry.name for entry in directory.iterdir() if not entry.name.startswith(".")}


def send_until_refused(runtime: Runtime, ref: WorkerRef) -> tuple[int, InsufficientStorage]:
    """Send inputs to a full disk until one is refused: the acked count, and the refusal."""
    for sent in range(MAX_INPUTS):
        try:
            runtime.send_input(ref, user(f"input {sent + 1} " + "x" * 200))
        except InsufficientStorage as refused:
            return sent, refused
    raise AssertionError(f"{MAX_INPUTS} inputs fit on a full disk")


def test_a_create_that_fails_on_a_full_disk_leaves_no_session_and_no_pod(
    disk: SmallDisk,
) -> None:
    with disk.open_runtime("rt-full") as runtime:
        sessions = entries(disk.data / "sessions")
        disk.fill()
        with pytest.raises(InsufficientStorage, match=r"No space left on device"):
            runtime.create_worker(task("alpha"))
        assert entries(disk.data / "sessions") == sessions  # nothing orphaned
        assert not (disk.data / "pods" / "alpha").exists()
        assert runtime.list_workers() == []
        disk.free()
        runtime.create_worker(task("alpha"))
        assert len(entries(disk.data / "sessions")) == len(sessions) + 1


def test_a_full_disk_refuses_changes_keeps_reads_and_recovers_when_space_returns(
    disk: SmallDisk,
) -> None:
    with disk.open_runtime("rt-full") as runtime:
        ref = runtime.create_worker(task("alpha")).worker_ref
        runtime.send_input(ref, user("before"))
        disk.fill()
        acked, refused = send_until_refused(runtime, ref)
        assert refused.code == "insufficient_storage"
        assert "No space left on device" in refused.message
        assert "retry once space is freed" in refused.message
        assert str(disk.root) not in refused.message and "short write" not in refused.message
        seen = readings(runtime)
        for _ in range(3):  # still full: refused each time, never a Runtime that gave up
            with pytest.raises(InsufficientStorage):
                runtime.send_input(ref, user("refused"))
            with pytest.raises(InsufficientStorage):
                runtime.stop_worker(ref)
        assert readings(runtime) == seen
        disk.free()
        ack = runtime.send_input(ref, user("after"))
        assert ack.transcript_sequence == acked + 2
        after = readings(runtime)
    with disk.open_runtime("rt-full") as reopened:
        assert readings(reopened) == after
        assert [d for d in reopened.diagnostics() if d.code.startswith("store.")] == []
        page = reopened.transcript_projection(ref, start=acked + 1)
        assert [item.content for item in page.items] == ["after"]


@contextlib.contextmanager
def serving(runtime: Runtime) -> Iterator[str]:
    """The REST adapter of ``runtime`` on a real loopback socket, served from a thread."""
    import uvicorn
    from yoi_worker_runtime import create_http_app

    listener = socket.create_server(("127.0.0.1", 0))
    config = uvicorn.Config(create_http_app(runtime), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listener.close()


@pytest.mark.feature("http-server")
def test_over_rest_a_full_disk_is_507_reads_stay_200_and_space_returning_recovers(
    disk: SmallDisk,
) -> None:
    import http.client
    from urllib.parse import urlsplit

    from yoi_worker_runtime.client import RuntimeClient

    with disk.open_runtime("rt-full") as runtime, serving(runtime) as url:
        client = RuntimeClient(url)
        client.create_worker(task("alpha"))
        disk.fill()
        acked, _ = send_until_refused(runtime, runtime.worker_ref("alpha"))
        address = urlsplit(url)
        connection = http.client.HTTPConnection(address.hostname or "", address.port)
        body = json.dumps({"kind": "user", "content": "refused"})
        connection.request(
            "POST",
            "/v1/workers/alpha/input",
            body,
            {"Content-Type": "application/json"},
        )
        answer = connection.getresponse()
        error = json.loads(answer.read())["error"]
        assert answer.status == 507
        assert error["code"] == "insufficient_storage"
        assert "No space left on device" in error["message"]
        assert str(disk.root) not in error["message"] and "<path>" not in error["message"]
        with pytest.raises(InsufficientStorage) as typed:
            client.send_input("alpha", "refused too")
        assert typed.value.code == "insufficient_storage"
        page = client.transcript("alpha")  # reads are answered meanwhile
        assert len(page.items) == acked
        assert [worker.worker_id for worker in client.list_workers()] == ["alpha"]
        disk.free()
        ack = client.send_input("alpha", "after")
        assert ack.transcript_sequence == acked + 1
        client.close()
        connection.close()
