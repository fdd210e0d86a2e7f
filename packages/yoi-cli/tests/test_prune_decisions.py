"""What a prune decides for one session or Pod, in this process, on real fs stores: the rules at
their boundaries, and the stores changing between the listing and the decision (races that a
run of the ``yoi`` command cannot stage on cue)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import attrs
import pytest
from cleanup_support import age_session, make_session, write_pod
from yoi_cli.commands import pod as pod_command
from yoi_cli.commands import session as session_command
from yoi_cli.shared.report import Item
from yoi_cli.shared.text import format_time, time_from_ms
from yoi_pod_store.backends.fs import FsPodStore
from yoi_pod_store.contract import PodListing
from yoi_pod_store.model import utc_now
from yoi_session_store.backends.fs import FsSessionStore
from yoi_session_store.contract import SessionInfo
from yoi_session_store.ids import SegmentId, SessionId
from yoi_session_store.model import Extension

#: Seconds: the grace the session prunes below use, and an age well past it.
GRACE = 600
OLD = 3600


class CountingPods(FsPodStore):
    """An fs Pod store that counts how often all Pods are listed (references are read so)."""

    listings = 0

    def list_pods(self) -> list[PodListing]:
        self.listings += 1
        return super().list_pods()


class OtherDeleterFirst(FsSessionStore):
    """An fs session store where someone else deletes each session just before we do."""

    def delete_session(self, session: SessionId) -> bool:
        super().delete_session(session)
        return super().delete_session(session)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return tmp_path / "run"


@pytest.fixture
def sessions(data: Path) -> Iterator[FsSessionStore]:
    store = FsSessionStore(data)
    yield store
    store.close()


@pytest.fixture
def pods(data: Path, run: Path) -> CountingPods:
    return CountingPods(data, run)


def pruner(
    sessions: FsSessionStore,
    pods: FsPodStore,
    *,
    deleting: bool = True,
    older_than: int | None = None,
    grace: int = GRACE,
) -> session_command._Pruner:
    references = session_command._references(pods)
    return session_command._Pruner(
        sessions, pods, references, older_than=older_than, grace=grace, deleting=deleting
    )


def new_session(data: Path, age_seconds: float = 0) -> tuple[SessionId, SegmentId]:
    """A real session written through session-store, last active ``age_seconds`` ago."""
    session, segment = make_session(data, age_seconds=age_seconds)
    return SessionId(session), SegmentId(segment)


def listed(sessions: FsSessionStore, session: str) -> SessionInfo:
    [info] = [info for info in sessions.list_sessions() if info.session_id == session]
    return info


def stale(prune: session_command._Pruner) -> None:
    """Make the pruner's references older than the refresh interval."""
    prune.refs_read_at = time.monotonic() - session_command.REFERENCE_REFRESH_SECONDS - 1


# ---- sessions -----------------------------------------------------------------------------


def test_each_decision_carries_the_sessions_activity_segments_and_size(
    data: Path, sessions: FsSessionStore, pods: CountingPods
) -> None:
    old, _ = new_session(data, OLD)
    young, _ = new_session(data)
    old_info, young_info = listed(sessions, old), listed(sessions, young)
    dry = pruner(sessions, pods, deleting=False)
    would = dry.decide(old_info)
    assert (would.action, would.reason, would.bytes) == (
        "would_delete",
        "unreferenced session",
        old_info.size_bytes,
    )
    assert would.details == {
        "last_activity": format_time(time_from_ms(old_info.last_activity_ms)),
        "segments": 1,
    }
    kept = dry.decide(young_info)
    assert (kept.action, kept.reason, kept.bytes) == ("kept", "newer than grace period", None)
    assert kept.details["segments"] == 1
    deleted = pruner(sessions, pods).decide(old_info)
    assert (deleted.action, deleted.bytes) == ("deleted", old_info.size_bytes)
    assert sessions.session_modified_at(old) is None


def test_the_grace_and_the_threshold_end_exactly_at_their_length(
    sessions: FsSessionStore, pods: CountingPods
) -> None:
    prune = pruner(sessions, pods, older_than=3600, grace=10)
    decide = prune._age_item
    assert decide("s", 0, 9_999) == Item("kept", "s", "newer than grace period")
    assert decide("s", 0, 10_000) == Item("kept", "s", "newer than threshold")
    assert decide("s", 0, 3_599_999) == Item("kept", "s", "newer than threshold")
    assert decide("s", 0, 3_600_000) is None
    assert pruner(sessions, pods, grace=10)._age_item("s", 0, 10_000) is None


def test_references_are_not_read_again_within_the_refresh_interval(
    data: Path, sessions: FsSessionStore, pods: CountingPods
) -> None:
    # A prune over many sessions reads every Pod record at most once a second.
    olds = [new_session(data, OLD)[0] for _ in range(3)]
    prune = pruner(sessions, pods)
    prune.refs_read_at = time.monotonic() + 3600  # as if read just now, however slow this is
    assert [prune.decide(listed(sessions, old)).action for old in olds] == ["deleted"] * 3
    assert pods.listings == 1


def test_stale_references_are_read_again_before_a_delete(
    data: Path, run: Path, sessions: FsSessionStore, pods: CountingPods
) -> None:
    taken, _ = new_session(data, OLD)
    prune = pruner(sessions, pods)
    write_pod(data, run, "alpha", session=taken)  # a Pod takes it up during the prune
    stale(prune)
    asked_at = time.monotonic()
    item = prune.decide(listed(sessions, taken))
    assert (item.action, item.reason) == ("kept", "referenced by pod metadata (pod alpha)")
    assert sessions.session_modified_at(taken) is not None
    assert pods.listings == 2 and prune.refs_read_at >= asked_at


