"""The four workspace tools: ``list_files``, ``read_file``, ``write_file``, ``search_files``.

Each is a plain function the Runtime runs in a worker thread; every path goes through
:mod:`.confinement`. A refusal or failure raises :class:`ToolError`, which the model sees.
"""

from __future__ import annotations

import contextlib
import fnmatch
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs
from yoi_worker_runtime.tools import Tool, ToolContext, ToolError

from yoi_tools_workspace.confinement import (
    check_cancelled,
    closing_fd,
    open_directory,
    open_regular_file,
    open_workspace,
    read_chunks,
    replace_file,
    shown,
    split_path,
    walk,
)

#: The default limit of one read and of one write.
DEFAULT_MAX_BYTES = 1024 * 1024
#: The environment variable, read when the plugin loads, that sets both limits in bytes.
MAX_BYTES_ENV = "YOI_WORKSPACE_MAX_BYTES"
#: Longest matching line ``search_files`` shows; longer ones are cut.
MAX_SHOWN_LINE = 300


@attrs.frozen(kw_only=True)
class Limits:
    """How much one call may read or write."""

    max_read_bytes: int = attrs.field(default=DEFAULT_MAX_BYTES, validator=attrs.validators.gt(0))
    max_write_bytes: int = attrs.field(default=DEFAULT_MAX_BYTES, validator=attrs.validators.gt(0))

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Limits:
        """Both limits from ``YOI_WORKSPACE_MAX_BYTES`` (a positive number of bytes), else 1 MiB."""
        text = environ.get(MAX_BYTES_ENV)
        if text is None:
            return cls()
        try:
            limit = int(text)
        except ValueError:
            limit = 0
        if limit <= 0:
            raise ValueError(f"{MAX_BYTES_ENV} must be a positive number of bytes, not {text!r}")
        return cls(max_read_bytes=limit, max_write_bytes=limit)


def _path_property(description: str) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "description": description}


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


_PATH_HELP = "relative to the workspace; '.' is the workspace itself"


@contextlib.contextmanager
def _workspace(context: ToolContext, path: str) -> Iterator[int]:
    """The workspace descriptor, with an unexpected OS error worded for the model."""
    check_cancelled(context.cancelled)
    try:
        with closing_fd(open_workspace(context.workspace)) as root_fd:
            yield root_fd
    except OSError as exc:
        raise ToolError(f"{path!r}: {exc.strerror}") from None


@attrs.frozen
class _WorkspaceTools:
    limits: Limits

    def list_files(self, arguments: Mapping[str, Any], context: ToolContext) -> str:
        start = split_path(arguments.get("path", "."))
        max_entries: int = arguments.get("max_entries", 200)
        lines: list[str] = []
        with _workspace(context, shown(start)) as root_fd:
            entries = walk(
                root_fd,
                start,
                recursive=arguments.get("recursive", False),
                cancelled=context.cancelled,
            )
            with contextlib.closing(entries):
                for entry, _ in entries:
                    if len(lines) == max_entries:
                        lines.append(
                            f"(stopped at {max_entries} entries: list a subdirectory "
                            "or raise max_entries)"
                        )
                        break
                    lines.append(_listing_line(entry.names, entry.kind, entry.size))
        return "\n".join(lines) if lines else f"{shown(start)!r} is empty"

    def read_file(self, arguments: Mapping[str, Any], context: ToolContext) -> str:
        names = split_path(arguments["path"])
        if not names:
            raise ToolError("read_file needs a file path, not the workspace itself")
        with (
            _workspace(context, shown(names)) as root_fd,
            closing_fd(open_directory(root_fd, names[:-1])) as dir_fd,
            closing_fd(open_regular_file(dir_fd, names)) as fd,
        ):
            data = _select_lines(
                read_chunks(fd, context.cancelled),
                skip=arguments.get("offset", 0),
                take=arguments.get("limit"),
                max_bytes=self.limits.max_read_bytes,
            )
        try:
            return data.decode()
        except UnicodeDecodeError:
            raise ToolError(f"{shown(names)!r} is not UTF-8 text") from None

    def write_file(self, arguments: Mapping[str, Any], context: ToolContext) -> str:
        names = split_path(arguments["path"])
        if not names:
            raise ToolError("write_file needs a file path, not the workspace itself")
        data = arguments["content"].encode()
        if len(data) > self.limits.max_write_bytes:
            raise ToolError(
                f"the content is {len(data)} bytes, over the write limit of "
                f"{self.limits.max_write_bytes} bytes; nothing was written"
            )
        with (
            _workspace(context, shown(names)) as root_fd,
            closing_fd(open_directory(root_fd, names[:-1], create=True)) as dir_fd,
        ):
            created = replace_file(dir_fd, names, data, context.cancelled)
        return f"{'created' if created else 'replaced'} {shown(names)!r} ({len(data)} bytes)"

    def search_files(self, arguments: Mapping[str, Any], context: ToolContext) -> str:
        start = split_path(arguments.get("path", "."))
        matches = _matcher(arguments)
        include: str | None = arguments.get("include")
        max_results: int = arguments.get("max_results", 100)
        search = _Search(max_results, self.limits.max_read_bytes)
        with _workspace(context, shown(start)) as root_fd:
            entries = walk(root_fd, start, recursive=True, cancelled=context.cancelled)
            with contextlib.closing(entries):
                for entry, dir_fd in entries:
                    if search.full:
                        break
                    if entry.kind != "file":
                        continue
                    if include is None or fnmatch.fnmatchcase(entry.names[-1], include):
                        search.scan(dir_fd, entry.names, entry.size, matches, context.cancelled)
        return search.report(arguments["pattern"], shown(start))


