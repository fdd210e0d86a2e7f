"""File access that cannot leave a workspace directory.

A path is split into names (:func:`split_path` refuses ``..``, absolute paths, empty names and
NUL), and each name is opened relative to the descriptor of the directory before it, with
``O_NOFOLLOW`` on every step. Nothing is checked as a string and then opened by path, so a symlink
anywhere on the path, including one swapped in while a call runs, makes the open itself fail.
Files are opened non-blocking and refused unless ``fstat`` says they are regular, so a FIFO, a
socket or a device is never read. Writes go to a temporary file in the same directory and are
renamed over the target, which replaces a directory entry and never writes through a link.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import threading
from collections import deque
from collections.abc import Generator, Iterator
from pathlib import Path

import attrs
from yoi_worker_runtime.tools import ToolError

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
#: Bytes read or written between two looks at the cancellation signal.
CHUNK_BYTES = 64 * 1024
#: How a temporary file of ``write_file`` starts; one left behind means a writer was killed.
TEMP_PREFIX = ".yoi-write-"

_KINDS = {
    stat.S_IFREG: "file",
    stat.S_IFDIR: "directory",
    stat.S_IFLNK: "symlink",
    stat.S_IFIFO: "FIFO",
    stat.S_IFSOCK: "socket",
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
}


def kind_of(mode: int) -> str:
    """What a ``st_mode`` describes, in words."""
    return _KINDS.get(stat.S_IFMT(mode), "special file")


def check_cancelled(cancelled: threading.Event) -> None:
    if cancelled.is_set():
        raise ToolError("the call was cancelled")


def split_path(path: str) -> tuple[str, ...]:
    """The names of a workspace-relative path (``.`` is the workspace itself)."""
    if not path:
        raise ToolError('the path is empty; use "." for the workspace itself')
    if "\0" in path:
        raise ToolError(f"the path {path!r} contains a NUL character")
    if path.startswith("/"):
        raise ToolError(f"{path!r} is absolute; paths are relative to the workspace")
    names = path.removesuffix("/").split("/")
    if "" in names:
        raise ToolError(f"the path {path!r} contains an empty name")
    if ".." in names:
        raise ToolError(f"the path {path!r} contains '..'; paths cannot leave the workspace")
    return tuple(name for name in names if name != ".")


def shown(names: tuple[str, ...]) -> str:
    """A workspace-relative path as the model should see it."""
    return "/".join(names) or "."


def _lstat(dir_fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _refusal(exc: OSError, dir_fd: int, names: tuple[str, ...], wanted: str) -> ToolError:
    """The error the model sees when opening ``names`` (the last one in ``dir_fd``) failed."""
    if exc.errno in (errno.ENOTDIR, errno.ENXIO, errno.EISDIR):
        # Only to word the message: the failed open is what refused.
        found = _lstat(dir_fd, names[-1])
        if found is None:
            return ToolError(f"{shown(names)!r} does not exist")
        kind = kind_of(found.st_mode)
        if kind == wanted:
            return ToolError(f"{shown(names)!r} changed while it was opened; try again")
        if kind != "symlink":
            return ToolError(f"{shown(names)!r} is a {kind}, not a {wanted}")
    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
        return ToolError(f"{shown(names)!r} is a symlink; the file tools never follow symlinks")
    if exc.errno == errno.ENOENT:
        return ToolError(f"{shown(names)!r} does not exist")
    return ToolError(f"{shown(names)!r}: {exc.strerror}")


@contextlib.contextmanager
def closing_fd(fd: int) -> Iterator[int]:
    try:
        yield fd
    finally:
        os.close(fd)


def _make_directory(parent_fd: int, name: str, mode: int) -> None:
    """Create directory ``name`` unless something has that name; a new one is made durable."""
    try:
        os.mkdir(name, mode, dir_fd=parent_fd)
    except FileExistsError:
        return
    os.fsync(parent_fd)


def open_workspace(workspace: Path | None) -> int:
    """A new descriptor of the Worker's workspace, created (mode 0700) on first use.

    The Runtime chose the path: it is trusted up to its parent, and the workspace directory
    itself is opened with ``O_NOFOLLOW``, so a symlink in its place is refused.
    """
    if workspace is None:
        raise ToolError("this Runtime gives Workers no workspace directory; file tools cannot run")
    workspace.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with closing_fd(
        os.open(workspace.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    ) as parent_fd:
        _make_directory(parent_fd, workspace.name, 0o700)
        try:
            return os.open(workspace.name, _DIR_FLAGS, dir_fd=parent_fd)
        except OSError as exc:
            if exc.errno == errno.ENOTDIR:
                raise ToolError(
                    "the workspace directory is a symlink or not a directory; refusing to use it"
                ) from None
            raise


def _open_child_directory(parent_fd: int, names: tuple[str, ...], *, create: bool) -> int:
    name = names[-1]
    if create:
        _make_directory(parent_fd, name, 0o777)
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except OSError as exc:
        raise _refusal(exc, parent_fd, names, "directory") from None


def open_directory(root_fd: int, names: tuple[str, ...], *, create: bool = False) -> int:
    """A new descriptor of ``root/names...``, opened one name at a time without following a
    symlink; ``create`` makes missing directories."""
    fd = os.dup(root_fd)
    try:
        for depth in range(1, len(names) + 1):
            child = _open_child_directory(fd, names[:depth], create=create)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_regular_file(dir_fd: int, names: tuple[str, ...]) -> int:
    """A new read descriptor of regular file ``names[-1]`` in ``dir_fd``; anything else is
    refused (opened non-blocking, so a FIFO cannot hang the call before ``fstat`` refuses it)."""
    try:
        fd = os.open(names[-1], _READ_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        raise _refusal(exc, dir_fd, names, "file") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ToolError(f"{shown(names)!r} is a {kind_of(mode)}, not a file")
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_chunks(fd: int, cancelled: threading.Event) -> Iterator[bytes]:
    """The rest of a file, a chunk at a time, stopping when the call is cancelled."""
    while True:
        check_cancelled(cancelled)
        chunk = os.read(fd, CHUNK_BYTES)
        if not chunk:
            return
        yield chunk


def replace_file(
    dir_fd: int, names: tuple[str, ...], data: bytes, cancelled: threading.Event
) -> bool:
    """Create or replace regular file ``names[-1]`` in ``dir_fd`` atomically (temporary file,
    fsync, rename, directory fsync): a crash leaves the old or the new content. True if created.
    """
    name = names[-1]
    existing = _lstat(dir_fd, name)
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        raise ToolError(
            f"{shown(names)!r} is a {kind_of(existing.st_mode)}; "
            "write_file only creates or replaces files"
        )
    temp = f"{TEMP_PREFIX}{secrets.token_hex(8)}.tmp"
    fd = os.open(temp, _TEMP_FLAGS, 0o666, dir_fd=dir_fd)
    try:
        try:
            if existing is not None:
                os.fchmod(fd, stat.S_IMODE(existing.st_mode))
            view = memoryview(data)
            while view:
                check_cancelled(cancelled)
                view = view[os.write(fd, view[:CHUNK_BYTES]) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=dir_fd)
        raise
    os.fsync(dir_fd)
    return existing is None


@attrs.frozen
class Entry:
    """One directory entry met by :func:`walk`; a symlink is reported, never followed."""

    names: tuple[str, ...]
    kind: str
    size: int


def _sorted_names(dir_fd: int, cancelled: threading.Event) -> list[str]:
    names = []
    with os.scandir(dir_fd) as entries:
        for entry in entries:
            check_cancelled(cancelled)
            names.append(entry.name)
    return sorted(names)


def walk(
    root_fd: int, start: tuple[str, ...], *, recursive: bool, cancelled: threading.Event
) -> Generator[tuple[Entry, int], None, None]:
    """The entries under directory ``root/start``, sorted by name, breadth first, each with the
    descriptor of its directory (valid until the next entry is asked for).

    A subdirectory that disappears or turns into something else before it is entered is skipped:
    it is entered by name with ``O_NOFOLLOW`` like any other path.
    """
    pending = deque([start])
    while pending:
        names = pending.popleft()
        try:
            dir_fd = open_directory(root_fd, names)
        except ToolError:
            if names == start:
                raise
            continue
        try:
            for name in _sorted_names(dir_fd, cancelled):
                check_cancelled(cancelled)
                found = _lstat(dir_fd, name)
                if found is None:
                    continue
                entry = Entry((*names, name), kind_of(found.st_mode), found.st_size)
                yield entry, dir_fd
                if recursive and entry.kind == "directory":
                    pending.append(entry.names)
        finally:
            os.close(dir_fd)
