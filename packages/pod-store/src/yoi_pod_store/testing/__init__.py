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
| ``raw_records`` | :class:`RawRecordsSpec` | corrupt, older and newer records |

A backend's test module subclasses :class:`PodStoreContract` (every capability) and provides a
``store`` fixture, plus, optionally, ``reopen`` and the raw writers that let the kit plant
records the store would never write::

    import pytest
    from yoi_pod_store.testing import PodStoreContract

    class TestMyBackend(PodStoreContract):
        @pytest.fixture
        def store(self, tmp_path):
            return open_my_store(tmp_path)

Every backend must pass the :data:`REQUIRED` capabilities. The :data:`OPTIONAL` ones need
``write_raw_pod`` / ``write_raw_runtime`` and skip when the backend cannot provide them. The kit
needs ``pytest`` (install ``yoi-pod-store[testing]``).
"""

from __future__ import annotations

from yoi_pod_store.testing.cleanup import CleanupSpec
from yoi_pod_store.testing.fixtures import BAD_NAMES, SEGMENT_A, SESSION_A, SESSION_B
from yoi_pod_store.testing.liveness import LivenessSpec
from yoi_pod_store.testing.names import NamesSpec
from yoi_pod_store.testing.raw_records import RawRecordsSpec
from yoi_pod_store.testing.records import RecordsSpec
from yoi_pod_store.testing.runtime_records import RuntimeRecordsSpec
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
)
#: What runs only when the backend can plant raw records (``write_raw_pod``,
#: ``write_raw_runtime``); without those fixtures these tests skip.
OPTIONAL: tuple[type, ...] = (RawRecordsSpec,)


# The bases are REQUIRED + OPTIONAL (a test checks it), spelled out so type checkers see them.
class PodStoreContract(
    RecordsSpec,
    UpdatesSpec,
    NamesSpec,
    RuntimeRecordsSpec,
    LivenessSpec,
    CleanupSpec,
    RawRecordsSpec,
):
    """The behaviour every Pod store backend must show: every capability of the kit."""
