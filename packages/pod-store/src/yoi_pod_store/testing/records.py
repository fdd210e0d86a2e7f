"""Pod records: write, read, list and delete."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from yoi_pod_store.contract import PodStore
from yoi_pod_store.errors import (
    InvalidRecord,
)
from yoi_pod_store.model import (
    PodRecord,
    utc_now,
)
from yoi_pod_store.testing.fixtures import (
    BackendFixtures,
    full_record,
)


class RecordsSpec(BackendFixtures):
    """Pod records: write, read, list and delete."""

    def test_write_then_read_round_trips_every_field(
        self, store: PodStore, reopen: Callable[[], PodStore]
    ) -> None:
        record = full_record("alpha")
        assert store.write(record) == record
        assert reopen().read("alpha") == record

    def test_read_missing_is_none(self, store: PodStore) -> None:
        assert store.read("nobody") is None

    def test_write_stamps_created_at_when_unset(self, store: PodStore) -> None:
        before = utc_now()
        stored = store.write(PodRecord("alpha"))
        assert stored.created_at is not None and stored.created_at >= before
        assert store.read("alpha") == stored

    def test_write_replaces_and_keeps_created_at(self, store: PodStore) -> None:
        first = store.write(full_record("alpha"))
        store.write(PodRecord("alpha", workspace_root="/other"))
        record = store.read("alpha")
        assert record is not None
        assert record.workspace_root == "/other" and record.active is None
        assert record.created_at == first.created_at

    def test_record_that_json_cannot_hold_is_rejected_and_changes_nothing(
        self, store: PodStore
    ) -> None:
        store.write(PodRecord("alpha", workspace_root="/keep"))
        with pytest.raises(InvalidRecord):
            store.write(PodRecord("alpha", resolved_manifest_snapshot={"x": float("nan")}))
        record = store.read("alpha")
        assert record is not None and record.workspace_root == "/keep"

    def test_list_is_sorted_and_complete(self, store: PodStore) -> None:
        for name in ("delta", "alpha", "Charlie", "bravo-2", "bravo.1"):
            store.write(PodRecord(name))
        listed = store.list_pods()
        assert [item.name for item in listed] == sorted(
            ["delta", "alpha", "Charlie", "bravo-2", "bravo.1"]
        )
        assert all(item.ok and item.record and item.record.pod_name == item.name for item in listed)

    def test_list_of_empty_store_is_empty(self, store: PodStore) -> None:
        assert store.list_pods() == []

    def test_delete_removes_and_missing_is_a_no_op(self, store: PodStore) -> None:
        store.write(PodRecord("alpha"))
        assert store.delete("alpha") is True
        assert store.read("alpha") is None
        assert store.delete("alpha") is False
        assert store.list_pods() == []
