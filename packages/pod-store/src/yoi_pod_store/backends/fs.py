"""The ``fs`` backend: one JSON file per Pod under the data dir, liveness through the runtime dir.

Layout (every directory 0700, every file 0600)::

    <data>/pods/<name>/metadata.json       the Pod record
    <data>/pods/.locks/<name>.lock         per-name lock file (flock), never deleted
    <data>/pods/.deleted/                  tombstones of deletes in progress (see below)
    <data>/runtimes/<runtime_id>/runtime.json
    <runtime_dir>/runtimes/<runtime_id>/lock   flock held LOCK_EX by the hosting process
    <runtime_dir>/runtimes/<runtime_id>/sock   Unix socket the hosting process listens on

Every path below the data dir and the runtime dir is walked with directory file descriptors and
``O_NOFOLLOW``, so a symlink planted inside the store is never followed (it is reported, and a
delete removes the link itself, never its target).

A delete renames the record's directory into ``.deleted/`` (one atomic step: before it the record
is whole, after it the name is free), then removes that tombstone. A delete killed in between
leaves only a tombstone, which the next listing removes; never a directory without its record.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import fcntl
import os
import secrets
import shutil
import socket
import stat
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Generic, TypeVar

import attrs
from yoi_base.paths import HomeDirectoryError, default_data_dir, default_runtime_dir

from yoi_pod_store.contract import (
    MAX_PROBE_TIMEOUT,
    HostingLease,
    Liveness,
    LivenessState,
    LockedPod,
    PodListing,
    PodStore,
    RuntimeListing,
)
from yoi_pod_store.errors import (
    CorruptPodRecord,
    CorruptRecord,
    CorruptRuntimeRecord,
    HostingError,
    InvalidRecord,
    PodLockTimeout,
    RuntimeAlreadyHosted,
    StoreUrlError,
    UnsafeStoreLayout,
    safe_repr,
)
from yoi_pod_store.model import (
    PodRecord,
    RecordFormatError,
    RuntimeRecord,
    decode_pod_record,
    decode_runtime_record,
    encode_pod_record,
    encode_runtime_record,
    utc_now,
)
from yoi_pod_store.names import is_valid_name, validate_pod_name, validate_runtime_id

PODS_DIR = "pods"
LOCKS_DIR = ".locks"
METADATA_FILE = "metadata.json"
RUNTIMES_DIR = "runtimes"
RUNTIME_FILE = "runtime.json"
#: Where a delete moves a record's directory before removing it (not a valid name: never listed).
TOMBSTONES_DIR = ".deleted"
LEASE_LOCK_FILE = "lock"
LEASE_SOCKET_FILE = "sock"

#: A record file larger than this is reported as corrupt instead of being read into memory.
MAX_RECORD_BYTES = 64 * 1024 * 1024
#: How long a new lease waits for a prober's momentary shared lock before giving up.
LEASE_ACQUIRE_TIMEOUT = 1.0
#: ``sockaddr_un.sun_path`` holds 108 bytes including the terminating NUL.
_SUN_PATH_MAX = 107

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_UNSAFE_ERRNOS = (errno.ELOOP, errno.ENOTDIR)
_PROC_FD = Path("/proc/self/fd")

_Record = TypeVar("_Record", PodRecord, RuntimeRecord)


# ---- symlink-safe directory walking ---------------------------------------------------------


def _fsync_dir(fd: int) -> None:
    os.fsync(fd)


def _open_dir(name: str, parent_fd: int, *, create: bool) -> int:
    """Open directory ``name`` under ``parent_fd`` without following a symlink."""
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except FileNotFoundError:
        if not create:
            raise
    try:
        os.mkdir(name, 0o700, dir_fd=parent_fd)
    except FileExistsError:
        pass
    else:
        _fsync_dir(parent_fd)
    fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    if stat.S_IMODE(os.fstat(fd).st_mode) != 0o700:
        os.fchmod(fd, 0o700)
    return fd


def _open_root(root: Path, *, create: bool) -> int:
    if create:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
    return os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


@contextlib.contextmanager
def _walk(root: Path, parts: Sequence[str], *, create: bool) -> Iterator[int]:
    """A descriptor of ``root/parts...``; ``FileNotFoundError`` if missing (unless ``create``)."""
    fds: list[int] = []
    try:
        fds.append(_open_root(root, create=create))
        for part in parts:
            try:
                fds.append(_open_dir(part, fds[-1], create=create))
            except OSError as exc:
                if exc.errno in _UNSAFE_ERRNOS:
                    raise UnsafeStoreLayout(
                        f"store directory {part!r} is a symlink or not a directory; "
                        "refusing to follow it"
                    ) from exc
                raise
        yield fds[-1]
    finally:
        for fd in reversed(fds):
            os.close(fd)


def _read_all(fd: int, size: int) -> bytes:
    """Read a record file of ``size`` bytes (records are replaced by rename, never rewritten)."""
    chunks = []
    total = 0
    wanted = min(size, MAX_RECORD_BYTES + 1)
    while total < wanted:
        chunk = os.read(fd, wanted - total)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _atomic_write(dir_fd: int, filename: str, data: bytes) -> None:
    """Write ``filename`` in ``dir_fd``: temp file, fsync, rename, directory fsync."""
    temp = f".{filename}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(
        temp,
        os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
        0o600,
        dir_fd=dir_fd,
    )
    try:
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temp, filename, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=dir_fd)
        raise
    _fsync_dir(dir_fd)


def _bytes_in(name: str, parent_fd: int) -> int:
    """Bytes of the regular files directly in directory ``name``."""
    total = 0
    dir_fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    try:
        with os.scandir(dir_fd) as entries:
            for entry in entries:
                with contextlib.suppress(FileNotFoundError):
                    st = entry.stat(follow_symlinks=False)
                    total += st.st_size if stat.S_ISREG(st.st_mode) else 0
    finally:
        os.close(dir_fd)
    return total


def _remove_tombstone(tombstones_fd: int, name: str) -> None:
    """Remove a tombstone (fd-relative, following no symlink); another remover may be first."""
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(name, dir_fd=tombstones_fd)
    _fsync_dir(tombstones_fd)


def _remove_tombstones(parent_fd: int) -> None:
    """Best effort: remove what deletes killed midway left in ``.deleted/`` (nobody else writes
    there, so no lock is needed)."""
    try:
        tombstones_fd = os.open(TOMBSTONES_DIR, _DIR_FLAGS, dir_fd=parent_fd)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError), os.scandir(tombstones_fd) as entries:
            for entry in entries:  # a store this process may not write stays as it is
                _remove_tombstone(tombstones_fd, entry.name)
    finally:
        os.close(tombstones_fd)


def _mtime(st: os.stat_result) -> datetime:
    return datetime.fromtimestamp(st.st_mtime, UTC)


class _RecordFiles(Generic[_Record]):
    """Reads, writes and deletes ``<parent>/<key>/<filename>`` entries symlink-safely."""

    def __init__(
        self,
        filename: str,
        error: type[CorruptRecord],
        decode: Callable[[bytes], _Record],
        key_of: Callable[[_Record], str],
    ) -> None:
        self.filename = filename
        self.error = error
        self.decode: Callable[[bytes], _Record] = decode
        self.key_of: Callable[[_Record], str] = key_of

    def read(self, parent_fd: int, key: str) -> tuple[_Record | None, os.stat_result | None]:
        """``(record, stat)``; ``(None, None)`` if missing; raises ``self.error`` if unreadable."""
        location = f"{key}/{self.filename}"
        try:
            dir_fd = os.open(key, _DIR_FLAGS, dir_fd=parent_fd)
        except FileNotFoundError:
            return None, None
        except OSError as exc:
            if exc.errno in _UNSAFE_ERRNOS:
                raise self.error(
                    key, "the entry is a symlink or a file, not a directory", location
                ) from exc
            raise self.error(key, f"cannot be read ({exc.strerror})", location) from exc
        try:
            try:
                fd = os.open(self.filename, _READ_FLAGS, dir_fd=dir_fd)
            except FileNotFoundError:
                return None, None
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise self.error(key, f"{self.filename} is a symlink", location) from exc
                raise self.error(key, f"cannot be read ({exc.strerror})", location) from exc
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    raise self.error(key, f"{self.filename} is not a regular file", location)
                if st.st_size > MAX_RECORD_BYTES:
                    raise self.error(key, f"larger than {MAX_RECORD_BYTES} bytes", location)
                data = _read_all(fd, st.st_size)
            except OSError as exc:
                raise self.error(key, f"cannot be read ({exc.strerror})", location) from exc
            finally:
                os.close(fd)
        finally:
            os.close(dir_fd)
        try:
            record = self.decode(data)
        except RecordFormatError as exc:
            raise self.error(key, str(exc), location) from exc
        if self.key_of(record) != key:
            raise self.error(
                key,
                f"the record names {safe_repr(self.key_of(record))}, not its directory",
                location,
            )
        return record, st

    def write(self, parent_fd: int, key: str, data: bytes) -> None:
        first = self.stat(parent_fd, key) is None  # no record yet
        try:
            dir_fd = _open_dir(key, parent_fd, create=True)
        except OSError as exc:
            if exc.errno in _UNSAFE_ERRNOS:
                raise self.error(
                    key, "the entry is a symlink or a file; delete it first", key
                ) from exc
            raise
        try:
            _atomic_write(dir_fd, self.filename, data)
        except BaseException:
            if first:  # a failed first write (a full disk) leaves no empty directory behind
                with contextlib.suppress(OSError):
                    os.rmdir(key, dir_fd=parent_fd)
            raise
        finally:
            os.close(dir_fd)

    def stat(self, parent_fd: int, key: str) -> os.stat_result | None:
        try:
            st = os.stat(key, dir_fd=parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        if not stat.S_ISDIR(st.st_mode):
            return st
        try:
            return os.stat(f"{key}/{self.filename}", dir_fd=parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def delete(self, parent_fd: int, key: str) -> int:
        """Remove the record's directory with all it holds; return the bytes freed."""
        try:
            st = os.stat(key, dir_fd=parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            return 0
        if not stat.S_ISDIR(st.st_mode):
            # A symlink or file where a directory belongs: remove the entry, never its target.
            os.unlink(key, dir_fd=parent_fd)
            _fsync_dir(parent_fd)
            return st.st_size if stat.S_ISREG(st.st_mode) else 0
        freed = _bytes_in(key, parent_fd)
        tombstones_fd = _open_dir(TOMBSTONES_DIR, parent_fd, create=True)
        try:
            tombstone = f"{key}.{os.getpid()}.{secrets.token_hex(4)}"
            os.rename(key, tombstone, src_dir_fd=parent_fd, dst_dir_fd=tombstones_fd)
            _fsync_dir(parent_fd)  # the record is gone as a whole, durably
            _remove_tombstone(tombstones_fd, tombstone)
        finally:
            os.close(tombstones_fd)
        return freed

    def keys(self, parent_fd: int) -> list[tuple[str, bool]]:
        """Valid-named entries as ``(key, is_real_directory)``, sorted."""
        found = []
        with os.scandir(parent_fd) as entries:
            for entry in entries:
                if is_valid_name(entry.name):
                    found.append((entry.name, entry.is_dir(follow_symlinks=False)))
        found.sort()
        return found


_POD_FILES: _RecordFiles[PodRecord] = _RecordFiles(
    METADATA_FILE, CorruptPodRecord, decode_pod_record, lambda record: record.pod_name
)
_RUNTIME_FILES: _RecordFiles[RuntimeRecord] = _RecordFiles(
    RUNTIME_FILE, CorruptRuntimeRecord, decode_runtime_record, lambda record: record.runtime_id
)


# ---- the store ------------------------------------------------------------------------------


class _FsLockedPod(LockedPod):
    def __init__(self, name: str, pods_fd: int) -> None:
        self.name = name
        self._pods_fd = pods_fd

    def read(self) -> PodRecord | None:
        record, _ = _POD_FILES.read(self._pods_fd, self.name)
        return record

    def write(self, record: PodRecord) -> None:
        _POD_FILES.write(self._pods_fd, self.name, _encode_pod(record))

    def delete(self) -> int:
        return _POD_FILES.delete(self._pods_fd, self.name)

    def size(self) -> int:
        st = _POD_FILES.stat(self._pods_fd, self.name)
        return st.st_size if st is not None and stat.S_ISREG(st.st_mode) else 0

    def written_at(self) -> datetime | None:
        st = _POD_FILES.stat(self._pods_fd, self.name)
        return _mtime(st) if st else None


def _encode_pod(record: PodRecord) -> bytes:
    try:
        return encode_pod_record(record).encode()
    except RecordFormatError as exc:
        raise InvalidRecord(str(exc)) from exc


class FsPodStore(PodStore):
    """Pod records as files under ``data_dir``; hosting leases under ``runtime_dir``."""

    def __init__(
        self,
        data_dir: Path,
        runtime_dir: Path,
        *,
        probe_timeout: float = MAX_PROBE_TIMEOUT,
        lock_timeout: float = 30.0,
        url: str | None = None,
    ) -> None:
        if not 0 < probe_timeout <= MAX_PROBE_TIMEOUT:
            raise ValueError(f"probe_timeout must be in (0, {MAX_PROBE_TIMEOUT}] seconds")
        self.data_dir = Path(data_dir)
        self.runtime_dir = Path(runtime_dir)
        self.probe_timeout = probe_timeout
        self.lock_timeout = lock_timeout
        self.url = url or f"fs://{self.data_dir}"

    def __repr__(self) -> str:
        return f"FsPodStore(data_dir={str(self.data_dir)!r}, runtime_dir={str(self.runtime_dir)!r})"

    # ---- Pod records ----

    def pod_path(self, name: str) -> Path:
        """Where the record of ``name`` lives (for messages and tools; the store uses fds)."""
        return self.data_dir / PODS_DIR / validate_pod_name(name) / METADATA_FILE

    @contextlib.contextmanager
    def locked(self, name: str) -> Iterator[LockedPod]:
        validate_pod_name(name)
        with _walk(self.data_dir, (PODS_DIR,), create=True) as pods_fd:
            locks_fd = _open_dir(LOCKS_DIR, pods_fd, create=True)
            try:
                lock_fd = os.open(
                    f"{name}.lock",
                    os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                    0o600,
                    dir_fd=locks_fd,
                )
            finally:
                os.close(locks_fd)
            try:
                self._acquire(lock_fd, name)
                yield _FsLockedPod(name, pods_fd)
            finally:
                os.close(lock_fd)  # closing the descriptor releases the flock

    def _acquire(self, lock_fd: int, name: str) -> None:
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.0005
        while True:
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise PodLockTimeout(name, self.lock_timeout) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.02)

    def read(self, name: str) -> PodRecord | None:
        validate_pod_name(name)
        try:
            with _walk(self.data_dir, (PODS_DIR,), create=False) as pods_fd:
                record, _ = _POD_FILES.read(pods_fd, name)
        except FileNotFoundError:
            return None
        return record

    def list_pods(self) -> builtins.list[PodListing]:
        try:
            with _walk(self.data_dir, (PODS_DIR,), create=False) as pods_fd:
                _remove_tombstones(pods_fd)
                return [
                    listing
                    for key, is_dir in _POD_FILES.keys(pods_fd)
                    if (listing := self._listing(pods_fd, key, is_dir)) is not None
                ]
        except FileNotFoundError:
            return []

    def _listing(self, pods_fd: int, name: str, is_dir: bool) -> PodListing | None:
        try:
            record, _ = _POD_FILES.read(pods_fd, name)
        except CorruptPodRecord as exc:
            return PodListing(name, error=exc)
        if record is None:
            return None  # a directory without metadata (a delete in progress): no Pod
        return PodListing(name, record=record)

    # ---- runtime records ----

    def write_runtime(self, record: RuntimeRecord) -> RuntimeRecord:
        validate_runtime_id(record.runtime_id)
        if record.created_at is None:
            record = attrs.evolve(record, created_at=utc_now())
        try:
            data = encode_runtime_record(record).encode()
        except RecordFormatError as exc:
            raise InvalidRecord(str(exc)) from exc
        with _walk(self.data_dir, (RUNTIMES_DIR,), create=True) as runtimes_fd:
            _RUNTIME_FILES.write(runtimes_fd, record.runtime_id, data)
        return record

    def read_runtime(self, runtime_id: str) -> RuntimeRecord | None:
        validate_runtime_id(runtime_id)
        try:
            with _walk(self.data_dir, (RUNTIMES_DIR,), create=False) as runtimes_fd:
                record, _ = _RUNTIME_FILES.read(runtimes_fd, runtime_id)
        except FileNotFoundError:
            return None
        return record

    def list_runtimes(self) -> builtins.list[RuntimeListing]:
        listings = []
        try:
            with _walk(self.data_dir, (RUNTIMES_DIR,), create=False) as runtimes_fd:
                _remove_tombstones(runtimes_fd)
                for key, _ in _RUNTIME_FILES.keys(runtimes_fd):
                    try:
                        record, _ = _RUNTIME_FILES.read(runtimes_fd, key)
                    except CorruptRuntimeRecord as exc:
                        listings.append(RuntimeListing(key, error=exc))
                        continue
                    if record is not None:
                        listings.append(RuntimeListing(key, record=record))
        except FileNotFoundError:
            return []
        return listings

    def delete_runtime(self, runtime_id: str) -> bool:
        validate_runtime_id(runtime_id)
        try:
            with _walk(self.data_dir, (RUNTIMES_DIR,), create=False) as runtimes_fd:
                existed = _RUNTIME_FILES.stat(runtimes_fd, runtime_id) is not None
                _RUNTIME_FILES.delete(runtimes_fd, runtime_id)
                return existed
        except FileNotFoundError:
            return False

    # ---- liveness ----

    def lease_dir(self, runtime_id: str) -> Path:
        return self.runtime_dir / RUNTIMES_DIR / validate_runtime_id(runtime_id)

    def socket_path(self, runtime_id: str) -> Path:
        return self.lease_dir(runtime_id) / LEASE_SOCKET_FILE

    def host(self, runtime_id: str) -> HostingLease:
        validate_runtime_id(runtime_id)
        return FsHostingLease(self, runtime_id)

    def probe_runtime(self, runtime_id: str) -> Liveness:
        validate_runtime_id(runtime_id)
        return _probe_lease(self, runtime_id)

    def probe_all_runtimes(self) -> builtins.list[Liveness]:
        try:
            with (
                _walk(self.runtime_dir, (RUNTIMES_DIR,), create=False) as runtimes_fd,
                os.scandir(runtimes_fd) as entries,
            ):
                ids = sorted(entry.name for entry in entries if is_valid_name(entry.name))
        except FileNotFoundError:
            return []
        except (OSError, UnsafeStoreLayout) as exc:
            return [
                Liveness(
                    LivenessState.UNCERTAIN,
                    f"cannot list runtime leases ({_describe_error(exc)})",
                )
            ]
        return [self.probe_runtime(runtime_id) for runtime_id in ids]


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"{errno.errorcode.get(exc.errno, exc.errno)}: {exc.strerror}"
    return f"{type(exc).__name__}: {exc}"