def _listing_line(names: tuple[str, ...], kind: str, size: int) -> str:
    if kind == "directory":
        return f"{shown(names)}/"
    if kind == "file":
        return f"{shown(names)} ({size} bytes)"
    if kind == "symlink":
        return f"{shown(names)} (symlink, not followed)"
    return f"{shown(names)} ({kind})"


def _select_lines(chunks: Iterator[bytes], *, skip: int, take: int | None, max_bytes: int) -> bytes:
    """Lines ``skip`` to ``skip + take`` of a file, refused if more than ``max_bytes``.

    Skipped lines are counted, never kept, so a window of a large file stays within the limit.
    """
    kept = bytearray()
    for chunk in chunks:
        start = 0
        while skip and start < len(chunk):
            newline = chunk.find(b"\n", start)
            if newline < 0:
                start = len(chunk)
            else:
                start = newline + 1
                skip -= 1
        piece = chunk[start:]
        if take is not None:
            newlines = piece.count(b"\n")
            if newlines >= take:
                piece = piece[: _after_nth_newline(piece, take)]
            take -= min(newlines, take)
        kept += piece
        if len(kept) > max_bytes:
            raise ToolError(
                f"the text to read is over the read limit of {max_bytes} bytes; "
                "read fewer lines with offset and limit"
            )
        if take == 0:
            break
    return bytes(kept)


def _after_nth_newline(data: bytes, n: int) -> int:
    end = -1
    for _ in range(n):
        end = data.index(b"\n", end + 1)
    return end + 1


def _matcher(arguments: Mapping[str, Any]) -> Callable[[str], bool]:
    pattern: str = arguments["pattern"]
    flags = re.IGNORECASE if arguments.get("ignore_case", False) else 0
    try:
        compiled = re.compile(
            pattern if arguments.get("regex", False) else re.escape(pattern), flags
        )
    except re.error as exc:
        raise ToolError(f"{pattern!r} is not a valid regular expression: {exc}") from None
    return lambda line: compiled.search(line) is not None


