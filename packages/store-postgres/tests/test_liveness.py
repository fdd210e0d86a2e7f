"""Hosting leases across hosts: TTL, heartbeat, the database clock, and an unreachable database."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest
from tcp_proxy import TcpProxy
from waiting import outlast_lease
from yoi_pod_store.contract import DeleteResult, LivenessState
from yoi_pod_store.errors import LeaseClosed, PodLockTimeout, RuntimeAlreadyHosted
from yoi_pod_store.model import PodRecord
from yoi_store_postgres.errors import DatabaseUnavailable, LeaseLost
from yoi_store_postgres.pod_store import PostgresPodStore, open_postgres_pod_store

Sql = Callable[..., list[tuple[Any, ...]]]
Opener = Callable[[str], PostgresPodStore]


@pytest.fixture
def open_store(closing: Callable[[PostgresPodStore], PostgresPodStore]) -> Opener:
    return lambda url: closing(open_postgres_pod_store(url))


def test_heartbeat_keeps_a_lease_live_far_past_its_ttl(
    store_url: str, open_store: Opener, sql: Sql
) -> None:
    store, other = open_store(store_url), open_store(store_url)
    with store.host("rt-1") as lease:
        lease.claim("alpha")
        for _ in range(3):  # three expiries in a row: only the heartbeat keeps it fresh
            outlast_lease(sql, "rt-1")
            probe = other.probe("alpha")
            assert probe.state is LivenessState.LIVE, probe.reason
        assert "database clock" in probe.reason and probe.hint and "rt-1" in probe.hint
        assert not lease.lost
    assert other.probe("alpha").stopped  # closing deletes the row at once


def test_an_unrenewed_lease_is_uncertain_within_the_margin_then_stopped(
    store_url: str, open_store: Opener, sql: Sql
) -> None:
    store = open_store(store_url)
    with store.host("rt-1") as lease:
        lease.claim("alpha")
        # As if the host froze: expiry just passed, by the database's own clock.
        sql(
            "UPDATE yoi_runtime_leases SET expires_at = clock_timestamp() - interval '50 ms' "
            "WHERE runtime_id = 'rt-1'"
        )
        probe = store.probe("alpha")
        assert probe.state is LivenessState.UNCERTAIN, probe.reason
        assert "safety margin" in probe.reason
        assert store.delete_if_stopped("alpha").result is DeleteResult.REFUSED
        sql(
            "UPDATE yoi_runtime_leases SET expires_at = clock_timestamp() - interval '5 s' "
            "WHERE runtime_id = 'rt-1'"
        )
        assert store.probe("alpha").stopped
        # The frozen host wakes up: its lease is lost for good, never silently renewed.
        with pytest.raises(LeaseLost):
            lease.renew()
        assert lease.lost
        with pytest.raises(LeaseLost):
            lease.claim("beta")
        assert store.read("beta") is None
        assert store.delete_if_stopped("alpha").deleted


def test_lease_times_come_from_the_database_clock(
    store_url: str, open_store: Opener, sql: Sql
) -> None:
    store = open_store(store_url)
    with store.host("rt-1"):
        [(ttl_s, skew_s)] = sql(
            "SELECT extract(epoch FROM expires_at - renewed_at)::float8, "
            "abs(extract(epoch FROM clock_timestamp() - renewed_at))::float8 "
            "FROM yoi_runtime_leases WHERE runtime_id = 'rt-1'"
        )
        assert ttl_s == pytest.approx(1.0)
        assert skew_s < 1.0


def test_a_second_lease_of_a_runtime_id_fails_while_the_first_is_fresh(
    store_url: str, open_store: Opener, sql: Sql
) -> None:
    first_store, second_store = open_store(store_url), open_store(store_url)
    first = first_store.host("rt-1")
    outlast_lease(sql, "rt-1")  # past its first expiry: still refused, the heartbeat renewed it
    with pytest.raises(RuntimeAlreadyHosted):
        second_store.host("rt-1")
    # A holder that died without closing: its row expires, then the id can be hosted again.
    sql("UPDATE yoi_runtime_leases SET expires_at = clock_timestamp() - interval '1 hour'")
    with second_store.host("rt-1") as second:
        second.claim("alpha")
        assert first_store.probe("alpha").live
        with pytest.raises(LeaseLost):
            first.claim("beta")  # the old holder finds out at once
    first.close()


def test_closed_lease_deletes_its_row_and_cannot_claim(
    store_url: str, open_store: Opener, sql: Sql
) -> None:
    store = open_store(store_url)
    lease = store.host("rt-1")
    assert sql("SELECT count(*) FROM yoi_runtime_leases") == [(1,)]
    lease.close()
    assert sql("SELECT count(*) FROM yoi_runtime_leases") == [(0,)]
    with pytest.raises(LeaseClosed):
        lease.claim("alpha")


def test_lock_timeout_is_a_typed_error(server_url: str, schema: str, open_store: Opener) -> None:
    url = f"{server_url}?schema={schema}&lock_timeout=0.2"
    holder, waiter = open_store(url), open_store(url)
    with holder.locked("alpha"):
        started = time.monotonic()
        with pytest.raises(PodLockTimeout):
            waiter.write(PodRecord("alpha"))
        assert time.monotonic() - started < 2
    waiter.write(PodRecord("alpha"))


def test_probes_are_uncertain_when_the_database_cannot_be_asked(
    server_url: str, schema: str, open_store: Opener
) -> None:
    direct = open_store(f"{server_url}?schema={schema}&lease_ttl=1")
    target = urllib.parse.urlsplit(server_url)
    assert target.hostname is not None and target.port is not None
    proxy = TcpProxy(target.hostname, target.port)
    cut_off = open_store(
        f"postgresql://yoi@127.0.0.1:{proxy.port}{target.path}?schema={schema}&lease_ttl=1"
        "&connect_timeout=2"
    )
    with direct.host("rt-1") as lease:
        lease.claim("alpha")
        direct.write(PodRecord("idle"))
        assert cut_off.probe("alpha").live
        proxy.cut()
        started = time.monotonic()
        for probe in (cut_off.probe("alpha"), cut_off.probe_runtime("rt-1")):
            assert probe.state is LivenessState.UNCERTAIN, probe.reason
            assert "database cannot be asked" in probe.reason
        assert [p.state for p in cut_off.probe_all_runtimes()] == [LivenessState.UNCERTAIN]
        assert time.monotonic() - started < 3 * 0.5 + 0.5
        with pytest.raises(DatabaseUnavailable):
            cut_off.delete_if_stopped("idle")
        assert direct.read("idle") is not None
        assert direct.probe("alpha").live
