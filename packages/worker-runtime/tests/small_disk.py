"""A disk the tests fill and free: a real tmpfs of 1 MiB where this machine lets the tests mount
one (as root), else the real ``fs`` stores behind a session-store wrapper that fails every write
with ENOSPC while "full" (``failing_stores``). ``SmallDisk.real`` says which one a test got.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from failing_stores import FailingSessionStore
from yoi_pod_store.plugins import open_pod_store
from yoi_session_store.contract import SessionStore
from yoi_session_store.plugins import open_session_store
from yoi_worker_runtime import Runtime
from yoi_worker_runtime.store_backed import open_runtime_on

SIZE = "1m"


class SmallDisk:
    def __init__(self, root: Path, *, real: bool) -> None:
        self.root = root
        self.real = real
        self.data = root / "data"
        self.url = f"fs://{self.data}"
        self._ballast = root / "ballast"
        self._full = False
        self._wrappers: list[FailingSessionStore] = []

    def open_runtime(self, runtime_id: str) -> Runtime:
        sessions: SessionStore = open_session_store(self.url)
        if not self.real:  # a real disk fails on its own
            wrapper = FailingSessionStore(sessions)
            wrapper.full = self._full
            self._wrappers.append(wrapper)
            sessions = wrapper
        return open_runtime_on(
            open_pod_store(self.url), sessions, runtime_id=runtime_id, close_stores=True
        )

    def fill(self) -> None:
        """Take every free byte: a ballast file written until the disk says ENOSPC."""
        self._set_full(True)
        if not self.real:
            return
        fd = os.open(self._ballast, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for chunk in (1 << 16, 1 << 9, 1):
                with contextlib.suppress(OSError):
                    while True:
                        os.write(fd, b"\0" * chunk)
            with pytest.raises(OSError) as full:
                os.write(fd, b"\0")
            assert full.value.errno == errno.ENOSPC
        finally:
            os.close(fd)

    def free(self) -> None:
        self._set_full(False)
        if self.real:
            self._ballast.unlink()

    def _set_full(self, full: bool) -> None:
        self._full = full
        for wrapper in self._wrappers:
            wrapper.full = full


@contextlib.contextmanager
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    root = tmp_path / "disk"
    root.mkdir()
    mounted = _mount_tmpfs(root)
    try:
        yield SmallDisk(root, real=mounted)
    finally:
        if mounted:
            subprocess.run(["umount", "--lazy", str(root)], check=True)


def _mount_tmpfs(root: Path) -> bool:
    mount = shutil.which("mount")
    if os.geteuid() != 0 or mount is None:
        return False
    result = subprocess.run(
        [mount, "-t", "tmpfs", "-o", f"size={SIZE},mode=0700", "tmpfs", str(root)],
        capture_output=True,
        check=False,
    )
    return result.returncode == 0