def _socket_address(dir_fd: int, path: Path) -> str:
    """An address for the socket in ``dir_fd``, immune to symlink swaps and path length limits.

    Linux resolves ``/proc/self/fd/N`` to the directory already opened with ``O_NOFOLLOW``; other
    systems use the plain path, which must fit ``sun_path``.
    """
    if _PROC_FD.is_dir():
        return f"{_PROC_FD}/{dir_fd}/{LEASE_SOCKET_FILE}"
    return str(path)


class FsHostingLease(HostingLease):
    """The lease directory ``<runtime_dir>/runtimes/<runtime_id>/``: a held lock and a socket.

    Created in this order: directory, ``lock`` (flock LOCK_EX, held until close), then the
    listening ``sock`` served by a daemon thread that accepts and closes connections. So from
    the moment the lock is held the runtime probes live, and after a crash (even SIGKILL) the
    kernel releases the lock and the socket refuses connections: it probes stopped.
    """

    def __init__(self, store: FsPodStore, runtime_id: str) -> None:
        super().__init__(store, runtime_id)
        self._socket_path = store.socket_path(runtime_id)
        self._lease_fd, self._lock_fd = self._acquire(store, runtime_id)
        try:
            self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(LEASE_SOCKET_FILE, dir_fd=self._lease_fd)  # a crashed host's socket
            address = _socket_address(self._lease_fd, self._socket_path)
            if len(os.fsencode(address)) > _SUN_PATH_MAX:
                raise HostingError(
                    f"socket path for runtime {safe_repr(runtime_id)} is longer than "
                    f"{_SUN_PATH_MAX} bytes; choose a shorter runtime dir"
                )
            self._listener.bind(address)
            self._listener.listen(64)
        except BaseException:
            self._listener.close()
            self._release_files()
            raise
        self._thread = threading.Thread(
            target=self._serve, name=f"yoi-pod-store lease {runtime_id}", daemon=True
        )
        self._thread.start()

    @staticmethod
    def _acquire(store: FsPodStore, runtime_id: str) -> tuple[int, int]:
        deadline = time.monotonic() + LEASE_ACQUIRE_TIMEOUT
        while True:
            with _walk(store.runtime_dir, (RUNTIMES_DIR,), create=True) as runtimes_fd:
                lease_fd = _open_dir(runtime_id, runtimes_fd, create=True)
            try:
                lock_fd = os.open(
                    LEASE_LOCK_FILE,
                    os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                    0o600,
                    dir_fd=lease_fd,
                )
            except FileNotFoundError:
                # The previous holder removed the directory while closing: start over.
                os.close(lease_fd)
                continue
            except BaseException:
                os.close(lease_fd)
                raise
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(lock_fd)
                os.close(lease_fd)
                if time.monotonic() >= deadline:
                    raise RuntimeAlreadyHosted(runtime_id) from None
                time.sleep(0.01)  # a prober holds LOCK_SH for a moment, or a live host holds it
                continue
            # The lock counts only if it is still the file at "lock" (not one a closing holder
            # unlinked after we opened it).
            try:
                current = os.stat(LEASE_LOCK_FILE, dir_fd=lease_fd, follow_symlinks=False)
                same = current.st_ino == os.fstat(lock_fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return lease_fd, lock_fd
            os.close(lock_fd)
            os.close(lease_fd)

    @property
    def hint(self) -> str:
        return str(self._socket_path)

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return  # the listener was shut down
            connection.close()

    def _close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(timeout=2)
        self._release_files()

    def _release_files(self) -> None:
        # Remove the socket and lock while still holding the lock, then the directory.
        for name in (LEASE_SOCKET_FILE, LEASE_LOCK_FILE):
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=self._lease_fd)
        with (
            contextlib.suppress(OSError),
            _walk(self.store_fs.runtime_dir, (RUNTIMES_DIR,), create=False) as runtimes_fd,
        ):
            os.rmdir(self.runtime_id, dir_fd=runtimes_fd)
        os.close(self._lock_fd)
        os.close(self._lease_fd)

    @property
    def store_fs(self) -> FsPodStore:
        assert isinstance(self.store, FsPodStore)
        return self.store