@attrs.define
class _Search:
    """What a search found so far, and what it had to skip."""

    max_results: int
    max_file_bytes: int
    results: list[str] = attrs.field(factory=list)
    files_with_matches: int = 0
    too_large: int = 0
    binary: int = 0

    @property
    def full(self) -> bool:
        return len(self.results) >= self.max_results

    def scan(
        self,
        dir_fd: int,
        names: tuple[str, ...],
        size: int,
        matches: Callable[[str], bool],
        cancelled: threading.Event,
    ) -> None:
        if size > self.max_file_bytes:
            self.too_large += 1
            return
        try:
            fd = open_regular_file(dir_fd, names)
        except ToolError:
            return  # removed or replaced by something else since it was listed
        data = bytearray()
        with closing_fd(fd):
            for chunk in read_chunks(fd, cancelled):
                data += chunk
                if len(data) > self.max_file_bytes:
                    break
        if len(data) > self.max_file_bytes:
            self.too_large += 1
            return
        if b"\0" in data:
            self.binary += 1
            return
        found_before = len(self.results)
        lines = data.decode(errors="replace").split("\n")
        if lines[-1] == "":
            lines.pop()
        for number, line in enumerate(lines, 1):
            if matches(line):
                self.results.append(f"{shown(names)}:{number}: {_cut(line)}")
                if self.full:
                    break
        self.files_with_matches += len(self.results) > found_before

    def report(self, pattern: str, where: str) -> str:
        notes = []
        if self.full:
            notes.append(f"stopped at {self.max_results} matches: narrow the search")
        if self.too_large:
            notes.append(
                f"skipped {self.too_large} file(s) over the read limit of "
                f"{self.max_file_bytes} bytes"
            )
        if self.binary:
            notes.append(f"skipped {self.binary} binary file(s)")
        if self.results:
            summary = f"{len(self.results)} match(es) in {self.files_with_matches} file(s)"
        else:
            summary = f"no match for {pattern!r} under {where!r}"
        return "\n".join([*self.results, f"({'; '.join([summary, *notes])})"])


def _cut(line: str) -> str:
    return line if len(line) <= MAX_SHOWN_LINE else line[:MAX_SHOWN_LINE] + "..."


def workspace_tools(limits: Limits | None = None) -> list[Tool]:
    """The four workspace tools with the given limits (1 MiB reads and writes by default)."""
    limits = limits or Limits()
    tools = _WorkspaceTools(limits)
    return [
        Tool(
            name="list_files",
            description=(
                "List a directory of your workspace: one line per entry, directories ending "
                "in '/', files with their size. Symlinks are shown, never followed."
            ),
            parameters=_object(
                {
                    "path": _path_property(f"the directory to list, {_PATH_HELP}"),
                    "recursive": {"type": "boolean", "description": "also list subdirectories"},
                    "max_entries": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 10_000,
                        "description": "most entries to list (default 200)",
                    },
                },
                [],
            ),
            run=tools.list_files,
        ),
        Tool(
            name="read_file",
            description=(
                "Read a UTF-8 text file of your workspace, whole or a range of lines. "
                f"At most {limits.max_read_bytes} bytes are returned per call."
            ),
            parameters=_object(
                {
                    "path": _path_property(f"the file to read, {_PATH_HELP}"),
                    "offset": {
                        "type": "integer",
                        "minimum": 0,
                        "description": "lines to skip from the start (default 0)",
                    },
                    "limit": {
                        "type": "integer",
                        "minimum": 1,
                        "description": "most lines to return (default: to the end)",
                    },
                },
                ["path"],
            ),
            run=tools.read_file,
        ),
        Tool(
            name="write_file",
            description=(
                "Create or replace a text file of your workspace with the given content, "
                "creating missing directories. The file is replaced atomically. "
                f"At most {limits.max_write_bytes} bytes."
            ),
            parameters=_object(
                {
                    "path": _path_property(f"the file to write, {_PATH_HELP}"),
                    "content": {"type": "string", "description": "the whole new content"},
                },
                ["path", "content"],
            ),
            side_effects=True,
            run=tools.write_file,
        ),
        Tool(
            name="search_files",
            description=(
                "Search the text files under a directory of your workspace for a substring or "
                "a regular expression; prints path:line: text for each matching line."
            ),
            parameters=_object(
                {
                    "pattern": {
                        "type": "string",
                        "minLength": 1,
                        "description": "the text to find (a Python regular expression if regex)",
                    },
                    "path": _path_property(f"the directory to search, {_PATH_HELP}"),
                    "regex": {
                        "type": "boolean",
                        "description": "treat pattern as a regular expression",
                    },
                    "ignore_case": {"type": "boolean", "description": "match case-insensitively"},
                    "include": {
                        "type": "string",
                        "minLength": 1,
                        "description": "only files whose name matches this glob, e.g. '*.py'",
                    },
                    "max_results": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 1000,
                        "description": "most matching lines to show (default 100)",
                    },
                },
                ["pattern"],
            ),
            run=tools.search_files,
        ),
    ]
