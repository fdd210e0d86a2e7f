"""GET /v1/workers in pages, and a huge page that does not hold up other requests."""

from __future__ import annotations

import json

import pytest
from rest_server import post_json, raw, running_server

pytestmark = pytest.mark.feature("http-server")

RECORD_ONLY = {"kind": "builtin", "value": "none"}


def test_pages_walk_every_worker_in_id_order() -> None:
    with running_server("--store", "memory", "--max-worker-list-items", "3") as server:
        for name in ("e", "a", "d", "b", "c"):
            body = {"name": name, "intent": {"kind": "assistant"}, "profile": RECORD_ONLY}
            assert post_json(server.url, "/v1/workers", body).status == 201
        first = raw(server.url, "GET", "/v1/workers").body
        assert [worker["worker_id"] for worker in first["workers"]] == ["a", "b", "c"]
        assert first["next_after"] == "c"
        rest = raw(server.url, "GET", "/v1/workers?after=c&limit=3").body
        assert [worker["worker_id"] for worker in rest["workers"]] == ["d", "e"]
        assert rest["next_after"] is None
        between = raw(server.url, "GET", "/v1/workers?after=bb&limit=1").body
        assert [worker["worker_id"] for worker in between["workers"]] == ["c"]
        too_big = raw(server.url, "GET", "/v1/workers?limit=4")
        assert (too_big.status, too_big.code) == (400, "limit_too_large")
        with server.client() as client:
            assert [worker.worker_id for worker in client.list_workers()] == list("abcde")


def test_a_page_of_big_workers_streams_whole_and_in_order() -> None:
    """Pages this big are encoded off the event loop and streamed (how much that spares other
    requests is measured by bench/worker_list.py)."""
    big = "y" * (256 << 10)
    with running_server("--store", "memory", "--max-body-bytes", str(1 << 20)) as server:
        for index in range(12):
            body = {
                "name": f"big{index:02d}",
                "intent": {"kind": "task", "objective": big + str(index)},
                "profile": RECORD_ONLY,
            }
            assert post_json(server.url, "/v1/workers", body).status == 201
        answer = raw(server.url, "GET", "/v1/workers?limit=10")
        assert answer.status == 200 and answer.headers.get("transfer-encoding") == "chunked"
        workers = answer.body["workers"]
        assert [worker["worker_id"] for worker in workers] == [f"big{i:02d}" for i in range(10)]
        assert [worker["intent"]["objective"] for worker in workers] == [
            big + str(index) for index in range(10)
        ]
        assert answer.body["next_after"] == "big09"


def test_a_small_page_is_one_json_document() -> None:
    with running_server("--store", "memory") as server:
        answer = raw(server.url, "GET", "/v1/workers")
        assert answer.status == 200
        assert answer.body == {"workers": [], "next_after": None}
        assert answer.headers["content-type"] == "application/json"
        assert "content-length" in answer.headers
        json.dumps(answer.body)