def _probe_lease(store: FsPodStore, runtime_id: str) -> Liveness:
    """Positive check of one runtime lease: lock held? socket answers?"""
    path = store.socket_path(runtime_id)

    def result(state: LivenessState, reason: str) -> Liveness:
        return Liveness(state, reason, runtime_id=runtime_id, hint=str(path))

    def uncertain(what: str, exc: BaseException) -> Liveness:
        return result(
            LivenessState.UNCERTAIN,
            f"liveness of runtime {safe_repr(runtime_id)} is uncertain; {what} "
            f"({_describe_error(exc)})",
        )

    stopped_reason = f"runtime {safe_repr(runtime_id)} is not running"
    with contextlib.ExitStack() as stack:
        try:
            lease_fd = stack.enter_context(
                _walk(store.runtime_dir, (RUNTIMES_DIR, runtime_id), create=False)
            )
        except FileNotFoundError:
            return result(LivenessState.STOPPED, f"{stopped_reason} (no lease directory)")
        except (OSError, UnsafeStoreLayout) as exc:
            return uncertain("cannot open its lease directory", exc)
        try:
            lock_fd = os.open(LEASE_LOCK_FILE, _READ_FLAGS, dir_fd=lease_fd)
        except FileNotFoundError:
            held = False
        except OSError as exc:
            return uncertain("cannot open its lock", exc)
        else:
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                held = False
            except BlockingIOError:
                held = True
            except OSError as exc:
                return uncertain("cannot test its lock", exc)
            finally:
                os.close(lock_fd)  # also drops our momentary shared lock

        client = stack.enter_context(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
        client.settimeout(store.probe_timeout)
        try:
            client.connect(_socket_address(lease_fd, path))
            answers = True
        except (FileNotFoundError, ConnectionRefusedError):
            answers = False
        except TimeoutError as exc:
            # Equivalent mutant `statement removed`: on Linux a Unix socket's connect never
            # times out (a full backlog fails at once with EAGAIN, below); other systems may.
            return uncertain(f"its socket did not answer within {store.probe_timeout:g} s", exc)
        except OSError as exc:
            return uncertain("cannot connect to its socket", exc)

    if held and answers:
        return result(LivenessState.LIVE, f"runtime {safe_repr(runtime_id)} is live")
    if held:
        return result(
            LivenessState.LIVE,
            f"runtime {safe_repr(runtime_id)} holds its lease and is starting "
            "(socket not bound yet)",
        )
    if answers:
        return result(
            LivenessState.UNCERTAIN,
            f"liveness of runtime {safe_repr(runtime_id)} is uncertain; its socket answers "
            "but nobody holds its lease lock",
        )
    return result(LivenessState.STOPPED, f"{stopped_reason} (lease free, socket gone or refused)")


def open_fs_pod_store(url: str) -> FsPodStore:
    """Open ``fs:`` (the default data dir) or ``fs:///abs/path``.

    The query may set ``runtime_dir=/abs/path`` (default: ``$YOI_RUNTIME_DIR`` and friends).
    """
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme != "fs":
        raise StoreUrlError(f"not an fs store URL: {url!r}")
    if parsed.netloc:
        raise StoreUrlError(f"fs store URL {url!r} names a host; use fs:///absolute/path")
    if parsed.fragment:
        raise StoreUrlError(f"fs store URL {url!r} must not have a fragment")
    options = urllib.parse.parse_qs(parsed.query, keep_blank_values=True, strict_parsing=False)
    unknown = sorted(set(options) - {"runtime_dir"})
    if unknown:
        raise StoreUrlError(f"unknown fs store URL option(s) {', '.join(unknown)} in {url!r}")
    path = urllib.parse.unquote(parsed.path)
    if path and not path.startswith("/"):
        raise StoreUrlError(f"fs store URL {url!r} must use an absolute path: fs:///absolute/path")
    runtime_values = options.get("runtime_dir", [])
    if runtime_values and (len(runtime_values) > 1 or not runtime_values[0].startswith("/")):
        raise StoreUrlError(f"runtime_dir in {url!r} must be one absolute path")
    try:
        data_dir = Path(path) if path else default_data_dir()
        runtime_dir = Path(runtime_values[0]) if runtime_values else default_runtime_dir()
    except HomeDirectoryError as exc:
        raise StoreUrlError(str(exc)) from exc
    return FsPodStore(data_dir, runtime_dir, url=url)
