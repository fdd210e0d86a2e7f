"""Where Workers live when several Runtimes share one store.

Each Runtime records in its runtime record the REST URL it advertises. A Runtime asked about a
Worker it does not host reads the Worker's Pod to say which Runtime does (and where to reach
it), and a Runtime that adopts looks for Workers whose host's lease lapsed: a lease entry that
is still there but probes stopped belongs to a Runtime that crashed or was cut off, while one
that closed cleanly removed its entry and is expected back.
"""

from __future__ import annotations

import logging

from yoi_pod_store.contract import PodStore
from yoi_pod_store.model import WorkerStatus as PodWorkerStatus

from yoi_worker_runtime.persistence import WorkerLocation
from yoi_worker_runtime.store_backed import mapping

logger = logging.getLogger(__name__)

#: The key of the advertised REST URL among the Runtime's own keys of its runtime record.
ADVERTISE_URL_KEY = "advertise_url"


def advertised_url(pods: PodStore, runtime_id: str) -> str | None:
    """The REST URL ``runtime_id`` advertises in its runtime record (None: none, or unreadable)."""
    try:
        record = pods.read_runtime(runtime_id)
    except Exception:  # a corrupt or unreadable record advertises nothing
        return None
    if record is None:
        return None
    own = record.extra.get(mapping.RUNTIME_RECORD_KEY)
    url = own.get(ADVERTISE_URL_KEY) if isinstance(own, dict) else None
    return url if isinstance(url, str) and url else None


def locate_worker(pods: PodStore, runtime_id: str, worker_id: str) -> WorkerLocation | None:
    """Which other Runtime the store names as the host of ``worker_id`` (None: none, this
    one, or the store cannot tell)."""
    try:
        record = pods.read(worker_id)
    except Exception:
        return None
    if record is None or not _is_worker(record.resolved_manifest_snapshot):
        return None
    host = record.hosting_runtime_id
    if host is None or host == runtime_id:
        return None
    liveness = pods.probe_runtime(host)
    return WorkerLocation(
        runtime_id=host,
        url=advertised_url(pods, host),
        live=not liveness.stopped,
        reason=liveness.reason,
    )


def orphans(pods: PodStore, runtime_id: str) -> list[str]:
    """Workers held as running by Runtimes whose lease lapsed, in name order."""
    lapsed = {
        liveness.runtime_id
        for liveness in pods.probe_all_runtimes()
        if liveness.stopped and liveness.runtime_id not in (None, runtime_id)
    }
    if not lapsed:
        return []  # the usual case, answered without listing a single Pod
    found = []
    for listing in pods.list_pods():
        record = listing.record
        if (
            record is not None
            and record.hosting_runtime_id in lapsed
            and record.worker_status == PodWorkerStatus.RUNNING
            and _is_worker(record.resolved_manifest_snapshot)
        ):
            found.append(listing.name)
    return found


def _is_worker(snapshot: object) -> bool:
    """Whether a Pod's manifest snapshot is a Worker's (other tools keep Pods too)."""
    return isinstance(snapshot, dict) and snapshot.get("kind") == mapping.SNAPSHOT_KIND
