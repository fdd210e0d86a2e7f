"""The session store conformance kit: import it and run it against your backend.

Subclass :class:`SessionStoreConformance` in a pytest test module and provide a ``store``
fixture that yields a fresh, empty store of your backend::

    import pytest
    from yoi_session_store.testing import SessionStoreConformance

    class TestMyBackend(SessionStoreConformance):
        @pytest.fixture
        def store(self, tmp_path):
            store = open_my_store(tmp_path)
            yield store
            store.close()

Every ``test_*`` method of the kit then runs against your backend. The kit itself imports
nothing but this package, so it adds no dependency beyond your test runner.
"""

from __future__ import annotations

from yoi_session_store.testing.conformance import SessionStoreConformance

__all__ = ["SessionStoreConformance"]
