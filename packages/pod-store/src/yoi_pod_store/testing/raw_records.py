"""One record this store did not write, read and rewritten: corrupt, older, newer, with unknown
keys. (How listings, references and cleanup treat unreadable records: ``unreadable_records``.)"""

from __future__ import annotations

import pytest

from yoi_pod_store.contract import PodStore
from yoi_pod_store.errors import CorruptPodRecord
from yoi_pod_store.model import (
    ActivePointer,
    PodRecord,
)
from yoi_pod_store.testing.fixtures import (
    SESSION_A,
    BackendFixtures,
    RawWriter,
)


class RawRecordsSpec(BackendFixtures):
    """One record this store did not write: corrupt, older, newer, with unknown keys."""

    def test_write_replaces_a_corrupt_record(
        self, store: PodStore, write_raw_pod: RawWriter
    ) -> None:
        write_raw_pod("broken", "{{{")
        store.write(PodRecord("broken", workspace_root="/fixed"))
        record = store.read("broken")
        assert record is not None and record.workspace_root == "/fixed"

    def test_corrupt_record_reads_as_typed_error_without_path(
        self, store: PodStore, write_raw_pod: RawWriter
    ) -> None:
        write_raw_pod("broken", '{"pod_name": "broken", ')
        with pytest.raises(CorruptPodRecord) as caught:
            store.read("broken")
        assert caught.value.name == "broken"
        assert caught.value.detail
        assert "/" not in str(caught.value).replace("'broken'", "")

    def test_record_naming_another_pod_is_corrupt(
        self, store: PodStore, write_raw_pod: RawWriter
    ) -> None:
        write_raw_pod("alpha", '{"schema_version": 1, "pod_name": "beta"}')
        with pytest.raises(CorruptPodRecord, match="beta"):
            store.read("alpha")

    def test_delete_works_on_corrupt_record(
        self, store: PodStore, write_raw_pod: RawWriter
    ) -> None:
        write_raw_pod("broken", "\x00\x01garbage")
        assert store.delete("broken") is True
        assert store.read("broken") is None

    def test_update_refuses_to_overwrite_corrupt_record(
        self, store: PodStore, write_raw_pod: RawWriter
    ) -> None:
        write_raw_pod("broken", "[1, 2]")
        with pytest.raises(CorruptPodRecord):
            store.update("broken", lambda current: PodRecord("broken"))
        with pytest.raises(CorruptPodRecord):
            store.read("broken")

    def test_newer_schema_version_is_reported_not_rewritten(
        self, store: PodStore, write_raw_pod: RawWriter
    ) -> None:
        write_raw_pod("future", '{"schema_version": 999, "worker_name": "future"}')
        with pytest.raises(CorruptPodRecord, match="newer"):
            store.read("future")

    def test_unversioned_upstream_record_still_reads(
        self, store: PodStore, write_raw_pod: RawWriter
    ) -> None:
        write_raw_pod(
            "legacy",
            '{\n  "pod_name": "legacy",\n  "active": {"session_id": "' + SESSION_A + '"},\n'
            '  "workspace_root": "/w",\n  "peers": [{"pod_name": "other"}],\n'
            '  "resolved_manifest_snapshot": {"a": [1]}\n}\n',
        )
        record = store.read("legacy")
        assert record is not None
        assert record.active == ActivePointer(SESSION_A) and record.active.pending
        assert record.peer_names == ("other",)
        assert record.resolved_manifest_snapshot == {"a": [1]}

    def test_unknown_keys_survive_read_modify_write(
        self, store: PodStore, write_raw_pod: RawWriter
    ) -> None:
        write_raw_pod("alpha", '{"schema_version": 1, "pod_name": "alpha", "added_later": [1]}')
        store.add_peer("alpha", "beta")
        record = store.read("alpha")
        assert record is not None
        assert record.extra == {"added_later": [1]} and record.peer_names == ("beta",)
