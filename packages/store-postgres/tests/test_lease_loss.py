"""Finding out a lease is lost: the heartbeat tells the holder at once, a refused second
holder learns who holds the lease and when it lapses."""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Any

import pytest
from yoi_pod_store.errors import LeaseLost, RuntimeAlreadyHosted
from yoi_store_postgres.pod_store import PostgresPodStore, open_postgres_pod_store

Sql = Callable[..., list[tuple[Any, ...]]]


@pytest.fixture
def store(
    store_url: str, closing: Callable[[PostgresPodStore], PostgresPodStore]
) -> PostgresPodStore:
    return closing(open_postgres_pod_store(store_url))


def test_the_heartbeat_reports_a_lapsed_lease_to_its_holder_once(
    store: PostgresPodStore, sql: Sql
) -> None:
    reasons: queue.Queue[str] = queue.Queue()
    with store.host("rt-1") as lease:
        lease.on_lost(reasons.put)
        # As if the holder had been stopped past its TTL: the row expired long ago.
        sql("UPDATE yoi_runtime_leases SET expires_at = clock_timestamp() - interval '1 hour'")
        reason = reasons.get(timeout=10)  # the next beat (a quarter TTL) finds out
        assert "expired" in reason
        assert lease.lost and lease.lost_reason == reason
        with pytest.raises(LeaseLost):
            lease.ensure_held()
        # A callback registered after the fact runs at once; none runs twice.
        late: list[str] = []
        lease.on_lost(late.append)
        assert late == [reason]
        assert reasons.empty()


def test_a_refused_second_holder_learns_who_holds_the_lease_and_when_it_lapses(
    store: PostgresPodStore, sql: Sql
) -> None:
    with store.host("rt-1"), pytest.raises(RuntimeAlreadyHosted) as refused:
        store.host("rt-1")
    error = refused.value
    assert error.holder is not None and error.holder.startswith("host ")
    assert error.lapses_in is not None
    # TTL 1 s plus its fifth as the safety margin, less the moments since the renewal.
    assert 0.0 < error.lapses_in <= 1.2
    assert "lapses in" in str(error) and error.holder in str(error)
