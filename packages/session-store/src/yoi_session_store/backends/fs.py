"""The ``fs`` backend: one JSON-lines file per segment under ``<data>/sessions``.

Layout::

    <data>/sessions/<session_id>/<segment_id>.jsonl        the segment, one entry per line
    <data>/sessions/<session_id>/<segment_id>.trace.jsonl  debug trace, written, never read
    <data>/sessions/.by-segment/<segment_id>               symlink whose text is ../<session_id>

How an append stays whole: the entry is encoded to ``line + "\\n"`` and written with one
``os.write`` on an ``O_APPEND`` descriptor while holding an exclusive ``flock`` on the segment
file. Before writing, the writer checks (from the file size it last saw, so without rereading
the file) whether the file ends in an incomplete line left by a crashed writer and cuts it off.
Readers take a shared lock, so they never see a half-written line. A line without its newline
at the end of the file is an append that never completed: readers skip it with a
:class:`~yoi_session_store.errors.TornTailWarning`.

Rewrites (``create_segment``, ``truncate``) write a temporary file, fsync it, move it into
place (``link`` for creation, so an existing segment is never overwritten; ``rename`` for
truncation), then fsync the directory. Deleting a session takes each segment's lock before
unlinking it; a writer that obtains the lock afterwards sees the file unlinked and fails with
:class:`~yoi_session_store.errors.SegmentNotFoundError` instead of writing into the void.

Fsync policy (``fs:///path?fsync=...`` or ``FsSessionStore(..., fsync=...)``):

``always`` (default)
    every append is fdatasync'ed before it returns, plus everything ``segment`` does: an
    acknowledged entry survives a power loss.
``segment``
    new segments, rewrites and new directories are fsynced; plain appends are not (they
    survive a crash of the process, not of the machine).
``never``
    nothing is fsynced (tests, scratch data).
"""

# The hot paths work on str paths and directory descriptors (``dir_fd``), which pathlib lacks.
# ruff: noqa: PTH102, PTH104, PTH106, PTH108, PTH115, PTH116, PTH118, PTH120, PTH208, PTH211

from __future__ import annotations

import enum
import errno
import fcntl
import os
import shutil
import stat
import threading
import warnings
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import orjson
from yoi_base.paths import HomeDirectoryError, default_data_dir

from yoi_session_store.backends._common import (
    check_ids,
    decode_lines,
    encode_appended,
    encode_new_segment,
)
from yoi_session_store.contract import SegmentInfo, SessionInfo, SessionStore
from yoi_session_store.errors import (
    CorruptSegmentError,
    InvalidStoreUrlError,
    SegmentExistsError,
    SegmentNotFoundError,
    SessionStoreError,
    TornTailWarning,
    TruncateRangeError,
    UnsafePathError,
)
from yoi_session_store.ids import (
    SegmentId,
    SessionId,
    is_canonical_uuid,
    parse_segment_id,
    parse_session_id,
    uuid7,
)
from yoi_session_store.model import Entry, SegmentStart

SEGMENT_SUFFIX = ".jsonl"
TRACE_SUFFIX = ".trace.jsonl"
INDEX_DIR_NAME = ".by-segment"
DIR_MODE = 0o700
FILE_MODE = 0o600

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _O_CLOEXEC
_fdatasync = getattr(os, "fdatasync", os.fsync)
# Bound once: the append path calls them for every entry.
_flock, _lseek, _write = fcntl.flock, os.lseek, os.write
_LOCK_EX, _LOCK_UN, _SEEK_END = fcntl.LOCK_EX, fcntl.LOCK_UN, os.SEEK_END


class FsyncPolicy(enum.Enum):
    ALWAYS = "always"
    SEGMENT = "segment"
    NEVER = "never"


class _Handle:
    """An open segment file and what this process knows about it (guarded by ``lock``)."""

    __slots__ = ("committed", "count", "fd", "key", "lock", "path", "size", "trace_fd")

    def __init__(self, key: tuple[SessionId, SegmentId], path: str, fd: int) -> None:
        self.key = key
        self.path = path
        self.fd = fd
        self.trace_fd = -1
        self.size = 0  # bytes of the file accounted for
        self.committed = 0  # offset just past the last newline
        self.count = 0  # committed lines
        self.lock = threading.Lock()

    def close(self) -> None:
        for fd in (self.fd, self.trace_fd):
            if fd >= 0:
                os.close(fd)
        self.fd = self.trace_fd = -1


