"""Conformance kit: the Pod store contract as importable pytest test classes.

One module per capability, so a backend author reads one file to learn one behaviour:

| module | class | capability |
|---|---|---|
| ``records`` | :class:`RecordsSpec` | write, read, list, delete |
| ``updates`` | :class:`UpdatesSpec` | read-modify-write under the per-name lock |
| ``names`` | :class:`NamesSpec` | the name rule at every entry point |
| ``runtime_records`` | :class:`RuntimeRecordsSpec` | Runtime records, referenced sessions |
| ``liveness`` | :class:`LivenessSpec` | hosting leases and the liveness probe |
| ``cleanup`` | :class:`CleanupSpec` | ``delete_if_stopped`` |
| ``unreadable_records`` | :class:`UnreadableRecordsSpec` | unreadable records are reported |
| ``raw_records`` | :class:`RawRecordsSpec` | one corrupt, older or newer record |

A backend's test module subclasses :class:`PodStoreContract` (every capability) and provides a
``store`` fixture and the raw writers ``write_raw_pod`` / ``write_raw_runtime``, which plant
records the store would never write (an unreadable record must be reported, never skipped, so
every backend must be able to hold one); ``reopen`` is optional::

    import pytest
    from yoi_pod_store.testing import PodStoreContract

    class TestMyBackend(PodStoreContract):
        @pytest.fixture
        def store(self, tmp_path):
            return open_my_store(tmp_path)

        @pytest.fixture
        def write_raw_pod(self, store):
            return lambda name, text: plant_pod_bytes(store, name, text.encode())

        @pytest.fixture
        def write_raw_runtime(self, store):
            return lambda runtime_id, text: plant_runtime_bytes(store, runtime_id, text.encode())

Every backend must pass the :data:`REQUIRED` capabilities; :data:`OPTIONAL` lists those a
backend may lack (none at present). The kit needs ``pytest`` (install
``yoi-pod-store[testing]``).
"""

from __future__ import annotations

from yoi_pod_store.testing.cleanup import CleanupSpec
from yoi_pod_store.testing.fixtures import BAD_NAMES, SEGMENT_A, SESSION_A, SESSION_B
from yoi_pod_store.testing.liveness import LivenessSpec
from yoi_pod_store.testing.names import NamesSpec
from yoi_pod_store.testing.raw_records import RawRecordsSpec
from yoi_pod_store.testing.records import RecordsSpec
from yoi_pod_store.testing.runtime_records import RuntimeRecordsSpec
from yoi_pod_store.testing.unreadable_records import UnreadableRecordsSpec
from yoi_pod_store.testing.updates import UpdatesSpec

__all__ = [
    "BAD_NAMES",
    "OPTIONAL",
    "REQUIRED",
    "SEGMENT_A",
    "SESSION_A",
    "SESSION_B",
    "CleanupSpec",
    "LivenessSpec",
    "NamesSpec",
    "PodStoreContract",
    "RawRecordsSpec",
    "RecordsSpec",
    "RuntimeRecordsSpec",
    "UnreadableRecordsSpec",
    "UpdatesSpec",
]

#: What every backend must pass.
REQUIRED: tuple[type, ...] = (
    RecordsSpec,
    UpdatesSpec,
    NamesSpec,
    RuntimeRecordsSpec,
    LivenessSpec,
    CleanupSpec,
    UnreadableRecordsSpec,
    RawRecordsSpec,
)
#: What a backend may lack: such a capability skips without the fixture it needs. None at
#: present (planting raw records became required, so no cleanup skips unreadable ones).
OPTIONAL: tuple[type, ...] = ()


# The bases are REQUIRED + OPTIONAL (a test checks it), spelled out so type checkers see them.
class PodStoreContract(
    RecordsSpec,
    UpdatesSpec,
    NamesSpec,
    RuntimeRecordsSpec,
    LivenessSpec,
    CleanupSpec,
    UnreadableRecordsSpec,
    RawRecordsSpec,
):
    """The behaviour every Pod store backend must show: every capability of the kit."""
