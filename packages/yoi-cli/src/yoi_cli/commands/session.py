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
from typing import TYPE_CHECKING, Any

import click

from yoi_cli.cleanup.cli import (
    StrictGroup,
    describe_error,
    destructive_options,
    duration_option,
    force_mode,
    format_time,
    one_argument,
    open_pod_store,
    open_session_store,
    store_errors,
    time_from_ms,
)
from yoi_cli.cleanup.report import Item, Report, printable

if TYPE_CHECKING:
    from yoi_pod_store.contract import PodStore
    from yoi_pod_store.references import SessionReferences
    from yoi_session_store.contract import SessionInfo, SessionStore
    from yoi_session_store.ids import SessionId

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
    params = ctx.find_root().params
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


def _session_json(info: SessionInfo, refs: SessionReferences) -> dict[str, Any]:
    return {
        "session_id": info.session_id,
        "last_activity": format_time(time_from_ms(info.last_activity_ms)),
        "size_bytes": info.size_bytes,
        "segments": info.segment_count,
        "referenced_by": list(refs.referrers(info.session_id)),
    }


# ---- list / stats -------------------------------------------------------------------------------


@session_group.command("list")
@click.option("--unreferenced", is_flag=True, help="Only sessions nothing references.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document for scripts.")
@click.pass_context
def list_command(ctx: click.Context, unreferenced: bool, as_json: bool) -> int:
    """List sessions, most recent activity first, with size and what references them."""
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
    if as_json:
        _echo_json({"references_complete": refs.complete, "sessions": rows})
        return 0
    if not rows:
        click.echo("no unreferenced sessions" if unreferenced else "no sessions")
        return 0
    header = ("SESSION", "LAST_ACTIVITY", "BYTES", "SEGMENTS", "REFERENCED_BY")
    table = [header] + [
        (
            row["session_id"],
            row["last_activity"],
            str(row["size_bytes"]),
            str(row["segments"]),
            ", ".join(row["referenced_by"]) or "-",
        )
        for row in rows
    ]
    widths = [max(len(line[column]) for line in table) for column in range(len(header))]
    for line in table:
        cells = (cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        click.echo("  ".join(cells).rstrip())
    total = sum(row["size_bytes"] for row in rows)
    click.echo(f"sessions: {len(rows)} bytes: {total}")
    return 0


@session_group.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document for scripts.")
@click.pass_context
def stats_command(ctx: click.Context, as_json: bool) -> int:
    """Count sessions and bytes, referenced and unreferenced, and the activity range."""
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
    }
    _warn_incomplete(refs)
    if as_json:
        _echo_json(document)
        return 0
    for key, value in document.items():
        if isinstance(value, list):
            value = ", ".join(printable(v) for v in value) or "<none>"
        elif value is None:
            value = "<none>"
        elif isinstance(value, bool):
            value = "yes" if value else "no"
        click.echo(f"{key}: {value}")
    return 0


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
    from yoi_session_store.history import replay
    from yoi_session_store.ids import parse_session_id
    from yoi_session_store.model import entry_to_dict

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
    notes: list[str] = []
    segments_json: list[dict[str, Any]] = []
    entries_by_segment: dict[str, list[Any]] = {}
    with store_errors():
        modified = sessions.session_modified_at(session)
        segments = sessions.list_segments(session)
        if modified is None and not segments:
            raise click.ClickException(f"session {session} does not exist")
        refs = _references(pods)
        for segment in segments:
            row: dict[str, Any] = {
                "segment_id": segment.segment_id,
                "size_bytes": segment.size_bytes,
                "modified_at": format_time(time_from_ms(segment.modified_at_ms)),
            }
            try:
                with _collected_warnings(notes):
                    entries = sessions.read_all(session, segment.segment_id)
                state = replay(entries)
            except Exception as error:
                row["error"] = describe_error(error)
            else:
                entries_by_segment[segment.segment_id] = entries
                origin = state.forked_from or state.compacted_from
                row.update(
                    entries=state.entries_count,
                    turns=state.turn_count,
                    forked_from=None,
                    compacted_from=None,
                )
                if origin is not None:
                    key = "forked_from" if state.forked_from else "compacted_from"
                    row[key] = {
                        "segment_id": origin.segment_id,
                        "at_turn_index": origin.at_turn_index,
                    }
            segments_json.append(row)
    active = {
        record.active.segment_id
        for record in _active_records(pods, refs.referrers(session))
        if record.active and record.active.session_id == session and record.active.segment_id
    }
    shown_segment = next(
        (s for s in entries_by_segment if s in active), next(iter(entries_by_segment), None)
    )
    shown = entries_by_segment.get(shown_segment, []) if shown_segment else []
    first = max(len(shown) - last, 0)
    last_entries = []
    for index in range(first, len(shown)):
        data = entry_to_dict(shown[index])
        ts = data.get("ts")
        last_entries.append(
            {
                "index": index,
                "ts": format_time(time_from_ms(ts)) if isinstance(ts, int) else None,
                "kind": data.get("kind"),
                "preview": _preview(data),
                "entry": data,
            }
        )
    failed = any("error" in row for row in segments_json)
    document = {
        "session_id": session,
        "last_activity": format_time(time_from_ms(modified)),
        "size_bytes": sum(s.size_bytes for s in segments),
        "referenced_by": list(refs.referrers(session)),
        "segments": segments_json,
        "entries": sum(row.get("entries", 0) for row in segments_json),
        "turns": sum(row.get("turns", 0) for row in segments_json),
        "shown_segment": shown_segment,
        "last_entries": last_entries,
        "warnings": notes,
        "exit_code": 1 if failed else 0,
    }
    if as_json:
        _echo_json(document)
        return int(document["exit_code"])
    lines = [
        f"session: {session}",
        f"last_activity: {document['last_activity']}",
        f"size_bytes: {document['size_bytes']}",
        f"referenced_by: {', '.join(document['referenced_by']) or '<none>'}",
        f"segments: {len(segments_json)}",
        f"entries: {document['entries']}",
        f"turns: {document['turns']}",
    ]
    for row in segments_json:
        if "error" in row:
            lines.append(f"segment: {row['segment_id']} unreadable: {row['error']}")
            continue
        lineage = ""
        for key in ("forked_from", "compacted_from"):
            if row.get(key):
                lineage = f" {key}={row[key]['segment_id']}@{row[key]['at_turn_index']}"
        lines.append(
            f"segment: {row['segment_id']} entries={row['entries']} turns={row['turns']} "
            f"bytes={row['size_bytes']} modified={row['modified_at']}{lineage}"
        )
    if shown_segment:
        lines.append(f"last {len(last_entries)} entries of segment {shown_segment}:")
        lines += [
            f"  #{e['index']} {e['ts'] or '-'} {e['kind']}: {e['preview']}" for e in last_entries
        ]
    click.echo("\n".join(lines))
    for note in notes:
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
        self.older_than_ms = None if older_than is None else min(older_than, 10**10) * 1000
        self.grace_ms = min(grace, 10**10) * 1000
        self.deleting = deleting
        self.refs_read_at = time.monotonic()

    def _age_item(self, session: str, last_activity_ms: int, now_ms: int) -> Item | None:
        age = now_ms - last_activity_ms
        if age < self.grace_ms:
            return Item("kept", session, "newer than grace period")
        if self.older_than_ms is not None and age < self.older_than_ms:
            return Item("kept", session, "newer than threshold")
        return None

    def decide(self, info: SessionInfo) -> Item:
        session = info.session_id
        details = {
            "last_activity": format_time(time_from_ms(info.last_activity_ms)),
            "segments": info.segment_count,
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
    every unreferenced session is refused (it might be the one the record names). Sessions
    active within the grace period (default 10 minutes, --grace) are always kept, so a session
    created a moment before its Pod points at it survives; --older-than narrows further.
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
    header = [("scope", "unreferenced sessions")]
    if older_than is not None:
        header.append(("older_than", f"{older_than}s"))
    header.append(("grace", f"{grace_seconds}s"))
    report = Report("yoi session prune", deleting, header=header, note=_NOTE)
    with store_errors():
        infos = sessions.list_sessions()
        refs = _references(pods)
    pruner = _Pruner(
        sessions, pods, refs, older_than=older_than, grace=grace_seconds, deleting=deleting
    )
    for info in infos:
        try:
            report.add(pruner.decide(info))
        except Exception as error:
            report.add(Item("failed", info.session_id, describe_error(error)))
    counts = {
        "deleted": report.count("deleted"),
        "would_delete": report.count("would_delete"),
        "kept_referenced": report.count("kept", "referenced"),
        "kept_newer": report.count("kept", "newer"),
        "kept_vanished": report.count("kept", "session disappeared"),
        "refused": report.count("refused"),
        "failed": report.count("failed"),
        "reclaimed_bytes": report.reclaimed_bytes,
    }
    if as_json:
        click.echo(report.json_text(counts))
    else:
        summary = " ".join(f"{key}={value}" for key, value in counts.items())
        click.echo("\n".join(report.text_lines(summary)))
    return report.exit_code
