"""The fs liveness probe against real processes, sockets and broken runtime dirs."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from yoi_pod_store.backends.fs import FsPodStore
from yoi_pod_store.contract import DeleteResult, LivenessState
from yoi_pod_store.model import PodRecord

WORKER = Path(__file__).with_name("pod_worker.py")
#: Every probe must answer within the store's timeout plus scheduling slack.
DEADLINE = 0.5 + 0.4


def spawn(
    store: FsPodStore, procs: list[subprocess.Popen[str]], *args: str
) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [
            sys.executable,
            str(WORKER),
            args[0],
            str(store.data_dir),
            str(store.runtime_dir),
            *args[1:],
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    procs.append(process)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


def timed_probe(store: FsPodStore, name: str) -> tuple[LivenessState, str]:
    started = time.monotonic()
    liveness = store.probe(name)
    assert time.monotonic() - started < DEADLINE, liveness.reason
    return liveness.state, liveness.reason


def hosted_record(store: FsPodStore, name: str, runtime_id: str) -> None:
    store.write(
        PodRecord(
            name, hosting_runtime_id=runtime_id, liveness_hint=str(store.socket_path(runtime_id))
        )
    )


def test_host_in_another_process_is_live_and_protected(
    store: FsPodStore, processes: list[subprocess.Popen[str]]
) -> None:
    spawn(store, processes, "host", "rt-live", "alpha", "beta")
    state, reason = timed_probe(store, "alpha")
    assert (state, reason) == (LivenessState.LIVE, "runtime 'rt-live' is live")
    outcome = store.delete_if_stopped("beta")
    assert outcome.result is DeleteResult.REFUSED
    assert store.read("beta") is not None


def test_host_killed_with_sigkill_reads_stopped(
    store: FsPodStore, processes: list[subprocess.Popen[str]]
) -> None:
    process = spawn(store, processes, "host", "rt-doomed", "alpha")
    assert store.probe("alpha").live
    process.send_signal(signal.SIGKILL)
    process.wait()
    # The kill left the socket file and the lock file behind: the probe still says stopped.
    assert store.socket_path("rt-doomed").exists()
    state, reason = timed_probe(store, "alpha")
    assert state is LivenessState.STOPPED, reason
    assert store.delete_if_stopped("alpha").result is DeleteResult.DELETED
    # A new host can take over the runtime id after the crash.
    with store.host("rt-doomed") as lease:
        lease.claim("alpha")
        assert store.probe("alpha").live


def test_host_holding_its_lock_before_binding_is_live_not_stopped(
    store: FsPodStore, processes: list[subprocess.Popen[str]]
) -> None:
    spawn(store, processes, "lock-only", "rt-starting")
    hosted_record(store, "alpha", "rt-starting")
    assert not store.socket_path("rt-starting").exists()
    state, reason = timed_probe(store, "alpha")
    assert state is LivenessState.LIVE and "starting" in reason


def test_stale_socket_file_without_lock_holder_is_stopped(store: FsPodStore) -> None:
    lease_dir = store.lease_dir("rt-stale")
    lease_dir.mkdir(parents=True)
    (lease_dir / "lock").touch()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(lease_dir / "sock"))
    listener.close()  # the file stays, nobody listens: connect gets ECONNREFUSED
    hosted_record(store, "alpha", "rt-stale")
    state, reason = timed_probe(store, "alpha")
    assert state is LivenessState.STOPPED, reason


def test_missing_lease_path_is_stopped(store: FsPodStore) -> None:
    hosted_record(store, "alpha", "rt-gone")
    state, reason = timed_probe(store, "alpha")
    assert state is LivenessState.STOPPED and "no lease directory" in reason


def test_socket_answering_without_lock_holder_is_uncertain(store: FsPodStore) -> None:
    lease_dir = store.lease_dir("rt-odd")
    lease_dir.mkdir(parents=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(lease_dir / "sock"))
        listener.listen(8)
        hosted_record(store, "alpha", "rt-odd")
        state, reason = timed_probe(store, "alpha")
    assert state is LivenessState.UNCERTAIN and "lease lock" in reason


@pytest.mark.parametrize("kind", ["symlink", "socket"])
def test_a_lock_that_cannot_be_opened_is_uncertain(
    store: FsPodStore, tmp_path: Path, kind: str
) -> None:
    lease_dir = store.lease_dir("rt-odd")
    lease_dir.mkdir(parents=True)
    if kind == "symlink":  # never followed: ELOOP
        (tmp_path / "elsewhere").touch()
        (lease_dir / "lock").symlink_to(tmp_path / "elsewhere")
    else:  # a socket file cannot be opened: ENXIO
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as bound:
            bound.bind(str(lease_dir / "lock"))  # the file stays after the close
    hosted_record(store, "alpha", "rt-odd")
    state, reason = timed_probe(store, "alpha")
    assert state is LivenessState.UNCERTAIN and "cannot open its lock" in reason
    assert store.delete_if_stopped("alpha").result is DeleteResult.REFUSED


def test_lease_path_through_a_regular_file_is_uncertain(store: FsPodStore) -> None:
    # Fails for root too (ENOTDIR), unlike a permission bit.
    store.runtime_dir.mkdir(parents=True)
    (store.runtime_dir / "runtimes").write_text("not a directory")
    hosted_record(store, "alpha", "rt-1")
    state, reason = timed_probe(store, "alpha")
    assert state is LivenessState.UNCERTAIN, reason
    assert store.delete_if_stopped("alpha").result is DeleteResult.REFUSED


def test_symlinked_lease_dir_is_uncertain_and_not_followed(
    store: FsPodStore, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (store.runtime_dir / "runtimes").mkdir(parents=True)
    (store.runtime_dir / "runtimes" / "rt-link").symlink_to(elsewhere)
    hosted_record(store, "alpha", "rt-link")
    state, _ = timed_probe(store, "alpha")
    assert state is LivenessState.UNCERTAIN


def test_directory_the_prober_cannot_read_is_uncertain(store: FsPodStore) -> None:
    """Probe as an unprivileged user (the tests may run as root, which bypasses permissions)."""
    with store.host("rt-private") as lease:
        lease.claim("alpha")
        store.runtime_dir.chmod(0o700)
        code = (
            "import os, sys\n"
            "from pathlib import Path\n"
            "from yoi_pod_store.backends.fs import FsPodStore\n"
            "if os.getuid() == 0:\n"
            "    os.setgid(65534); os.setuid(65534)\n"
            "store = FsPodStore(Path(sys.argv[1]), Path(sys.argv[2]))\n"
            "print(store.probe_runtime('rt-private').state.value)\n"
            "print(store.probe_runtime('rt-private').reason)\n"
        )
        if os.getuid() != 0:
            pytest.skip("needs root to probe as another user")
        result = subprocess.run(
            [sys.executable, "-c", code, str(store.data_dir), str(store.runtime_dir)],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    state, reason = result.stdout.splitlines()[:2]
    assert state == "uncertain" and "EACCES" in reason


def test_listener_that_never_accepts_is_uncertain_within_the_timeout(store: FsPodStore) -> None:
    lease_dir = store.lease_dir("rt-stuck")
    lease_dir.mkdir(parents=True)
    lock_fd = os.open(lease_dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock_fd, fcntl.LOCK_EX)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(lease_dir / "sock"))
    listener.listen(0)
    fillers = []
    try:
        for _ in range(4):  # fill the backlog: later connects cannot complete
            filler = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(str(lease_dir / "sock"))
            fillers.append(filler)
        hosted_record(store, "alpha", "rt-stuck")
        state, reason = timed_probe(store, "alpha")
        assert state is LivenessState.UNCERTAIN, reason
        assert store.delete_if_stopped("alpha").result is DeleteResult.REFUSED
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
        os.close(lock_fd)


def test_lease_files_are_private_and_removed_on_close(store: FsPodStore) -> None:
    lease = store.host("rt-tidy")
    lease_dir = store.lease_dir("rt-tidy")
    assert (lease_dir.stat().st_mode & 0o777) == 0o700
    assert ((lease_dir / "lock").stat().st_mode & 0o777) == 0o600
    assert lease.hint == str(lease_dir / "sock")
    lease.close()
    assert not lease_dir.exists()
    assert store.probe_runtime("rt-tidy").stopped


def test_long_runtime_dir_still_hosts_and_probes(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*(["d" * 30] * 5))
    store = FsPodStore(tmp_path / "data", deep)
    runtime_id = "r" * 80
    assert len(str(store.socket_path(runtime_id))) > 108
    with store.host(runtime_id) as lease:
        lease.claim("alpha")
        assert store.probe("alpha").live
    assert store.probe("alpha").stopped
