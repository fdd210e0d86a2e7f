"""Waits that end on a condition, never on a fixed sleep: a lease's expiry by the database's
clock (the one every host's lease is judged by), or any condition polled under a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

Sql = Callable[..., list[tuple[Any, ...]]]

#: A poll interval, always bounded by a deadline.
POLL_SECONDS = 0.02


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g} s"
        time.sleep(POLL_SECONDS)


def outlast_lease(sql: Sql, runtime_id: str) -> None:
    """Return once the database clock is past the lease's expiry as it stands now: from then on
    only a renewal (the holder's heartbeat) keeps that lease live."""
    [(expires_at,)] = sql(
        "SELECT expires_at FROM yoi_runtime_leases WHERE runtime_id = %s", (runtime_id,)
    )
    wait_until(
        lambda: bool(sql("SELECT clock_timestamp() > %s", (expires_at,))[0][0]),
        f"the database clock passing the lease expiry of {runtime_id}",
    )