def test_stale_references_that_became_incomplete_refuse_the_delete(
    data: Path, run: Path, sessions: FsSessionStore, pods: CountingPods
) -> None:
    old, _ = new_session(data, OLD)
    prune = pruner(sessions, pods)
    write_pod(data, run, "broken")
    (data / "pods" / "broken" / "metadata.json").write_text("{")
    stale(prune)
    item = prune.decide(listed(sessions, old))
    assert item.action == "refused"
    assert item.reason.startswith("session references are incomplete: 1 unreadable record(s)")
    assert sessions.session_modified_at(old) is not None


def test_incomplete_references_refuse_before_any_delete(
    data: Path, run: Path, sessions: FsSessionStore, pods: CountingPods
) -> None:
    old, _ = new_session(data, OLD)
    write_pod(data, run, "broken")
    (data / "pods" / "broken" / "metadata.json").write_text("{")
    item = pruner(sessions, pods, deleting=False).decide(listed(sessions, old))
    assert item.action == "refused" and "pod metadata broken" in item.reason


def test_a_session_deleted_since_the_listing_is_kept_as_disappeared(
    data: Path, sessions: FsSessionStore, pods: CountingPods
) -> None:
    old, _ = new_session(data, OLD)
    info = listed(sessions, old)
    sessions.delete_session(old)
    item = pruner(sessions, pods).decide(info)
    assert (item.action, item.reason) == ("kept", "session disappeared")


def test_a_session_someone_else_deletes_first_is_kept_as_disappeared(
    data: Path, pods: CountingPods
) -> None:
    old, _ = new_session(data, OLD)
    racing = OtherDeleterFirst(data)
    try:
        item = pruner(racing, pods).decide(listed(racing, old))
    finally:
        racing.close()
    assert (item.action, item.reason, item.bytes) == ("kept", "session disappeared", None)


def test_a_session_written_during_the_prune_is_judged_by_its_new_activity(
    data: Path, sessions: FsSessionStore, pods: CountingPods
) -> None:
    busy, segment = new_session(data, OLD)
    still_old, other = new_session(data, OLD)
    busy_info, still_old_info = listed(sessions, busy), listed(sessions, still_old)
    prune = pruner(sessions, pods)
    sessions.append(busy, segment, Extension(1, "test", None))  # now active
    sessions.append(still_old, other, Extension(1, "test", None))
    age_session(data, still_old, OLD / 2)  # changed, yet still past the grace
    item = prune.decide(busy_info)
    assert (item.action, item.reason) == (
        "kept",
        "newer than grace period (written during the prune)",
    )
    assert sessions.session_modified_at(busy) is not None
    assert prune.decide(still_old_info).action == "deleted"


# ---- Pods ---------------------------------------------------------------------------------


def test_each_outcome_of_the_locked_pod_decision_becomes_its_item(
    data: Path, run: Path, pods: CountingPods
) -> None:
    session, _ = new_session(data)
    write_pod(data, run, "with-session", session=session)
    write_pod(data, run, "bare")
    item = pod_command._prune_item
    missing = item(pods.delete_if_stopped("ghost"))
    assert (missing.action, missing.reason) == ("kept", "metadata disappeared")
    assert missing.details["last_activity"] is None
    newer = pods.delete_if_stopped("bare", last_activity_before=utc_now() - timedelta(days=1))
    kept = item(newer)
    assert (kept.action, kept.reason) == ("kept", "metadata is newer than threshold")
    assert kept.details["last_activity"] == format_time(newer.last_activity)
    unknown = item(attrs.evolve(newer, last_activity=None))
    assert (unknown.action, unknown.reason) == ("refused", "last activity is unavailable")
    would = item(pods.delete_if_stopped("with-session", dry_run=True))
    assert (would.action, would.reason) == (
        "would_delete",
        f"old metadata; active_session={session}",
    )
    assert would.details["active_session"] == session
    bare = pods.delete_if_stopped("bare")
    deleted = item(bare)
    assert (deleted.action, deleted.bytes) == ("deleted", bare.reclaimed_bytes)
    assert deleted.details["active_session"] is None
    write_pod(data, run, "bare")
    assert item(pods.delete_if_stopped("bare", dry_run=True)).reason == (
        "old metadata; no active session"
    )
    with pods.host("rt-1") as lease:
        lease.claim("with-session")
        outcome = pods.delete_if_stopped("with-session")
    refused = item(outcome)
    assert outcome.liveness is not None
    assert (refused.action, refused.reason) == ("refused", outcome.liveness.reason)


def test_a_pod_active_exactly_at_the_cutoff_is_kept_unprobed(
    data: Path, run: Path, pods: CountingPods
) -> None:
    write_pod(data, run, "alpha")
    [listing] = pods.list_pods()
    activity = pods.last_activity("alpha")
    assert activity is not None
    kept = pod_command._prune_one(pods, listing, activity, True)
    assert (kept.action, kept.reason) == ("kept", "metadata is newer than threshold")
    assert kept.details == {"last_activity": format_time(activity)}  # no liveness: not probed
    assert pods.read("alpha") is not None
    later = activity + timedelta(microseconds=1)
    assert pod_command._prune_one(pods, listing, later, True).action == "deleted"