_stores: weakref.WeakSet[FsSessionStore] = weakref.WeakSet()


def _forget_handles_in_child() -> None:
    # A forked child shares the parent's open file descriptions, and with them the flocks:
    # it must open its own.
    for store in list(_stores):
        store._reset_after_fork()


os.register_at_fork(after_in_child=_forget_handles_in_child)


class FsSessionStore(SessionStore):
    """Session logs under ``<data_dir>/sessions`` (see the module docs for the guarantees)."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        fsync: FsyncPolicy | str = FsyncPolicy.ALWAYS,
        max_open_segments: int = 128,
    ) -> None:
        try:
            self.fsync = FsyncPolicy(fsync)
        except ValueError:
            choices = ", ".join(p.value for p in FsyncPolicy)
            raise ValueError(f"invalid fsync policy {fsync!r}: choose one of {choices}") from None
        if max_open_segments < 1:
            raise ValueError("max_open_segments must be at least 1")
        self.data_dir = Path(data_dir).absolute()
        self.sessions_dir = self.data_dir / "sessions"
        self._root = str(self.sessions_dir)
        self._index = os.path.join(self._root, INDEX_DIR_NAME)
        self._sync_appends = self.fsync is FsyncPolicy.ALWAYS
        self._max_open = max_open_segments
        self._handles: dict[tuple[SessionId, SegmentId], _Handle] = {}
        self._handles_lock = threading.Lock()
        self._closed = False
        _stores.add(self)

    def __repr__(self) -> str:
        return f"FsSessionStore({str(self.data_dir)!r}, fsync={self.fsync.value!r})"

    # ---- paths and directories ---------------------------------------------------------------

    def _session_dir(self, session: SessionId) -> str:
        return os.path.join(self._root, session)

    def _segment_path(self, session: SessionId, segment: SegmentId) -> str:
        return os.path.join(self._root, session, segment + SEGMENT_SUFFIX)

    def _sync_dir(self, path: str) -> None:
        if self.fsync is FsyncPolicy.NEVER:
            return
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | _O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _ensure_dir(self, path: str, *, may_be_symlink: bool) -> None:
        """Create a directory (and missing parents), fsyncing each parent that gained one."""
        try:
            st = os.stat(path) if may_be_symlink else os.lstat(path)
        except FileNotFoundError:
            parent = os.path.dirname(path)
            if parent != path:
                self._ensure_dir(parent, may_be_symlink=True)
            try:
                os.mkdir(path, DIR_MODE)
            except FileExistsError:
                return self._ensure_dir(path, may_be_symlink=may_be_symlink)
            self._sync_dir(parent)
            return None
        if not stat.S_ISDIR(st.st_mode):
            raise UnsafePathError(f"{path} exists and is not a directory")
        return None

    def _open_session_dir(self, session: SessionId) -> int:
        try:
            return os.open(self._session_dir(session), _O_DIR)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise UnsafePathError(
                    f"{self._session_dir(session)} is a symlink or not a directory"
                ) from exc
            raise

    def _open_segment(self, session: SessionId, segment: SegmentId, flags: int) -> int:
        try:
            dir_fd = self._open_session_dir(session)
        except FileNotFoundError:
            raise SegmentNotFoundError(session, segment) from None
        try:
            fd = os.open(
                segment + SEGMENT_SUFFIX, flags | os.O_NOFOLLOW | _O_CLOEXEC, dir_fd=dir_fd
            )
        except FileNotFoundError:
            raise SegmentNotFoundError(session, segment) from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UnsafePathError(
                    f"{self._segment_path(session, segment)} is a symlink"
                ) from exc
            raise
        finally:
            os.close(dir_fd)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise UnsafePathError(f"{self._segment_path(session, segment)} is not a regular file")
        return fd

    def _check_open(self) -> None:
        if self._closed:
            raise SessionStoreError("the session store is closed")

    # ---- the handle cache and the segment lock -----------------------------------------------

    def _open_handle(self, key: tuple[SessionId, SegmentId]) -> _Handle:
        with self._handles_lock:
            self._check_open()
            handle = self._handles.get(key)
            if handle is not None:
                return handle
            check_ids(*key)  # cached handles exist only for valid ids
            fd = self._open_segment(key[0], key[1], os.O_RDWR | os.O_APPEND)
            handle = self._handles[key] = _Handle(key, self._segment_path(*key), fd)
            self._evict()
            return handle

    def _evict(self) -> None:
        """Close the oldest-opened handles beyond the limit (caller holds ``_handles_lock``)."""
        for key in list(self._handles):
            if len(self._handles) <= self._max_open:
                return
            handle = self._handles[key]
            if handle.lock.acquire(blocking=False):  # never close a file someone is using
                try:
                    del self._handles[key]
                    handle.close()
                finally:
                    handle.lock.release()

    def _forget(self, handle: _Handle) -> None:
        """Close a handle whose file was unlinked or replaced (caller holds ``handle.lock``)."""
        with self._handles_lock:
            if self._handles.get(handle.key) is handle:
                del self._handles[handle.key]
        handle.close()

    def _lock(self, session: SessionId, segment: SegmentId) -> _Handle:
        """The segment's handle with its thread lock and exclusive flock held, up to date.

        Fast path: the file size is what this handle last saw, so nothing changed. Whoever
        unlinks or replaces a segment empties the old inode afterwards (under this lock), so a
        stale handle always shows a size change and takes the slow path, which checks the link
        count and reopens the path.
        """
        key = (session, segment)
        for _ in range(16):
            handle = self._handles.get(key) or self._open_handle(key)
            handle.lock.acquire()
            fd = handle.fd
            if fd < 0:  # evicted or forgotten while we waited
                handle.lock.release()
                continue
            try:
                _flock(fd, _LOCK_EX)
                if _lseek(fd, 0, _SEEK_END) == handle.size:
                    return handle
                st = os.fstat(fd)
                if st.st_nlink == 0:  # deleted or replaced by a rewrite: reopen the path
                    self._forget(handle)
                    handle.lock.release()
                    continue
                self._catch_up(handle, st.st_size)
            except BaseException:
                self._unlock(handle)
                raise
            return handle
        raise SessionStoreError(f"{self._segment_path(session, segment)} keeps being replaced")

    @staticmethod
    def _unlock(handle: _Handle) -> None:
        try:
            if handle.fd >= 0:
                _flock(handle.fd, _LOCK_UN)
        finally:
            handle.lock.release()

    @staticmethod
    def _catch_up(handle: _Handle, new_size: int) -> None:
        """Account for bytes other writers added since this handle last looked."""
        if new_size < handle.size:  # shrunk in place by someone else: recount
            handle.size = handle.committed = handle.count = 0
        position = handle.size
        while position < new_size:
            chunk = os.pread(handle.fd, min(1 << 20, new_size - position), position)
            if not chunk:
                break
            newlines = chunk.count(b"\n")
            if newlines:
                handle.count += newlines
                handle.committed = position + chunk.rindex(b"\n") + 1
            position += len(chunk)
        handle.size = position

    def _cut_torn_tail(self, handle: _Handle) -> None:
        torn = handle.size - handle.committed
        os.ftruncate(handle.fd, handle.committed)
        if self.fsync is not FsyncPolicy.NEVER:
            os.fsync(handle.fd)
        handle.size = handle.committed
        warnings.warn(
            TornTailWarning(
                f"{handle.path}: cut off an incomplete final line ({torn} bytes at byte "
                f"offset {handle.committed}) before appending"
            ),
            stacklevel=4,
        )

    def _write_locked(self, handle: _Handle, data: bytes, lines: int) -> None:
        size = handle.size
        if handle.committed != size or not handle.count:
            if not handle.count:
                raise CorruptSegmentError(handle.path, 1, 0, "segment has no segment_start")
            self._cut_torn_tail(handle)
            size = handle.size
        fd = handle.fd
        try:
            written = _write(fd, data)
        except OSError:
            os.ftruncate(fd, size)
            raise
        if written != len(data):  # disk full: never leave a partial line behind
            os.ftruncate(fd, size)
            raise OSError(errno.ENOSPC, f"short write to {handle.path}")
        if self._sync_appends:
            try:
                _fdatasync(fd)
            except OSError:
                # Not known to be durable: take the lines back, so a failed append never
                # surfaces later as written.
                os.ftruncate(fd, size)
                raise
        handle.size = handle.committed = size + written
        handle.count += lines

    # ---- appends ------------------------------------------------------------------------------

    def append(self, session: SessionId, segment: SegmentId, entry: Entry) -> int:
        if type(entry) is SegmentStart:
            self.create_segment(session, segment, [entry])
            return 1
        data = encode_appended(entry, newline=True)
        handle = self._lock(session, segment)
        try:
            self._write_locked(handle, data, 1)
            return handle.count
        finally:
            try:  # _unlock, inlined: this is the hot path
                if handle.fd >= 0:
                    _flock(handle.fd, _LOCK_UN)
            finally:
                handle.lock.release()

    def append_if_count(
        self, session: SessionId, segment: SegmentId, entry: Entry, expected_count: int
    ) -> bool:
        data = encode_appended(entry, newline=True)
        handle = self._lock(session, segment)
        try:
            if handle.count != expected_count:
                return False
            self._write_locked(handle, data, 1)
            return True
        finally:
            self._unlock(handle)

    def append_many_if_count(
        self,
        session: SessionId,
        segment: SegmentId,
        entries: Sequence[Entry],
        expected_count: int,
    ) -> bool:
        """One ``write`` of every line and (policy ``always``) one sync: concurrent writers that
        batch their entries share the sync. A failed write or sync leaves none of them."""
        data = b"".join(encode_appended(entry, newline=True) for entry in entries)
        handle = self._lock(session, segment)
        try:
            if handle.count != expected_count:
                return False
            if data:
                self._write_locked(handle, data, len(entries))
            return True
        finally:
            self._unlock(handle)

    def append_trace(
        self, session: SessionId, segment: SegmentId, record: Mapping[str, Any]
    ) -> None:
        data = orjson.dumps(record) + b"\n"
        handle = self._lock(session, segment)  # the segment exists while we hold its lock
        try:
            if handle.trace_fd < 0:
                handle.trace_fd = os.open(
                    os.path.join(self._root, session, segment + TRACE_SUFFIX),
                    os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | _O_CLOEXEC,
                    FILE_MODE,
                )
            os.write(handle.trace_fd, data)
        finally:
            self._unlock(handle)

    # ---- creation and rewrites ----------------------------------------------------------------

    def _write_temp(self, dir_fd: int, name: str, data: bytes) -> str:
        temp = f".{name}.{uuid7()}.tmp"
        fd = os.open(
            temp,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _O_CLOEXEC,
            FILE_MODE,
            dir_fd=dir_fd,
        )
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if self.fsync is not FsyncPolicy.NEVER:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            os.unlink(temp, dir_fd=dir_fd)
            raise
        os.close(fd)
        return temp

    def create_segment(
        self, session: SessionId, segment: SegmentId, entries: Sequence[Entry]
    ) -> None:
        check_ids(session, segment)
        data = b"".join(encode_new_segment(session, entries, newline=True))
        self._check_open()
        name = segment + SEGMENT_SUFFIX
        for _ in range(16):
            self._claim_index(session, segment)
            self._ensure_dir(self._session_dir(session), may_be_symlink=False)
            try:
                dir_fd = self._open_session_dir(session)
            except FileNotFoundError:  # the session was deleted meanwhile: start over
                continue
            try:
                temp = self._write_temp(dir_fd, name, data)
                try:
                    os.link(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
                except FileExistsError:
                    raise SegmentExistsError(session, segment) from None
                finally:
                    os.unlink(temp, dir_fd=dir_fd)
                if self.fsync is not FsyncPolicy.NEVER:
                    os.fsync(dir_fd)
                return
            except FileNotFoundError:
                continue
            finally:
                os.close(dir_fd)
        raise SessionStoreError(f"session {session} keeps being deleted while creating {segment}")

    def truncate(self, session: SessionId, segment: SegmentId, keep: int) -> None:
        handle = self._lock(session, segment)
        try:
            if not 1 <= keep <= handle.count:
                raise TruncateRangeError(
                    f"cannot keep {keep} entries of a segment holding {handle.count}"
                )
            if keep == handle.count and handle.committed == handle.size:
                return
            data = os.pread(handle.fd, handle.committed, 0)
            cut = 0
            for _ in range(keep):
                cut = data.index(b"\n", cut) + 1
            dir_fd = self._open_session_dir(session)
            try:
                name = segment + SEGMENT_SUFFIX
                temp = self._write_temp(dir_fd, name, data[:cut])
                os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
                if self.fsync is not FsyncPolicy.NEVER:
                    os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
            os.ftruncate(handle.fd, 0)  # the old inode is unlinked: mark it stale for writers
            self._forget(handle)  # the old file is gone; waiting writers reopen the new one
        finally:
            self._unlock(handle)

    # ---- reads ---------------------------------------------------------------------------------

    def _read_committed(self, session: SessionId, segment: SegmentId) -> tuple[str, list[bytes]]:
        self._check_open()
        path = self._segment_path(session, segment)
        for _ in range(16):
            fd = self._open_segment(session, segment, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_SH)
                st = os.fstat(fd)
                if st.st_nlink == 0:
                    continue
                data = _read_to_end(fd, st.st_size)
            finally:
                os.close(fd)
            return path, _split_committed(path, data)
        raise SessionStoreError(f"{path} keeps being replaced")

    def read(
        self, session: SessionId, segment: SegmentId, start: int = 0, limit: int | None = None
    ) -> list[Entry]:
        check_ids(session, segment)
        path, lines = self._read_committed(session, segment)
        return decode_lines(path, lines, start, limit)

    def read_entry_count(self, session: SessionId, segment: SegmentId) -> int:
        check_ids(session, segment)
        self._check_open()
        fd = self._open_segment(session, segment, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            return _read_to_end(fd, os.fstat(fd).st_size).count(b"\n")
        finally:
            os.close(fd)

    def exists(self, session: SessionId, segment: SegmentId) -> bool:
        check_ids(session, segment)
        self._check_open()
        try:
            if not stat.S_ISDIR(os.lstat(self._session_dir(session)).st_mode):
                return False
            return stat.S_ISREG(os.lstat(self._segment_path(session, segment)).st_mode)
        except (FileNotFoundError, NotADirectoryError):
            return False

    # ---- listing ------------------------------------------------------------------------------

    def list_sessions(self) -> list[SessionInfo]:
        self._check_open()
        infos: list[SessionInfo] = []
        try:
            entries = os.scandir(self._root)
        except FileNotFoundError:
            return []
        with entries:
            for entry in entries:
                name = entry.name
                if len(name) != 36 or not is_canonical_uuid(name):
                    continue
                try:
                    if not entry.is_dir(follow_symlinks=False):
                        continue
                    newest = entry.stat(follow_symlinks=False).st_mtime_ns
                except FileNotFoundError:
                    continue
                try:
                    summary = _scan_session(entry.path, newest)
                except OSError as exc:  # one unreadable session never hides the others
                    error = f"cannot be read ({exc.strerror or type(exc).__name__})"
                    infos.append(SessionInfo(SessionId(name), newest // 1_000_000, 0, 0, error))
                    continue
                if summary is not None:
                    newest, size, segments = summary
                    infos.append(SessionInfo(SessionId(name), newest // 1_000_000, size, segments))
        infos.sort(key=lambda info: (info.last_activity_ms, info.session_id), reverse=True)
        return infos

    def list_segments(self, session: SessionId) -> list[SegmentInfo]:
        parse_session_id(session)
        self._check_open()
        path = self._session_dir(session)
        try:
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                return []
            entries = os.scandir(path)
        except (FileNotFoundError, NotADirectoryError):
            return []
        sizes: dict[str, int] = {}
        mtimes: dict[str, int] = {}
        with entries:
            for entry in entries:
                name = entry.name
                if name.endswith(TRACE_SUFFIX):
                    segment, is_trace = name[: -len(TRACE_SUFFIX)], True
                elif name.endswith(SEGMENT_SUFFIX):
                    segment, is_trace = name[: -len(SEGMENT_SUFFIX)], False
                else:
                    continue
                if not is_canonical_uuid(segment):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if not stat.S_ISREG(st.st_mode):
                    continue
                sizes[segment] = sizes.get(segment, 0) + st.st_size
                if not is_trace:
                    mtimes[segment] = st.st_mtime_ns
        infos = [
            SegmentInfo(SegmentId(segment), sizes[segment], mtime // 1_000_000)
            for segment, mtime in mtimes.items()
        ]
        infos.sort(key=lambda info: info.segment_id, reverse=True)
        return infos

    def session_modified_at(self, session: SessionId) -> int | None:
        parse_session_id(session)
        self._check_open()
        path = self._session_dir(session)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return None
        if not stat.S_ISDIR(st.st_mode):
            return None
        summary = _scan_session(path, st.st_mtime_ns)
        return None if summary is None else summary[0] // 1_000_000

    # ---- the segment index --------------------------------------------------------------------

    def _read_index(self, segment: SegmentId) -> SessionId | None:
        try:
            target = os.readlink(os.path.join(self._index, segment))
        except (FileNotFoundError, OSError):
            return None
        session = target[3:] if target.startswith("../") else ""
        return SessionId(session) if is_canonical_uuid(session) else None

    def _claim_index(self, session: SessionId, segment: SegmentId) -> None:
        """Record the segment's session before the segment exists, so the index is complete."""
        self._ensure_dir(self._root, may_be_symlink=True)
        self._ensure_dir(self._index, may_be_symlink=False)
        link = os.path.join(self._index, segment)
        try:
            os.symlink(f"../{session}", link)
        except FileExistsError:
            owner = self._read_index(segment)
            if owner == session:
                return
            if owner is not None and self.exists(owner, segment):
                raise SegmentExistsError(owner, segment) from None
            temp = os.path.join(self._index, f".{segment}.{uuid7()}.tmp")
            os.symlink(f"../{session}", temp)
            os.rename(temp, link)  # replaces a stale record atomically
        self._sync_dir(self._index)

    def _drop_index(self, session: SessionId, segment: str) -> None:
        if is_canonical_uuid(segment) and self._read_index(SegmentId(segment)) == session:
            with _ignore_missing():
                os.unlink(os.path.join(self._index, segment))

    def lookup_session_of(self, segment: SegmentId) -> SessionId | None:
        parse_segment_id(segment)
        self._check_open()
        owner = self._read_index(segment)
        if owner is not None and self.exists(owner, segment):
            return owner
        return None

    def rebuild_index(self) -> int:
        """Re-derive the segment index from the session directories; return its size.

        Needed only for sessions copied in from elsewhere (a backup, an older version).
        """
        self._check_open()
        found = 0
        for info in self.list_sessions():
            if not info.ok:
                continue
            for segment in self.list_segments(info.session_id):
                if self._read_index(segment.segment_id) != info.session_id:
                    self._claim_index(info.session_id, segment.segment_id)
                found += 1
        try:
            names = os.listdir(self._index)
        except FileNotFoundError:
            return found
        for name in names:
            owner = self._read_index(SegmentId(name)) if is_canonical_uuid(name) else None
            if owner is None or not self.exists(owner, SegmentId(name)):
                os.unlink(os.path.join(self._index, name))
        return found

    # ---- deletion -----------------------------------------------------------------------------

    def delete_session(self, session: SessionId) -> bool:
        parse_session_id(session)
        self._check_open()
        path = self._session_dir(session)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return False
        if not stat.S_ISDIR(st.st_mode):
            raise UnsafePathError(f"{path} is a symlink or not a directory; not deleting it")
        for _ in range(64):
            try:
                dir_fd = os.open(path, _O_DIR)
            except FileNotFoundError:
                return True
            try:
                self._empty_session_dir(session, dir_fd)
            finally:
                os.close(dir_fd)
            try:
                os.rmdir(path)
            except FileNotFoundError:
                return True
            except OSError as exc:
                if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                    continue  # a writer created a file meanwhile: remove it too
                raise
            self._sync_dir(self._root)
            return True
        raise SessionStoreError(f"{path} keeps gaining files; not deleted")

    def _empty_session_dir(self, session: SessionId, dir_fd: int) -> None:
        for name in os.listdir(dir_fd):
            try:
                st = os.lstat(name, dir_fd=dir_fd)
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(st.st_mode):
                shutil.rmtree(name, dir_fd=dir_fd)  # fd-based: follows no symlink inside
                continue
            if (
                name.endswith(SEGMENT_SUFFIX)
                and not name.endswith(TRACE_SUFFIX)
                and stat.S_ISREG(st.st_mode)
            ):
                self._delete_segment_file(session, dir_fd, name)
            else:
                with _ignore_missing():
                    os.unlink(name, dir_fd=dir_fd)

    def _delete_segment_file(self, session: SessionId, dir_fd: int, name: str) -> None:
        """Unlink a segment under its lock, so no append lands in the unlinked file."""
        try:
            fd = os.open(name, os.O_RDWR | os.O_NOFOLLOW | _O_CLOEXEC, dir_fd=dir_fd)
        except FileNotFoundError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            segment = name[: -len(SEGMENT_SUFFIX)]
            with _ignore_missing():
                os.unlink(name, dir_fd=dir_fd)
            if os.fstat(fd).st_nlink == 0:
                os.ftruncate(fd, 0)  # unlinked: mark it stale for writers holding it open
            with _ignore_missing():
                os.unlink(segment + TRACE_SUFFIX, dir_fd=dir_fd)
            self._drop_index(session, segment)
        finally:
            os.close(fd)

    # ---- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        with self._handles_lock:
            self._closed = True
            handles = list(self._handles.values())
            self._handles.clear()
        for handle in handles:
            with handle.lock:
                handle.close()

    def _reset_after_fork(self) -> None:
        self._handles_lock = threading.Lock()
        for handle in self._handles.values():
            handle.lock = threading.Lock()
            handle.close()
        self._handles.clear()


