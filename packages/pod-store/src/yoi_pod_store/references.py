"""Which sessions are still referenced by Pods and Runtimes.

A session cleanup must never delete a session that a Pod's active pointer names or that a
Runtime keeps its own state in. Records that cannot be read are reported, never skipped
silently: a caller about to delete must treat an incomplete answer as "refuse".
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from yoi_pod_store.contract import PodStore
from yoi_pod_store.errors import CorruptRecord


@attrs.frozen
class SessionReferences:
    #: session id -> who references it, e.g. ``("pod alpha", "runtime rt-1")``.
    by_session: Mapping[str, tuple[str, ...]]
    #: Pod and runtime records that could not be read (they may reference any session).
    corrupt: tuple[CorruptRecord, ...] = ()

    @property
    def session_ids(self) -> frozenset[str]:
        return frozenset(self.by_session)

    @property
    def complete(self) -> bool:
        """True when every record was read, so sessions not listed are truly unreferenced."""
        return not self.corrupt

    def referrers(self, session_id: str) -> tuple[str, ...]:
        return self.by_session.get(session_id, ())

    def __contains__(self, session_id: object) -> bool:
        return session_id in self.by_session


def referenced_sessions(store: PodStore) -> SessionReferences:
    """Every session id referenced by a Pod's active pointer or a runtime record.

    A pending pointer (session reserved, no segment yet) counts. Read this again right before
    each deletion: references taken once at the start of a long cleanup go stale.
    """
    found: dict[str, list[str]] = {}
    corrupt: list[CorruptRecord] = []
    for pod in store.list_pods():
        if pod.error is not None:
            corrupt.append(pod.error)
        elif pod.record is not None and pod.record.active is not None:
            found.setdefault(pod.record.active.session_id, []).append(f"pod {pod.name}")
    for runtime in store.list_runtimes():
        if runtime.error is not None:
            corrupt.append(runtime.error)
        elif runtime.record is not None and runtime.record.events_session_id is not None:
            found.setdefault(runtime.record.events_session_id, []).append(
                f"runtime {runtime.runtime_id}"
            )
    return SessionReferences(
        {session: tuple(referrers) for session, referrers in sorted(found.items())},
        tuple(corrupt),
    )
