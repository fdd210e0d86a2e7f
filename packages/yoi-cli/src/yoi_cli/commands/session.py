"""``yoi session``: list, show, count and prune session logs, safely.

Session logs are owned by session-store, Pod metadata by pod-store. A session is
*referenced* when a Pod's active pointer (pending included) or a runtime record's events
session names it (:func:`yoi_pod_store.references.referenced_sessions`); referenced sessions
are never pruned.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from yoi_cli.shared.duration import format_duration
from yoi_cli.shared.parsing import (
    StrictGroup,
    command_context,
    destructive_options,
    duration_option,
    force_mode,
    one_argument,
)
from yoi_cli.shared.report import Item, Report
from yoi_cli.shared.stores import (
    describe_error,
    open_pod_store,
    open_session_store,
    store_errors,
)
from yoi_cli.shared.text import (
    format_size,
    format_time,
    printable,
    table_lines,
    time_from_ms,
)

if TYPE_CHECKING:
    from yoi_pod_store.contract import PodStore
    from yoi_pod_store.references import SessionReferences
    from yoi_session_store.contract import SegmentInfo, SessionInfo, SessionStore
    from yoi_session_store.ids import SessionId
    from yoi_session_store.model import Entry

#: Without --grace, sessions active in the last 10 minutes are never pruned: a session is
#: created a moment before its Pod's metadata points at it.
DEFAULT_GRACE_SECONDS = 600
#: How many entries ``yoi session show`` prints by default.
DEFAULT_SHOWN_ENTRIES = 10
_PREVIEW_CHARS = 100
_NOTE = "pass --force to delete sessions; --dry-run keeps report-only mode"


@click.group("session", cls=StrictGroup, no_args_is_help=True)
@click.option(
    "--store",
    "store_url",
    metavar="URL",
    help="Store URL (fs:, fs:///data/dir, ...) for sessions and, unless --pod-store is given, "
    "for the Pod metadata that references them; default $YOI_SESSION_STORE / $YOI_POD_STORE, "
    "$YOI_STORE, fs:.",
)
@click.option(
    "--pod-store",
    "pod_store_url",
    metavar="URL",
    help="Pod store URL used to find referenced sessions (default: --store, else as above).",
)
def session_group(store_url: str | None, pod_store_url: str | None) -> None:
    """Inspect and safely clean up session logs.

    A session is referenced when a Pod's active pointer or a Runtime's own record names it;
    referenced sessions are never pruned. Pruning reports only, unless --force is given
    without --dry-run.
    """


def _urls(ctx: click.Context) -> tuple[str | None, str | None]:
    params = command_context(ctx).params
    store_url: str | None = params.get("store_url")
    pod_url: str | None = params.get("pod_store_url") or store_url
    return store_url, pod_url


def _stores(ctx: click.Context) -> tuple[SessionStore, PodStore]:
    store_url, pod_url = _urls(ctx)
    return open_session_store(store_url), open_pod_store(pod_url)


#: How stale the reference set may get during a forced prune before it is read again.
REFERENCE_REFRESH_SECONDS = 1.0


def _references(pods: PodStore) -> SessionReferences:
    from yoi_pod_store.references import referenced_sessions

    return referenced_sessions(pods)


def _incomplete_reason(refs: SessionReferences) -> str:
    named = ", ".join(f"{error.kind} {printable(error.name)}" for error in refs.corrupt[:3])
    more = f" and {len(refs.corrupt) - 3} more" if len(refs.corrupt) > 3 else ""
    return (
        f"session references are incomplete: {len(refs.corrupt)} unreadable record(s) "
        f"({named}{more}) may reference it"
    )


def _referenced_reason(referrers: tuple[str, ...]) -> str:
    kind = "pod metadata" if any(r.startswith("pod ") for r in referrers) else "runtime record"
    return f"referenced by {kind} ({', '.join(referrers)})"


def _echo_json(document: dict[str, Any]) -> None:
    click.echo(json.dumps(document, indent=2))


def _warn_incomplete(refs: SessionReferences) -> None:
    if not refs.complete:
        click.echo(
            "warning: "
            + _incomplete_reason(refs).replace("may reference it", "may reference any session"),
            err=True,
        )


def _warn_unreadable(infos: list[SessionInfo]) -> None:
    unreadable = [info for info in infos if not info.ok]
    if unreadable:
        named = ", ".join(f"{info.session_id} ({info.error})" for info in unreadable)
        click.echo(
            f"warning: {len(unreadable)} session(s) cannot be read, so their size and segments "
            f"are unknown and they are never pruned: {named}",
            err=True,
        )


def _session_json(info: SessionInfo, refs: SessionReferences) -> dict[str, Any]:
    return {
        "session_id": info.session_id,
        "last_activity": format_time(time_from_ms(info.last_activity_ms)),
        "size_bytes": info.size_bytes if info.ok else None,
        "segments": info.segment_count if info.ok else None,
        "referenced_by": list(refs.referrers(info.session_id)),
        "error": info.error,
    }


# ---- list / stats -------------------------------------------------------------------------------


@session_group.command("list")
@click.option("--unreferenced", is_flag=True, help="Only sessions nothing references.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document for scripts.")
@click.pass_context
def list_command(ctx: click.Context, unreferenced: bool, as_json: bool) -> int:
    """List sessions, most recent activity first, with size and what references them.

    A session that cannot be read is listed with size `unreadable` (JSON: its `error`).
    """
    sessions, pods = _stores(ctx)
    with store_errors():
        infos = sessions.list_sessions()
        refs = _references(pods)
    rows = [
        _session_json(info, refs)
        for info in infos
        if not (unreferenced and info.session_id in refs)
    ]
    _warn_incomplete(refs)
    _warn_unreadable(infos)
    if as_json:
        _echo_json({"references_complete": refs.complete, "sessions": rows})
    else:
        click.echo("\n".join(_list_lines(rows, unreferenced)))
    return 0


def _list_lines(rows: list[dict[str, Any]], unreferenced: bool) -> list[str]:
    if not rows:
        return ["no unreferenced sessions" if unreferenced else "no sessions"]
    header = ("SESSION", "LAST_ACTIVITY", "SIZE", "SEGMENTS", "REFERENCED_BY")
    cells = [
        (
            row["session_id"],
            row["last_activity"],
            "unreadable" if row["error"] else format_size(row["size_bytes"]),
            "-" if row["error"] else str(row["segments"]),
            ", ".join(row["referenced_by"]) or "-",
        )
        for row in rows
    ]
    total = sum(row["size_bytes"] or 0 for row in rows)
    unreadable = sum(1 for row in rows if row["error"])
    footer = f"sessions: {len(rows)} ({format_size(total)})"
    if unreadable:
        footer += f" (unreadable: {unreadable})"
    return [*table_lines(header, cells), footer]


@session_group.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document for scripts.")
@click.pass_context
def stats_command(ctx: click.Context, as_json: bool) -> int:
    """Count sessions and bytes, referenced and unreferenced, and the activity range.

    Sessions that cannot be read count as sessions (listed in unreadable_sessions); their
    bytes and segments are unknown and left out of the totals.
    """
    sessions, pods = _stores(ctx)
    with store_errors():
        infos = sessions.list_sessions()
        refs = _references(pods)
    present = {info.session_id for info in infos}
    unreferenced = [info for info in infos if info.session_id not in refs]
    activity = [info.last_activity_ms for info in infos]
    document = {
        "sessions": len(infos),
        "bytes": sum(info.size_bytes for info in infos),
        "segments": sum(info.segment_count for info in infos),
        "referenced": len(infos) - len(unreferenced),
        "referenced_bytes": sum(info.size_bytes for info in infos if info.session_id in refs),
        "unreferenced": len(unreferenced),
        "unreferenced_bytes": sum(info.size_bytes for info in unreferenced),
        "dangling_references": sorted(refs.session_ids - present),
        "oldest_activity": format_time(time_from_ms(min(activity))) if activity else None,
        "newest_activity": format_time(time_from_ms(max(activity))) if activity else None,
        "references_complete": refs.complete,
        "unreadable_records": [f"{e.kind} {e.name}" for e in refs.corrupt],
        "unreadable_sessions": [info.session_id for info in infos if not info.ok],
    }
    _warn_incomplete(refs)
    _warn_unreadable(infos)
    if as_json:
        _echo_json(document)
    else:
        click.echo("\n".join(_stats_lines(document)))
    return 0


def _stats_lines(document: dict[str, Any]) -> list[str]:
    lines = []
    for key, value in document.items():
        if isinstance(value, list):
            value = ", ".join(printable(v) for v in value) or "<none>"
        elif value is None:
            value = "<none>"
        elif isinstance(value, bool):
            value = "yes" if value else "no"
        elif key.endswith("bytes"):
            value = format_size(value)
        lines.append(f"{key}: {value}")
    return lines


# ---- show ---------------------------------------------------------------------------------------


def _text_of(content: Any) -> str:
    if isinstance(content, list):
        return " ".join(_text_of(part) for part in content)
    if isinstance(content, dict):
        for key in ("text", "refusal", "content", "body", "summary"):
            if isinstance(content.get(key), str):
                return str(content[key])
    return ""


def _preview(data: dict[str, Any]) -> str:
    """One short line saying what an entry holds."""
    kind = data.get("kind")
    if kind == "user_input":
        text = "".join(
            part.get("content") or part.get("path") or part.get("slug") or ""
            for part in data.get("segments", [])
            if isinstance(part, dict)
        )
    elif kind in ("assistant_item", "tool_result", "system_item"):
        item = data.get("item") if isinstance(data.get("item"), dict) else {}
        assert isinstance(item, dict)
        if item.get("kind") == "tool_call":
            text = f"{item.get('name')}({item.get('arguments', '')})"
        elif item.get("kind") == "message":
            text = f"{item.get('role')}: {_text_of(item.get('content'))}"
        else:
            text = f"{item.get('kind')}: {_text_of(item)}"
    elif kind == "turn_end":
        text = f"turn {data.get('turn_count')}"
    elif kind == "segment_start":
        text = f"history of {len(data.get('history', []))} item(s)"
    else:
        rest = {k: v for k, v in data.items() if k not in ("kind", "ts")}
        text = json.dumps(rest, separators=(",", ":"), default=str)
    text = " ".join(text.split())
    if len(text) > _PREVIEW_CHARS:
        text = text[: _PREVIEW_CHARS - 3] + "..."
    return text.encode("ascii", "backslashreplace").decode("ascii")


@contextmanager
def _collected_warnings(sink: list[str]) -> Iterator[None]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    sink.extend(str(warning.message) for warning in caught)


@dataclass(frozen=True)
class _SegmentState:
    """One segment of ``yoi session show``: its listing, and its entries or why not."""

    info: SegmentInfo
    entries: list[Entry] | None
    error: str | None = None


@dataclass(frozen=True)
class _SessionState:
    """What ``yoi session show`` reads of one session."""

    session: SessionId
    modified_ms: int | None
    segments: list[_SegmentState]
    referrers: tuple[str, ...]
    #: Segments of this session that a Pod's active pointer names.
    active: set[str]
    warnings: list[str]


def _read_session(sessions: SessionStore, pods: PodStore, session: SessionId) -> _SessionState:
    notes: list[str] = []
    segments: list[_SegmentState] = []
    with store_errors():
        modified = sessions.session_modified_at(session)
        listed = sessions.list_segments(session)
        if modified is None and not listed:
            raise click.ClickException(f"session {session} does not exist")
        referrers = _references(pods).referrers(session)
        for info in listed:
            try:
                with _collected_warnings(notes):
                    entries = sessions.read_all(session, info.segment_id)
            except Exception as error:
                segments.append(_SegmentState(info, None, describe_error(error)))
            else:
                segments.append(_SegmentState(info, entries))
    active = {
        record.active.segment_id
        for record in _active_records(pods, referrers)
        if record.active and record.active.session_id == session and record.active.segment_id
    }
    return _SessionState(session, modified, segments, referrers, active, notes)


def _segment_json(segment: _SegmentState) -> dict[str, Any]:
    from yoi_session_store.history import replay

    row: dict[str, Any] = {
        "segment_id": segment.info.segment_id,
        "size_bytes": segment.info.size_bytes,
        "modified_at": format_time(time_from_ms(segment.info.modified_at_ms)),
    }
    if segment.entries is None:
        row["error"] = segment.error
        return row
    try:
        state = replay(segment.entries)
    except Exception as error:
        row["error"] = describe_error(error)
        return row
    row.update(entries=state.entries_count, turns=state.turn_count)
    row.update(forked_from=None, compacted_from=None)
    origin = state.forked_from or state.compacted_from
    if origin is not None:
        key = "forked_from" if state.forked_from else "compacted_from"
        row[key] = {"segment_id": origin.segment_id, "at_turn_index": origin.at_turn_index}
    return row


def _entry_json(index: int, entry: Entry) -> dict[str, Any]:
    from yoi_session_store.model import entry_to_dict

    data = entry_to_dict(entry)
    ts = data.get("ts")
    return {
        "index": index,
        "ts": format_time(time_from_ms(ts)) if isinstance(ts, int) else None,
        "kind": data.get("kind"),
        "preview": _preview(data),
        "entry": data,
    }


def _show_document(state: _SessionState, last: int) -> dict[str, Any]:
    segments_json = [_segment_json(segment) for segment in state.segments]
    readable = [
        segment
        for segment, row in zip(state.segments, segments_json, strict=True)
        if "error" not in row
    ]
    # The entries shown: of the segment a Pod points at, else of the newest readable one.
    shown = next(
        (s for s in readable if s.info.segment_id in state.active),
        next(iter(readable), None),
    )
    entries = shown.entries or [] if shown else []
    first = max(len(entries) - last, 0)
    failed = any("error" in row for row in segments_json)
    return {
        "session_id": state.session,
        "last_activity": format_time(time_from_ms(state.modified_ms)),
        "size_bytes": sum(segment.info.size_bytes for segment in state.segments),
        "referenced_by": list(state.referrers),
        "segments": segments_json,
        "entries": sum(row.get("entries", 0) for row in segments_json),
        "turns": sum(row.get("turns", 0) for row in segments_json),
        "shown_segment": shown.info.segment_id if shown else None,
        "last_entries": [_entry_json(i, entries[i]) for i in range(first, len(entries))],
        "warnings": state.warnings,
        "exit_code": 1 if failed else 0,
    }


def _segment_line(row: dict[str, Any]) -> str:
    if "error" in row:
        return f"segment: {row['segment_id']} unreadable: {row['error']}"
    lineage = ""
    for key in ("forked_from", "compacted_from"):
        if row.get(key):
            lineage = f" {key}={row[key]['segment_id']}@{row[key]['at_turn_index']}"
    return (
        f"segment: {row['segment_id']} entries={row['entries']} turns={row['turns']} "
        f"modified={row['modified_at']}{lineage} ({format_size(row['size_bytes'])})"
    )


def _show_lines(document: dict[str, Any]) -> list[str]:
    lines = [
        f"session: {document['session_id']}",
        f"last_activity: {document['last_activity']}",
        f"size: {format_size(document['size_bytes'])}",
        f"referenced_by: {', '.join(document['referenced_by']) or '<none>'}",
        f"segments: {len(document['segments'])}",
        f"entries: {document['entries']}",
        f"turns: {document['turns']}",
    ]
    lines += [_segment_line(row) for row in document["segments"]]
    if document["shown_segment"]:
        shown = document["last_entries"]
        lines.append(f"last {len(shown)} entries of segment {document['shown_segment']}:")
        lines += [f"  #{e['index']} {e['ts'] or '-'} {e['kind']}: {e['preview']}" for e in shown]
    return lines


@session_group.command("show")
@click.argument("ids", nargs=-1, metavar="SESSION_ID")
@click.option(
    "--last",
    "last",
    type=click.IntRange(min=0),
    default=DEFAULT_SHOWN_ENTRIES,
    show_default=True,
    help="How many of the newest entries to print.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document for scripts.")
@click.pass_context
def show_command(ctx: click.Context, ids: tuple[str, ...], last: int, as_json: bool) -> int:
    """Show one session replayed: segments, entries, turns, last activity, last entries.

    The entries shown come from the segment a Pod points at, else the newest segment.
    Exit 1 if a segment cannot be read (the others are still shown).
    """
    from yoi_session_store.errors import InvalidIdError
    from yoi_session_store.ids import parse_session_id

    text = one_argument(
        ids,
        "yoi session show requires an explicit session id",
        "yoi session show accepts exactly one session id",
    )
    try:
        session = parse_session_id(text)
    except InvalidIdError as error:
        raise click.UsageError(str(error)) from None
    sessions, pods = _stores(ctx)
    document = _show_document(_read_session(sessions, pods, session), last)
    if as_json:
        _echo_json(document)
    else:
        click.echo("\n".join(_show_lines(document)))
        for note in document["warnings"]:
            click.echo(f"warning: {note}", err=True)
    return int(document["exit_code"])


def _active_records(pods: PodStore, referrers: tuple[str, ...]) -> Iterator[Any]:
    for referrer in referrers:
        kind, _, name = referrer.partition(" ")
        if kind != "pod":
            continue
        try:
            record = pods.read(name)
        except Exception:  # noqa: S112 (a record gone bad since listing shows no segment)
            continue
        if record is not None:
            yield record


# ---- prune --------------------------------------------------------------------------------------


class _Pruner:
    """Decides and (with --force) deletes one session at a time; failures are items."""

    def __init__(
        self,
        sessions: SessionStore,
        pods: PodStore,
        refs: SessionReferences,
        *,
        older_than: int | None,
        grace: int,
        deleting: bool,
    ) -> None:
        self.sessions = sessions
        self.pods = pods
        self.refs = refs
        # Equivalent mutants `10 -> 11`: a cap above 300 years decides every real session alike.
        self.older_than_ms = None if older_than is None else min(older_than, 10**10) * 1000
        # Equivalent mutants `10 -> 11`: the same.
        self.grace_ms = min(grace, 10**10) * 1000
        self.deleting = deleting
        self.refs_read_at = time.monotonic()

    def _age_item(self, session: str, last_activity_ms: int, now_ms: int) -> Item | None:
        age = now_ms - last_activity_ms
        if age < self.grace_ms:
            return Item("kept", session, "newer than grace period")
        if self.older_than_ms is not None and age < self.older_than_ms:
            return Item("kept", session, "newer than threshold")
        # Equivalent mutant `statement removed`: a function without a return returns None too.
        return None

    def decide(self, info: SessionInfo) -> Item:
        session = info.session_id
        details = {
            "last_activity": format_time(time_from_ms(info.last_activity_ms)),
            "segments": info.segment_count if info.ok else None,
        }
        item = self._decide(info)
        item.details.update(details)
        if item.action in ("deleted", "would_delete") and item.bytes is None:
            item.bytes = info.size_bytes
        assert item.id == session
        return item

    def _decide(self, info: SessionInfo) -> Item:
        session = info.session_id
        referrers = self.refs.referrers(session)
        if referrers:
            return Item("kept", session, _referenced_reason(referrers))
        if not info.ok:
            return Item(
                "refused",
                session,
                f"session {info.error}; what cannot be read is never deleted: "
                "make it readable, then prune again",
            )
        now_ms = time.time_ns() // 1_000_000
        too_new = self._age_item(session, info.last_activity_ms, now_ms)
        if too_new is not None:
            return too_new
        if not self.refs.complete:
            return Item("refused", session, _incomplete_reason(self.refs))
        if not self.deleting:
            return Item("would_delete", session, "unreferenced session")
        return self._delete(info)

    def _delete(self, info: SessionInfo) -> Item:
        session: SessionId = info.session_id
        # References taken at the start go stale: read them again before deleting, at most
        # once a second so that a prune of N sessions over P Pods stays O(N + P * seconds).
        # A session that only now gained a referrer is young and spared by the grace period.
        # Equivalent mutant `> -> >=`: the clock is never exactly at the interval's end.
        if time.monotonic() - self.refs_read_at > REFERENCE_REFRESH_SECONDS:
            self.refs = _references(self.pods)
            self.refs_read_at = time.monotonic()
        fresh = self.refs
        if session in fresh:
            return Item("kept", session, _referenced_reason(fresh.referrers(session)))
        if not fresh.complete:
            return Item("refused", session, _incomplete_reason(fresh))
        modified = self.sessions.session_modified_at(session)
        if modified is None:
            return Item("kept", session, "session disappeared")
        if modified != info.last_activity_ms:
            now_ms = time.time_ns() // 1_000_000
            too_new = self._age_item(session, modified, now_ms)
            if too_new is not None:
                too_new.reason += " (written during the prune)"
                return too_new
        if not self.sessions.delete_session(session):
            return Item("kept", session, "session disappeared")
        return Item("deleted", session, "unreferenced session", bytes=info.size_bytes)


@session_group.command("prune")
@click.option("--unreferenced", is_flag=True, help="Required: prune sessions nothing references.")
@click.option(
    "--older-than",
    metavar="DURATION",
    callback=duration_option,
    help="Only sessions last active longer ago than this (30d, 12h, 2weeks, ...).",
)
@click.option(
    "--grace",
    metavar="DURATION",
    callback=duration_option,
    help="Always spare sessions active within this period (default 10m).",
)
@destructive_options
@click.pass_context
def prune_command(
    ctx: click.Context,
    unreferenced: bool,
    older_than: int | None,
    grace: int | None,
    force: bool,
    dry_run: bool,
    as_json: bool,
) -> int:
    """Delete sessions that no Pod and no Runtime references.

    Referenced: named by a Pod's active pointer (pending included) or a runtime record's events
    session. If any Pod or runtime record is unreadable, the references are incomplete and
    every unreferenced session is refused (it might be the one the record names), and so is a
    session that cannot be read. Sessions active within the grace period (default 10 minutes,
    --grace) are always kept, so a session created a moment before its Pod points at it
    survives; --older-than narrows further.
    During a forced prune the references are read again before each delete (never more than
    a second old), and a session written to during the prune is re-judged by its new age. A
    session that fails to delete is reported as failed: and the run goes on. Exit 1 if anything
    was refused or failed.
    """
    if not unreferenced:
        raise click.UsageError("yoi session prune requires --unreferenced")
    deleting = force_mode(force, dry_run)
    grace_seconds = DEFAULT_GRACE_SECONDS if grace is None else grace
    sessions, pods = _stores(ctx)
    header = [("scope", "unreferenced sessions", "unreferenced sessions")]
    if older_than is not None:
        header.append(("older_than", f"{older_than}s", format_duration(older_than)))
    header.append(("grace", f"{grace_seconds}s", format_duration(grace_seconds)))
    report = Report(
        "yoi session prune", deleting, header=header, note=_NOTE, as_json=as_json, noun="sessions"
    )
    with store_errors():
        infos = sessions.list_sessions()
        refs = _references(pods)
    pruner = _Pruner(
        sessions, pods, refs, older_than=older_than, grace=grace_seconds, deleting=deleting
    )
    report.run(infos, pruner.decide, lambda info: info.session_id)
    counts = {
        "deleted": report.count("deleted"),
        "would_delete": report.count("would_delete"),
        "kept_referenced": report.count("kept", "referenced"),
        "kept_newer": report.count("kept", "newer"),
        "kept_vanished": report.count("kept", "session disappeared"),
        "refused": report.count("refused"),
        "failed": report.count("failed"),
    }
    return report.finish(counts)