class _ignore_missing:  # noqa: N801 - used like contextlib.suppress, but cheaper
    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> bool:
        return exc_type is not None and issubclass(exc_type, FileNotFoundError)


def _read_to_end(fd: int, size_hint: int) -> bytes:
    chunks: list[bytes] = []
    position = 0
    while True:
        chunk = os.pread(fd, max(size_hint - position, 1 << 16), position)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        position += len(chunk)


def _split_committed(path: str, data: bytes) -> list[bytes]:
    """Committed lines of a segment file; an incomplete last line is skipped with a warning."""
    end = data.rfind(b"\n") + 1
    if end != len(data):
        warnings.warn(
            TornTailWarning(
                f"{path}: ignoring an incomplete final line ({len(data) - end} bytes at byte "
                f"offset {end})"
            ),
            stacklevel=4,
        )
    lines = (data if end == len(data) else data[:end]).split(b"\n")
    lines.pop()
    return lines


def _scan_session(path: str, newest: int) -> tuple[int, int, int] | None:
    """(newest mtime ns, total bytes, segment count) of a session dir; None if it vanished."""
    size = 0
    segments = 0
    try:
        entries = os.scandir(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    with entries:
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:  # removed while we looked: it no longer counts
                continue
            if st.st_mtime_ns > newest:
                newest = st.st_mtime_ns
            if stat.S_ISREG(st.st_mode):
                size += st.st_size
                name = entry.name
                if name.endswith(SEGMENT_SUFFIX) and not name.endswith(TRACE_SUFFIX):
                    segments += name[0] != "."
    return newest, size, segments


def open_fs_session_store(url: str) -> FsSessionStore:
    """Open ``fs:`` (the default data dir) or ``fs:///abs/data/dir``, with ``?fsync=POLICY``."""
    parts = urlsplit(url)
    if parts.scheme != "fs" or parts.fragment or parts.netloc not in ("", "localhost"):
        raise InvalidStoreUrlError(
            f"invalid fs store URL {url!r}: expected fs: or fs:///absolute/data/dir"
        )
    path = unquote(parts.path)
    if path and not path.startswith("/"):
        raise InvalidStoreUrlError(f"invalid fs store URL {url!r}: the path must be absolute")
    options: dict[str, Any] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False):
        if key != "fsync":
            raise InvalidStoreUrlError(f"unknown fs store option {key!r} in {url!r} (known: fsync)")
        options["fsync"] = value
    try:
        return FsSessionStore(path or default_data_dir(), **options)
    except (ValueError, HomeDirectoryError) as exc:
        raise InvalidStoreUrlError(f"{url!r}: {exc}") from None
