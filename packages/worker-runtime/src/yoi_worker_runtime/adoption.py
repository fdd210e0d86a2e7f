"""Adoption: a Runtime taking over the Workers of a Runtime whose hosting lease lapsed.

When several Runtimes share a store and one of them dies (or is cut off past its lease), its
Workers stay marked running under it and nobody serves them. A Runtime opened with an
:class:`AdoptionPolicy` looks for such Workers every ``interval`` seconds and restores each here
(event ``worker_adopted``), at most ``rate`` per second. The store's fencing decides races: a
Worker's Pod is claimed under its lock and only from a host that probes stopped, so two
adopting Runtimes never both take one Worker; the loser just skips it.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from typing import Protocol

import attrs

from yoi_worker_runtime.errors import (
    InvalidRequest,
    LeaseLost,
    RuntimeClosed,
    RuntimeStopped,
    WorkerConflict,
    WorkerRuntimeError,
)


class Adoptive(Protocol):
    """What adoption needs of a Runtime."""

    @property
    def runtime_id(self) -> str: ...

    def orphans(self) -> list[str]: ...

    def adopt_worker(self, worker_id: str) -> object | None: ...


logger = logging.getLogger(__name__)


def _positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequest(f"{attribute.name} must be a number")
    if not math.isfinite(value) or value <= 0:
        raise InvalidRequest(f"{attribute.name} must be a finite number > 0, got {value!r}")


@attrs.frozen(kw_only=True)
class AdoptionPolicy:
    """How a Runtime adopts: a scan of the store every ``interval`` seconds, at most ``rate``
    adoptions per second (so a Runtime taking over a large host does not stall its own)."""

    interval: float = attrs.field(default=2.0, validator=_positive)
    rate: float = attrs.field(default=20.0, validator=_positive)


class Adopter:
    """The thread that adopts for one Runtime, until :meth:`stop` (or the Runtime can no longer
    change anything)."""

    def __init__(self, runtime: Adoptive, policy: AdoptionPolicy) -> None:
        self._runtime = runtime
        self._policy = policy
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"yoi-adopt-{runtime.runtime_id}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop and wait for an adoption under way to finish."""
        self._stopping.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        # The first scan comes at once: a Runtime started to replace a dead one starts working.
        while not self._stopping.is_set():
            try:
                self.scan()
            except (LeaseLost, RuntimeClosed, RuntimeStopped):
                return
            except WorkerRuntimeError as error:
                logger.warning("adoption: cannot look for orphaned Workers: %s", error.message)
            if self._stopping.wait(self._policy.interval):
                return

    def scan(self, pause: Callable[[float], bool] | None = None) -> list[str]:
        """One pass: adopt every orphaned Worker the store offers now; the ids adopted.

        ``pause(seconds)`` spaces the adoptions out (returns True to give up); by default the
        stop event's wait."""
        pause = pause or self._stopping.wait
        adopted: list[str] = []
        for worker_id in self._runtime.orphans():
            if adopted and pause(1.0 / self._policy.rate):
                break
            try:
                if self._runtime.adopt_worker(worker_id) is not None:
                    adopted.append(worker_id)
            except WorkerConflict as error:
                # Another Runtime took it first, or its host came back: not ours.
                logger.info("adoption: skipped %s: %s", worker_id, error.message)
            except (LeaseLost, RuntimeClosed, RuntimeStopped):
                raise
            except WorkerRuntimeError as error:
                logger.warning("adoption: could not adopt %s: %s", worker_id, error.message)
        return adopted
