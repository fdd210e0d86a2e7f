"""``yoi pod``: list, show, delete and prune Pod metadata, safely.

Pod metadata is owned by pod-store; every destructive step goes through
:meth:`PodStore.delete_if_stopped`, which takes the per-name lock, probes liveness afresh and
deletes only a Pod that is positively stopped. A Pod delete never touches session history.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
from yoi_cli.shared.stores import open_pod_store, store_errors
from yoi_cli.shared.text import format_size, format_time, printable, table_lines

if TYPE_CHECKING:
    from yoi_pod_store.contract import DeleteOutcome, Liveness, PodListing, PodStore
    from yoi_pod_store.errors import CorruptPodRecord
    from yoi_pod_store.model import PodRecord

PRESERVE_NOTE = "note: pass --force to delete metadata; --dry-run keeps report-only mode"
_PRUNE_NOTE = "pass --force to delete metadata; --dry-run keeps report-only mode"


def _store(ctx: click.Context) -> PodStore:
    url: str | None = command_context(ctx).params.get("store_url")
    return open_pod_store(url)


def _pod_name(name: str) -> str:
    from yoi_pod_store.errors import InvalidPodName
    from yoi_pod_store.names import validate_pod_name

    try:
        return validate_pod_name(name)
    except InvalidPodName as error:
        raise click.UsageError(str(error)) from None


def _echo_json(document: dict[str, Any]) -> None:
    click.echo(json.dumps(document, indent=2))


def _liveness_json(liveness: Liveness | None) -> dict[str, Any] | None:
    if liveness is None:
        return None
    return {
        "state": liveness.state.value,
        "reason": liveness.reason,
        "runtime_id": liveness.runtime_id,
        "socket": liveness.hint,
    }


def _active(record: PodRecord | None) -> tuple[str | None, str | None]:
    if record is None or record.active is None:
        return None, None
    return record.active.session_id, record.active.segment_id


def _active_lines(document: dict[str, Any]) -> list[str]:
    if document["corrupt"] is not None:
        return [
            f"corrupt: {document['corrupt']}",
            "active_session: <unknown (metadata is corrupt)>",
        ]
    if document["active_session"] is None:
        return ["active_session: <none>"]
    return [
        f"active_session: {document['active_session']}",
        f"active_segment: {document['active_segment'] or '<pending>'}",
    ]


@click.group("pod", cls=StrictGroup, no_args_is_help=True)
@click.option(
    "--store",
    "store_url",
    metavar="URL",
    help="Pod store URL (fs:, fs:///data/dir, ...); default $YOI_POD_STORE, $YOI_STORE, fs:.",
)
def pod_group(store_url: str | None) -> None:
    """Inspect and safely clean up Pod metadata.

    A Pod is a named Worker whose metadata (status, hosting Runtime, active session pointer)
    lives in the Pod store; its history lives in the session store and is never touched here.
    Destructive commands report only, unless --force is given without --dry-run; live Pods and
    Pods whose liveness is uncertain are always refused.
    """


# ---- list / show ------------------------------------------------------------------------------


class _Prober:
    """Liveness of listed Pods, probing each hosting runtime once."""

    def __init__(self, store: PodStore) -> None:
        self.store = store
        self._runtimes: dict[str, Liveness] = {}

    def __call__(self, listing: PodListing) -> Liveness:
        from yoi_pod_store.contract import Liveness, LivenessState

        record = listing.record
        if listing.error is not None or record is None:
            return self.store.probe(listing.name)
        runtime_id = record.hosting_runtime_id
        if runtime_id is None:
            return Liveness(LivenessState.STOPPED, "pod is not hosted by any runtime")
        if runtime_id not in self._runtimes:
            self._runtimes[runtime_id] = self.store.probe_runtime(runtime_id)
        return self._runtimes[runtime_id]


def _pod_json(
    name: str,
    record: PodRecord | None,
    corrupt: CorruptPodRecord | None,
    liveness: Liveness | None,
    activity: datetime | None,
) -> dict[str, Any]:
    session, segment = _active(record)
    status = "corrupt" if corrupt else (record.worker_status if record else None)
    return {
        "name": name,
        "status": status,
        "corrupt": corrupt.detail if corrupt else None,
        "liveness": _liveness_json(liveness),
        "hosting_runtime_id": record.hosting_runtime_id if record else None,
        "active_session": session,
        "active_segment": segment,
        "last_activity": format_time(activity) if activity else None,
    }


def _list_rows(store: PodStore) -> list[dict[str, Any]]:
    with store_errors():
        probe = _Prober(store)
        return [
            _pod_json(
                listing.name,
                listing.record,
                listing.error,
                probe(listing),
                store.last_activity(listing.name),
            )
            for listing in store.list_pods()
        ]


def _list_lines(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return ["no pods"]
    header = ("NAME", "STATUS", "LIVENESS", "RUNTIME", "ACTIVE_SESSION", "LAST_ACTIVITY")
    cells = [
        (
            printable(row["name"]),
            row["status"] or "-",
            row["liveness"]["state"],
            row["hosting_runtime_id"] or "-",
            row["active_session"] or "-",
            row["last_activity"] or "-",
        )
        for row in rows
    ]
    corrupt = sum(1 for row in rows if row["corrupt"])
    return [*table_lines(header, cells), f"pods: {len(rows)} (corrupt: {corrupt})"]


@pod_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document for scripts.")
@click.pass_context
def list_command(ctx: click.Context, as_json: bool) -> int:
    """List every Pod: status, liveness, hosting runtime, active session, last activity.

    Last activity is the later of the record's last_activity_at and the time its metadata was
    last written. Corrupt records are listed with status `corrupt`.
    """
    rows = _list_rows(_store(ctx))
    if as_json:
        _echo_json({"pods": rows})
    else:
        click.echo("\n".join(_list_lines(rows)))
    return 0


@dataclass(frozen=True)
class _PodState:
    """What ``yoi pod show`` reads of one Pod."""

    name: str
    record: PodRecord | None
    corrupt: CorruptPodRecord | None
    liveness: Liveness
    activity: datetime | None


def _read_pod(store: PodStore, name: str) -> _PodState:
    from yoi_pod_store.errors import CorruptPodRecord

    corrupt: CorruptPodRecord | None = None
    with store_errors():
        try:
            record = store.read(name)
        except CorruptPodRecord as error:
            record, corrupt = None, error
        if record is None and corrupt is None:
            raise click.ClickException(f"pod {printable(name)}: pod metadata is missing")
        return _PodState(name, record, corrupt, store.probe(name), store.last_activity(name))


def _show_document(pod: _PodState) -> dict[str, Any]:
    document = _pod_json(pod.name, pod.record, pod.corrupt, pod.liveness, pod.activity)
    if pod.record is not None:
        document.update(
            workspace_root=pod.record.workspace_root,
            created_at=format_time(pod.record.created_at) if pod.record.created_at else None,
            peers=list(pod.record.peer_names),
            spawned_children=[child.pod_name for child in pod.record.spawned_children],
        )
    return document


def _show_lines(document: dict[str, Any]) -> list[str]:
    liveness = document["liveness"]
    lines = [
        f"pod: {printable(document['name'])}",
        f"status: {document['status'] or '<unknown>'}",
        f"liveness: {liveness['state']} ({liveness['reason']})",
        f"hosting_runtime: {document['hosting_runtime_id'] or '<none>'}",
    ]
    if liveness["socket"]:
        lines.append(f"socket: {printable(liveness['socket'])}")
    lines += _active_lines(document)
    if "workspace_root" in document:  # the record could be read
        lines.append(f"workspace_root: {printable(document['workspace_root'] or '<none>')}")
        lines.append(f"created_at: {document['created_at'] or '<unknown>'}")
        lines.append(f"peers: {', '.join(document['peers']) or '<none>'}")
    lines.append(f"last_activity: {document['last_activity'] or '<unknown>'}")
    return lines


@pod_group.command("show")
@click.argument("names", nargs=-1, metavar="NAME")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document for scripts.")
@click.pass_context
def show_command(ctx: click.Context, names: tuple[str, ...], as_json: bool) -> int:
    """Show one Pod: status, liveness, hosting runtime, active session and last activity."""
    name = _pod_name(
        one_argument(
            names,
            "yoi pod show requires an explicit Pod name",
            "yoi pod show accepts exactly one Pod name",
        )
    )
    document = _show_document(_read_pod(_store(ctx), name))
    if as_json:
        _echo_json(document)
    else:
        click.echo("\n".join(_show_lines(document)))
    return 0


# ---- delete -----------------------------------------------------------------------------------


def _workspace_of(store_url: str | None, name: str) -> str | None:
    """The tool workspace a Worker named ``name`` has in the store's default place, if any
    (a Runtime started with its own --workspace-root keeps them where that says)."""
    from yoi_base.paths import default_workspace_root

    folder = default_workspace_root(store_url) / name
    return str(folder) if folder.is_dir() and not folder.is_symlink() else None


def _delete_document(
    outcome: DeleteOutcome, deleting: bool, workspace: str | None
) -> dict[str, Any]:
    from yoi_pod_store.contract import DeleteResult

    session, segment = _active(outcome.record)
    document: dict[str, Any] = {
        "command": "yoi pod delete",
        "mode": "force" if deleting else "dry-run",
        "pod": outcome.name,
        "status": outcome.result.value,
        "liveness": _liveness_json(outcome.liveness),
        "corrupt": outcome.corrupt.detail if outcome.corrupt else None,
        "active_session": session,
        "active_segment": segment,
        "last_activity": format_time(outcome.last_activity) if outcome.last_activity else None,
        "reclaimed_bytes": outcome.reclaimed_bytes,
        # Files a Worker's tools wrote are the user's: reported, never deleted.
        "workspace": workspace,
    }
    if outcome.result is DeleteResult.MISSING:
        document.update(status="refused", reason="pod metadata is missing")
    elif outcome.result is DeleteResult.REFUSED:
        assert outcome.liveness is not None
        document.update(status="refused", reason=outcome.liveness.reason)
    document["exit_code"] = 1 if document["status"] == "refused" else 0
    return document


def _delete_lines(document: dict[str, Any]) -> list[str]:
    pod = printable(document["pod"])
    if document["status"] == "refused":
        lines = [
            "yoi pod delete",
            "status: refused",
            f"pod: {pod}",
            f"reason: {document['reason']}",
        ]
        liveness = document["liveness"] or {}
        if liveness.get("runtime_id"):
            lines.append(f"runtime: {liveness['runtime_id']}")
        if liveness.get("socket"):
            lines.append(f"socket: {printable(liveness['socket'])}")
        return lines
    lines = ["yoi pod delete", f"mode: {document['mode']}", f"pod: {pod}"]
    lines += _active_lines(document)
    corrupt = " (corrupt)" if document["corrupt"] else ""
    workspace = document["workspace"]
    if document["status"] == "deleted":
        kept = (
            [f"preserved: workspace {printable(workspace)} (delete it by hand)"]
            if workspace
            else []
        )
        return [
            *lines,
            f"deleted: pod metadata{corrupt}",
            "preserved: session logs/history",
            *kept,
            f"reclaimed: {format_size(document['reclaimed_bytes'])}",
        ]
    kept = [f"would_preserve: workspace {printable(workspace)}"] if workspace else []
    return [
        *lines,
        f"would_delete: pod metadata{corrupt}",
        "would_preserve: session logs/history",
        *kept,
        PRESERVE_NOTE,
    ]


@pod_group.command("delete")
@click.argument("names", nargs=-1, metavar="NAME")
@destructive_options
@click.pass_context
def delete_command(
    ctx: click.Context, names: tuple[str, ...], force: bool, dry_run: bool, as_json: bool
) -> int:
    """Delete the metadata of one stopped Pod; its session logs/history are preserved, and so
    is the Worker's tool workspace (reported when it has one: delete it by hand).

    The delete happens under the Pod's lock right after a fresh liveness probe: a live Pod, a
    starting one, or one whose liveness is uncertain is refused (exit 1), --force or not. A
    missing Pod is refused too. Corrupt metadata of a stopped Pod is deleted and reported as
    corrupt. Starting the same name afterwards starts fresh, with a new session.
    """
    name = _pod_name(
        one_argument(
            names,
            "yoi pod delete requires an explicit Pod name",
            "yoi pod delete accepts exactly one Pod name",
        )
    )
    deleting = force_mode(force, dry_run)
    store = _store(ctx)
    with store_errors():
        outcome = store.delete_if_stopped(name, dry_run=not deleting)
    workspace = _workspace_of(command_context(ctx).params.get("store_url"), name)
    document = _delete_document(outcome, deleting, workspace)
    if as_json:
        _echo_json(document)
    else:
        click.echo("\n".join(_delete_lines(document)))
    return int(document["exit_code"])


# ---- prune ------------------------------------------------------------------------------------


def _prune_item(outcome: DeleteOutcome) -> Item:
    from yoi_pod_store.contract import DeleteResult

    name = outcome.name
    details: dict[str, Any] = {
        "liveness": _liveness_json(outcome.liveness),
        "last_activity": format_time(outcome.last_activity) if outcome.last_activity else None,
    }
    result = outcome.result
    if result is DeleteResult.MISSING:
        return Item("kept", name, "metadata disappeared", details=details)
    if result is DeleteResult.KEPT_NEWER:
        if outcome.last_activity is None:
            return Item("refused", name, "last activity is unavailable", details=details)
        return Item("kept", name, "metadata is newer than threshold", details=details)
    if result is DeleteResult.REFUSED:
        assert outcome.liveness is not None
        return Item("refused", name, outcome.liveness.reason, details=details)
    session, _ = _active(outcome.record)
    details["active_session"] = session
    if result is DeleteResult.DELETED:
        return Item(
            "deleted",
            name,
            "old pod metadata; session logs/history preserved",
            bytes=outcome.reclaimed_bytes,
            details=details,
        )
    active = f"active_session={session}" if session else "no active session"
    return Item("would_delete", name, f"old metadata; {active}", details=details)


def _prune_one(store: PodStore, listing: PodListing, cutoff: datetime, deleting: bool) -> Item:
    name = listing.name
    activity = store.last_activity(name)
    if activity is not None and activity >= cutoff:
        # Newer Pods are kept without probing: keeping is always safe.
        return Item(
            "kept",
            name,
            "metadata is newer than threshold",
            details={"last_activity": format_time(activity)},
        )
    if listing.error is not None:
        return Item(
            "refused",
            name,
            f"pod metadata is corrupt ({listing.error.detail}); "
            f"inspect it, then remove it with `yoi pod delete {name} --force`",
            details={"corrupt": listing.error.detail},
        )
    outcome = store.delete_if_stopped(name, last_activity_before=cutoff, dry_run=not deleting)
    return _prune_item(outcome)


@pod_group.command("prune")
@click.option(
    "--older-than",
    metavar="DURATION",
    callback=duration_option,
    help="Required: prune Pods last active longer ago than this (30d, 12h, 2weeks, ...).",
)
@destructive_options
@click.pass_context
def prune_command(
    ctx: click.Context, older_than: int | None, force: bool, dry_run: bool, as_json: bool
) -> int:
    """Delete the metadata of stopped Pods last active before --older-than.

    "Last active" is the later of the record's last_activity_at and the time its metadata was
    last written. There is no default threshold. Each Pod is decided under its lock after a
    fresh liveness probe, so a Pod that starts during the prune is never deleted; live and
    uncertain Pods are refused. Corrupt metadata is reported (refused), never deleted by a
    prune: remove it with `yoi pod delete NAME --force`. Session logs are never touched.
    Exit 1 if anything was refused or failed; the other Pods are still processed.

    \b
    Durations: <digits><unit>, unit one of s sec secs second seconds, m min mins minute
    minutes, h hr hrs hour hours, d day days, w week weeks.
    """
    if older_than is None:
        raise click.UsageError("yoi pod prune requires --older-than <DURATION>")
    deleting = force_mode(force, dry_run)
    store = _store(ctx)
    # Saturated durations reach back to the 18th century: older than any file.
    cutoff = datetime.now(UTC) - timedelta(seconds=min(older_than, 10**10))
    report = Report(
        "yoi pod prune",
        deleting,
        header=[("older_than", f"{older_than}s", format_duration(older_than))],
        note=_PRUNE_NOTE,
        as_json=as_json,
        noun="pods",
    )
    with store_errors():
        listings = store.list_pods()
    report.run(
        listings,
        lambda listing: _prune_one(store, listing, cutoff, deleting),
        lambda listing: listing.name,
    )
    counts = {
        action: report.count(action)
        for action in ("deleted", "would_delete", "kept", "refused", "failed")
    }
    return report.finish(counts)
