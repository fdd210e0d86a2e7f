"""Real stores, real host processes and file ages for the ``yoi pod``/``yoi session`` tests.

Run as a script it is the host process of the liveness tests:
``python cleanup_support.py MODE DATA_DIR RUNTIME_DIR RUNTIME_ID [POD...]`` where MODE is
``host`` (open the lease, claim the Pods, print ``ready``, live until killed), ``lock-only``
(take the lease lock without binding the socket: a Runtime that is starting) or
``claim-on-go`` (open the lease, print ``ready``, read one line, then claim the Pods one by one,
printing each name once its claim returned).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

HERE = Path(__file__).resolve()


def write_pod(
    data: Path,
    run: Path,
    name: str,
    *,
    session: str | None = None,
    segment: str | None = None,
    runtime: str | None = None,
    age_seconds: float = 0,
) -> Path:
    """Write a Pod record through pod-store; backdate it by ``age_seconds``."""
    from yoi_pod_store.backends.fs import FsPodStore
    from yoi_pod_store.model import ActivePointer, PodRecord

    store = FsPodStore(data, run)
    active = ActivePointer(session, segment) if session else None
    store.write(PodRecord(name, active=active, hosting_runtime_id=runtime))
    path = store.pod_path(name)
    if age_seconds:
        backdate(path, age_seconds)
    return path


def write_runtime_record(data: Path, run: Path, runtime_id: str, events_session: str) -> None:
    from yoi_pod_store.backends.fs import FsPodStore
    from yoi_pod_store.model import RuntimeRecord

    FsPodStore(data, run).write_runtime(RuntimeRecord(runtime_id, events_session_id=events_session))


def backdate(path: Path, age_seconds: float) -> None:
    stamp = time.time() - age_seconds
    os.utime(path, (stamp, stamp), follow_symlinks=False)


def make_session(data: Path, *, turns: int = 1, age_seconds: float = 0) -> tuple[str, str]:
    """A real session written through session-store; returns (session id, segment id)."""
    from yoi_session_store.backends.fs import FsSessionStore
    from yoi_session_store.history import create_session
    from yoi_session_store.testing.samples import turn

    store = FsSessionStore(data, fsync="never")
    try:
        ref = create_session(store, system_prompt="You are helpful.")
        for number in range(1, turns + 1):
            for entry in turn(60, number=number):
                store.append(ref.session_id, ref.segment_id, entry)
    finally:
        store.close()
    if age_seconds:
        age_session(data, ref.session_id, age_seconds)
    return ref.session_id, ref.segment_id


def age_session(data: Path, session: str, age_seconds: float) -> None:
    directory = data / "sessions" / session
    for entry in directory.iterdir():
        backdate(entry, age_seconds)
    backdate(directory, age_seconds)


def session_dir(data: Path, session: str) -> Path:
    return data / "sessions" / session


@contextlib.contextmanager
def undeletable(path: Path) -> Iterator[None]:
    """Make ``path`` impossible to unlink for the duration (chattr +i as root, else chmod)."""
    if os.geteuid() != 0:
        parent = path.parent
        mode = parent.stat().st_mode
        parent.chmod(0o500)
        try:
            yield
        finally:
            parent.chmod(mode)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(path)], check=False).returncode:
        import pytest

        pytest.skip("running as root without a filesystem that supports chattr +i")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)


def unprivileged(command: list[str]) -> list[str]:
    """``command`` run where directory permissions hold. As root: without the capabilities that
    bypass them (``setpriv``; another uid could not reach an interpreter under /root)."""
    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        import pytest

        pytest.skip("running as root without setpriv to drop CAP_DAC_OVERRIDE")
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}", *command]


class Hosts:
    """Host processes started by a test; all are killed at the end."""

    def __init__(self, data: Path, run: Path) -> None:
        self.data = data
        self.run = run
        self.processes: list[subprocess.Popen[str]] = []

    def start(self, mode: str, runtime_id: str, *pods: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, str(HERE), mode, str(self.data), str(self.run), runtime_id, *pods],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.processes.append(process)
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        return process

    @staticmethod
    def kill(process: subprocess.Popen[str]) -> None:
        process.kill()
        process.wait()

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait()
            for stream in (process.stdin, process.stdout):
                if stream:
                    with contextlib.suppress(OSError):
                        stream.close()


def wait_until(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.002)


def _serve_forever() -> None:
    while True:
        time.sleep(60)


def main(argv: list[str]) -> None:
    from yoi_pod_store.backends.fs import FsPodStore

    mode, data, run, runtime_id, *pods = argv
    store = FsPodStore(Path(data), Path(run))
    if mode == "host":
        lease = store.host(runtime_id)
        for pod in pods:
            lease.claim(pod)
        print("ready", flush=True)
        _serve_forever()
    elif mode == "lock-only":
        lease_dir = store.lease_dir(runtime_id)
        lease_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(lease_dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        print("ready", flush=True)
        _serve_forever()
    elif mode == "claim-on-go":
        lease = store.host(runtime_id)
        print("ready", flush=True)
        sys.stdin.readline()
        for pod in pods:
            lease.claim(pod)
            print(pod, flush=True)
        print("done", flush=True)
        _serve_forever()
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
