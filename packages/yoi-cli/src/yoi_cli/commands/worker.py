"""``yoi worker ...``: drive a Runtime's Workers over its REST API.

The Runtime is found by ``--url`` or ``$YOI_RUNTIME_URL`` (the ``url`` of ``yoi runtime
serve``'s ready line); the bearer token, when the server requires one, comes from
``$YOI_RUNTIME_TOKEN``. Output is readable text; ``--json`` prints JSON for scripts (one JSON
object per line when following).
"""

from __future__ import annotations

import json
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import click

from yoi_cli.features import RuntimeGroup
from yoi_cli.shared.parsing import command_context

if TYPE_CHECKING:
    from yoi_worker_runtime import EventBatch, TranscriptEntry, WorkerDetail
    from yoi_worker_runtime.client import RuntimeClient

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

#: How long one long-poll of ``--follow`` waits before asking again.
FOLLOW_WAIT_SECONDS = 10.0


@click.group("worker", cls=RuntimeGroup)
@click.option(
    "--url",
    envvar="YOI_RUNTIME_URL",
    metavar="URL",
    help="The Runtime: http://HOST:PORT or http+unix://SOCKET  [env: YOI_RUNTIME_URL]",
)
@click.option(
    "--follow-moves",
    is_flag=True,
    envvar="YOI_FOLLOW_MOVES",
    help="When another Runtime sharing the store hosts the Worker now, ask that one (at the "
    "URL it advertises).  [env: YOI_FOLLOW_MOVES]",
)
@click.pass_context
def worker_group(ctx: click.Context, url: str | None, follow_moves: bool) -> None:
    """Drive a Runtime's Workers over REST (needs yoi-cli[runtime]).

    The bearer token, if the Runtime requires one, is read from YOI_RUNTIME_TOKEN. Without
    --follow-moves, a Worker that moved to another Runtime is an error naming that Runtime
    and its URL (worker_hosted_elsewhere).
    """
    ctx.obj = (url, follow_moves)


def _json_option(function: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(function)


def _client(ctx: click.Context) -> RuntimeClient:
    from yoi_worker_runtime.client import RuntimeClient

    url, follow_moves = command_context(ctx).obj
    if not url:
        raise click.UsageError("no Runtime URL: pass --url or set YOI_RUNTIME_URL")
    try:
        return RuntimeClient.from_env(url, follow_moves=follow_moves)
    except ValueError as error:
        raise click.UsageError(str(error)) from None


def _call(function: Callable[[], T]) -> T:
    """Run one client call; a Runtime error becomes ``yoi worker: <message> (<code>)``."""
    from yoi_worker_runtime import WorkerHostedElsewhere, WorkerRuntimeError

    try:
        return function()
    except WorkerRuntimeError as error:
        message = f"{error.message} ({error.code})"
        if type(error) is WorkerHostedElsewhere and error.hosting_url:
            message += "; --follow-moves follows it there"
        raise click.ClickException(message) from None


def _emit_json(value: object) -> None:
    from yoi_worker_runtime import to_json

    click.echo(json.dumps(to_json(value), ensure_ascii=False))


def _intent_text(intent: Any) -> str:
    if intent.kind == "task":
        return f"task: {intent.objective}"
    if intent.kind == "role":
        return f"role: {intent.role}" + (f" ({intent.purpose})" if intent.purpose else "")
    return "assistant" + (f": {intent.purpose}" if intent.purpose else "")


def _profile_text(profile: Any) -> str:
    return (
        "runtime default"
        if profile.kind == "runtime_default"
        else f"{profile.kind}:{profile.value}"
    )


def _show_detail(detail: WorkerDetail) -> None:
    click.echo(f"worker      {detail.worker_id}")
    click.echo(f"runtime     {detail.runtime_id}")
    status = detail.status + (f" ({detail.status_reason})" if detail.status_reason else "")
    click.echo(f"status      {status}")
    click.echo(f"intent      {_intent_text(detail.intent)}")
    click.echo(f"profile     {_profile_text(detail.profile)}")
    if detail.config_bundle is not None:
        click.echo(f"bundle      {detail.config_bundle.id}")
    for capability in detail.requested_capabilities:
        reason = f" ({capability.reason})" if capability.reason else ""
        click.echo(f"capability  {capability.name}{reason}")
    click.echo(f"transcript  {detail.transcript_len} entries")
    turn = detail.turn
    if turn.state == "running":
        click.echo(
            f"turn        running {turn.turn_id} since {turn.started_at}, {turn.queued} queued"
        )
    else:
        click.echo("turn        idle")
    usage = detail.usage
    click.echo(f"usage       {usage.input_tokens} tokens in, {usage.output_tokens} out")
    click.echo(f"created     {detail.created_at}")
    click.echo(f"updated     {detail.updated_at}")


def _show_entry(entry: TranscriptEntry) -> None:
    _echo_text(f"[{entry.sequence}] {entry.at} {entry.role}: {entry.content}")


@worker_group.command("create")
@click.option("--name", help="The Worker's name (its id); generated when absent.")
@click.option("--task", "objective", metavar="OBJECTIVE", help="A task Worker with this objective.")
@click.option("--role", help="A Worker playing this role.")
@click.option("--purpose", help="The purpose of an assistant or role Worker.")
@click.option(
    "--profile",
    default="default",
    show_default=True,
    help="default, builtin:NAME or named:NAME.",
)
@click.option(
    "--capability",
    "capabilities",
    multiple=True,
    metavar="NAME[:REASON]",
    help="Request a capability (repeatable).",
)
@click.option("--config-bundle", metavar="ID", help="The config bundle to use.")
@click.option(
    "--request",
    "request_file",
    type=click.File("r"),
    help="A whole CreateWorkerRequest as JSON ('-' for stdin) instead of the flags.",
)
@_json_option
@click.pass_context
def create_command(
    ctx: click.Context,
    name: str | None,
    objective: str | None,
    role: str | None,
    purpose: str | None,
    profile: str,
    capabilities: tuple[str, ...],
    config_bundle: str | None,
    request_file: Any,
    as_json: bool,
) -> int:
    """Create a Worker: an assistant by default, --task OBJECTIVE or --role ROLE."""
    from yoi_worker_runtime import (
        AssistantIntent,
        BuiltinProfile,
        ConfigBundleRef,
        CreateWorkerRequest,
        InvalidRequest,
        NamedProfile,
        RequestedCapability,
        RoleIntent,
        RuntimeDefaultProfile,
        TaskIntent,
        WorkerIntent,
        WorkerProfile,
        from_json,
    )

    if request_file is not None:
        try:
            request = from_json(CreateWorkerRequest, json.load(request_file))
        except (ValueError, InvalidRequest) as error:
            raise click.BadParameter(str(error), param_hint="--request") from None
    else:
        if objective is not None and role is not None:
            raise click.UsageError("give --task or --role, not both")
        intent: WorkerIntent
        if objective is not None:
            if purpose is not None:
                raise click.UsageError("--purpose goes with --role or an assistant, not --task")
            intent = TaskIntent(objective=objective)
        elif role is not None:
            intent = RoleIntent(role=role, purpose=purpose)
        else:
            intent = AssistantIntent(purpose=purpose)
        kind, _, value = profile.partition(":")
        worker_profile: WorkerProfile
        if profile == "default":
            worker_profile = RuntimeDefaultProfile()
        elif kind == "builtin" and value:
            worker_profile = BuiltinProfile(value=value)
        elif kind == "named" and value:
            worker_profile = NamedProfile(value=value)
        else:
            raise click.BadParameter(
                f"expected default, builtin:NAME or named:NAME, got {profile!r}",
                param_hint="--profile",
            )
        request = CreateWorkerRequest(
            name=name,
            intent=intent,
            profile=worker_profile,
            config_bundle=ConfigBundleRef(id=config_bundle) if config_bundle else None,
            requested_capabilities=tuple(
                RequestedCapability(
                    name=item.partition(":")[0], reason=item.partition(":")[2] or None
                )
                for item in capabilities
            ),
        )
    with _client(ctx) as client:
        detail = _call(lambda: client.create_worker(request))
    if as_json:
        _emit_json(detail)
    else:
        click.echo(f"created worker {detail.worker_id} in runtime {detail.runtime_id}")
    return 0


@worker_group.command("list")
@_json_option
@click.pass_context
def list_command(ctx: click.Context, as_json: bool) -> int:
    """List the Runtime's Workers."""
    with _client(ctx) as client:
        workers = _call(client.list_workers)
    if as_json:
        from yoi_worker_runtime import to_json

        click.echo(json.dumps({"workers": [to_json(item) for item in workers]}))
        return 0
    if not workers:
        click.echo("no workers")
        return 0
    width = max(len(item.worker_id) for item in workers)
    click.echo(f"{'WORKER'.ljust(width)}  STATUS     ENTRIES  UPDATED                   INTENT")
    for item in workers:
        click.echo(
            f"{item.worker_id.ljust(width)}  {item.status.ljust(9)}  {item.transcript_len:>7}  "
            f"{item.updated_at}  {_intent_text(item.intent)}"
        )
    return 0


@worker_group.command("show")
@click.argument("worker_id")
@_json_option
@click.pass_context
def show_command(ctx: click.Context, worker_id: str, as_json: bool) -> int:
    """Show one Worker in detail."""
    with _client(ctx) as client:
        detail = _call(lambda: client.worker_detail(worker_id))
    if as_json:
        _emit_json(detail)
    else:
        _show_detail(detail)
    return 0


_ON_BUSY = click.Choice(["enqueue", "reject", "interrupt"])


@worker_group.command("input")
@click.argument("worker_id")
@click.argument("text")
@click.option("--system", is_flag=True, help="Send system input instead of user input.")
@click.option(
    "--on-busy",
    type=_ON_BUSY,
    help="If a turn is running: queue behind it, refuse, or interrupt it "
    "[default: the Worker's policy].",
)
@click.option("--wait", is_flag=True, help="Wait for the turn and print the reply.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=300.0,
    show_default=True,
    help="With --wait: give up after this many seconds.",
)
@_json_option
@click.pass_context
def input_command(
    ctx: click.Context,
    worker_id: str,
    text: str,
    system: bool,
    on_busy: Any,
    wait: bool,
    timeout: float,
    as_json: bool,
) -> int:
    """Send TEXT to a running Worker ('-' reads it from stdin).

    With --wait, print the assistant's reply on stdout when the turn ends; a turn that fails
    or is interrupted exits 1 with its reason on stderr.
    """
    content = sys.stdin.read() if text == "-" else text
    with _client(ctx) as client:
        ack = _call(
            lambda: client.send_input(
                worker_id, content, kind="system" if system else "user", on_busy=on_busy
            )
        )
        if not wait:
            if as_json:
                _emit_json(ack)
            else:
                turn = f"; turn {ack.turn_id} {ack.turn_phase}" if ack.turn_id else ""
                click.echo(
                    f"accepted as entry {ack.transcript_sequence} (event {ack.event_id}){turn}"
                )
            return 0
        if ack.turn_id is None:
            raise click.ClickException(f"worker {worker_id} runs no turns (its profile is none)")
        turn_id = ack.turn_id
        ended = _call(lambda: client.wait_for_turn(worker_id, turn_id, timeout))
    if as_json:
        _emit_json(ended)
    elif ended.phase == "completed":
        _echo_text(ended.reply or "")
    if ended.phase in ("queued", "running"):
        click.echo(f"yoi: turn {turn_id} is still {ended.phase} after {timeout:g} s", err=True)
        return 1
    if ended.phase != "completed":
        click.echo(f"yoi: turn {ended.phase}: {ended.reason}", err=True)
        return 1
    return 0


@worker_group.command("interrupt")
@click.argument("worker_id")
@click.option("--drop-queued", is_flag=True, help="Also drop the inputs waiting for their turn.")
@_json_option
@click.pass_context
def interrupt_command(ctx: click.Context, worker_id: str, drop_queued: bool, as_json: bool) -> int:
    """End the Worker's running turn (the Worker keeps running; queued inputs then run)."""
    with _client(ctx) as client:
        ack = _call(lambda: client.interrupt_turn(worker_id, drop_queued=drop_queued))
    if as_json:
        _emit_json(ack)
    elif ack.changed:
        dropped = f"; {ack.dropped} queued input(s) dropped" if ack.dropped else ""
        turn = f"turn {ack.turn_id} interrupted" if ack.turn_id else "no turn was running"
        click.echo(f"{turn}{dropped}")
    else:
        click.echo(f"worker {worker_id} is idle; nothing to interrupt")
    return 0


def _lifecycle(
    ctx: click.Context, worker_id: str, reason: str | None, as_json: bool, stop: bool
) -> int:
    with _client(ctx) as client:
        operation = client.stop_worker if stop else client.cancel_worker
        ack = _call(lambda: operation(worker_id, reason))
    if as_json:
        _emit_json(ack)
    elif ack.changed:
        click.echo(f"worker {worker_id} {ack.status}")
    else:
        click.echo(f"worker {worker_id} was already {ack.status}; nothing changed")
    return 0


@worker_group.command("stop")
@click.argument("worker_id")
@click.option("--reason", help="Why; becomes the event message.")
@_json_option
@click.pass_context
def stop_command(ctx: click.Context, worker_id: str, reason: str | None, as_json: bool) -> int:
    """Stop a Worker (a Worker already stopped or cancelled stays as it is)."""
    return _lifecycle(ctx, worker_id, reason, as_json, stop=True)


@worker_group.command("cancel")
@click.argument("worker_id")
@click.option("--reason", help="Why; becomes the event message.")
@_json_option
@click.pass_context
def cancel_command(ctx: click.Context, worker_id: str, reason: str | None, as_json: bool) -> int:
    """Cancel a Worker (a Worker already stopped or cancelled stays as it is)."""
    return _lifecycle(ctx, worker_id, reason, as_json, stop=False)


def _until(timeout: float | None) -> Callable[[], float | None]:
    """Seconds left before ``timeout`` (None: no limit)."""
    deadline = None if timeout is None else time.monotonic() + timeout

    def remaining() -> float | None:
        return None if deadline is None else deadline - time.monotonic()

    return remaining


def _follow_events(
    client: RuntimeClient, cursor: Any, limit: int | None, timeout: float | None
) -> Iterator[EventBatch]:
    """Batches from ``cursor`` on, long-polling, until ``timeout`` passes or Ctrl-C."""
    remaining = _until(timeout)
    while True:
        left = remaining()
        if left is not None and left <= 0:
            return
        wait = FOLLOW_WAIT_SECONDS if left is None else max(0.0, min(left, FOLLOW_WAIT_SECONDS))
        batch = _call(partial(client.events, cursor, limit=limit, wait=wait))
        yield batch
        cursor = batch.cursor


_TIMEOUT_HELP = "With --follow: stop after this many seconds."


@worker_group.command("transcript")
@click.argument("worker_id")
@click.option("--start", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--limit", type=click.IntRange(min=1), help="Page size (default: the maximum).")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new entries (Ctrl-C stops).")
@click.option("--timeout", type=click.FloatRange(min=0), help=_TIMEOUT_HELP)
@_json_option
@click.pass_context
def transcript_command(
    ctx: click.Context,
    worker_id: str,
    start: int,
    limit: int | None,
    follow: bool,
    timeout: float | None,
    as_json: bool,
) -> int:
    """Print a Worker's transcript; --follow streams new entries until the Worker ends."""
    with _client(ctx) as client:
        if not follow:
            page = _call(lambda: client.transcript(worker_id, start=start, limit=limit))
            if as_json:
                _emit_json(page)
            else:
                for entry in page.items:
                    _show_entry(entry)
                if page.next_start is not None:
                    click.echo(f"... more from --start {page.next_start}")
            return 0
        cursor = _call(lambda: client.events("now")).cursor
        position = start

        def drain() -> None:
            nonlocal position
            while True:
                page = _call(partial(client.transcript, worker_id, start=position, limit=limit))
                for entry in page.items:
                    _emit_json(entry) if as_json else _show_entry(entry)
                position = page.start + len(page.items)
                if page.next_start is None:
                    return

        try:
            drain()
            if _call(lambda: client.worker_detail(worker_id)).status != "running":
                return 0
            for batch in _follow_events(client, cursor, None, timeout):
                mine = [
                    event
                    for event in batch.events
                    if event.worker_ref is not None and event.worker_ref.worker_id == worker_id
                ]
                if mine:  # input, or a turn's step: new entries may be there
                    drain()
                if any(
                    event.kind in ("worker_stopped", "worker_cancelled") for event in mine
                ) or any(event.kind == "runtime_stopped" for event in batch.events):
                    return 0
        except KeyboardInterrupt:
            return 0
    return 0


def _show_event(event: Any) -> None:
    worker = f" {event.worker_ref.worker_id}" if event.worker_ref is not None else ""
    _echo_text(f"#{event.id} {event.at} {event.kind}{worker}: {event.message}")


@worker_group.command("events")
@click.option(
    "--cursor",
    default="start",
    show_default=True,
    help="start, now, or the id of the next event to read.",
)
@click.option("--limit", type=click.IntRange(min=1), help="Batch size (default: the maximum).")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events (Ctrl-C stops).")
@click.option("--timeout", type=click.FloatRange(min=0), help=_TIMEOUT_HELP)
@_json_option
@click.pass_context
def events_command(
    ctx: click.Context,
    cursor: str,
    limit: int | None,
    follow: bool,
    timeout: float | None,
    as_json: bool,
) -> int:
    """Print the Runtime's events; --follow streams them as they happen."""
    from yoi_worker_runtime import EventCursor

    with _client(ctx) as client:
        start: Any
        if cursor in ("start", "now"):
            start = cursor
        elif cursor.isdigit() and int(cursor) >= 1:
            start = EventCursor(
                runtime_id=_call(client.summary).runtime_id, next_event_id=int(cursor)
            )
        else:
            raise click.BadParameter(
                f"expected start, now or an event id, got {cursor!r}", param_hint="--cursor"
            )
        if not follow:
            batch = _call(lambda: client.events(start, limit=limit))
            if as_json:
                _emit_json(batch)
            else:
                for event in batch.events:
                    _show_event(event)
                if batch.has_more:
                    click.echo(f"... more from --cursor {batch.cursor.next_event_id}")
            return 0
        after: int | str = 0 if cursor == "start" else "now" if cursor == "now" else int(cursor) - 1
        return _follow_stream(client, after, timeout, as_json)


def _in_background(messages: Iterator[T]) -> queue.Queue[T | BaseException]:
    """Iterate ``messages`` in a daemon thread; what it yields (or raises) lands in the queue."""
    found: queue.Queue[T | BaseException] = queue.Queue()

    def pump() -> None:
        try:
            for message in messages:
                found.put(message)
        except BaseException as error:  # handed to the reading thread, which decides
            found.put(error)

    threading.Thread(target=pump, name="yoi-stream", daemon=True).start()
    return found


def _next(found: queue.Queue[Any], timeout: float | None) -> object:
    """The next streamed message, None when ``timeout`` passed; a stream error is raised."""
    try:
        item = found.get(timeout=timeout)
    except queue.Empty:
        return None
    if isinstance(item, BaseException):
        from yoi_worker_runtime import WorkerRuntimeError

        if isinstance(item, WorkerRuntimeError):
            raise click.ClickException(f"{item.message} ({item.code})")
        raise item
    return item


def _follow_stream(
    client: RuntimeClient, after: int | str, timeout: float | None, as_json: bool
) -> int:
    """Print the Runtime's events as the event stream delivers them (durable events only)."""
    from yoi_worker_runtime import RuntimeEvent
    from yoi_worker_runtime.client import StreamMessage

    stream: queue.Queue[StreamMessage | BaseException] = _in_background(
        client.stream_events(after=after)  # type: ignore[arg-type]
    )
    remaining = _until(timeout)
    try:
        while True:
            left = remaining()
            if left is not None and left <= 0:
                return 0
            message = _next(stream, left)
            if isinstance(message, RuntimeEvent):
                _emit_json(message) if as_json else _show_event(message)
    except KeyboardInterrupt:
        return 0


@worker_group.command("chat")
@click.argument("worker_id")
@click.pass_context
def chat_command(ctx: click.Context, worker_id: str) -> int:
    """Talk with a Worker: each line you type is an input; the reply prints as it is made.

    Ctrl-C interrupts a running turn, Ctrl-D leaves. The conversation goes on across a
    restart of the Runtime: the stream reconnects and prints what it missed.
    """
    from yoi_worker_runtime import RuntimeEvent
    from yoi_worker_runtime.client import StreamMessage
    from yoi_worker_runtime.model import TurnTextDelta

    with _client(ctx) as client:
        detail = _call(lambda: client.worker_detail(worker_id))
        # From the Worker's last event, not from "now": the stream connects in the background
        # and a quick turn may end before it is up; its events must still arrive.
        stream: queue.Queue[StreamMessage | BaseException] = _in_background(
            client.stream_worker(worker_id, after=detail.last_event_id)
        )
        prompt = "> " if sys.stdin.isatty() else ""
        while True:
            try:
                line = input(prompt)
            except EOFError:
                click.echo()
                return 0
            except KeyboardInterrupt:
                click.echo()
                continue
            if not line.strip():
                continue
            ack = _call(partial(client.send_input, worker_id, line))
            if ack.turn_id is None:
                click.echo("(recorded; this Worker runs no turns)")
                continue
            turn_id = ack.turn_id
            shown: list[str] = []
            while True:
                try:
                    message = _next(stream, None)
                except KeyboardInterrupt:
                    _call(lambda: client.interrupt_turn(worker_id))
                    continue
                if isinstance(message, TurnTextDelta) and message.turn_id == turn_id:
                    shown.append(message.text)
                    _echo_text(message.text, nl=False)
                elif (
                    isinstance(message, RuntimeEvent)
                    and message.turn_id == turn_id
                    and message.kind in ("turn_completed", "turn_failed", "turn_interrupted")
                ):
                    break
            turn = _call(partial(client.turn, worker_id, turn_id))
            text = "".join(shown)
            if turn.reply is not None and turn.reply.startswith(text):
                _echo_text(turn.reply[len(text) :], nl=False)  # what was missed
            click.echo()
            if turn.phase != "completed":
                click.echo(f"(turn {turn.phase}: {turn.reason})", err=True)


def _echo_text(text: str, *, nl: bool = True) -> None:
    """Print text a Worker or its model wrote: on a terminal with control characters escaped,
    elsewhere (pipes, files) exactly as it is."""
    if sys.stdout.isatty():
        click.echo(_printable(text), nl=nl)
    else:
        click.echo(text, nl=nl, color=True)  # color=True: click must not strip anything


def _printable(text: str) -> str:
    """``text`` as it may reach a terminal: control characters other than newline and tab are
    shown escaped, so a reply cannot retitle, clear or otherwise drive the terminal."""
    return "".join(
        char if char in "\n\t" or (ord(char) >= 0x20 and ord(char) != 0x7F) else repr(char)[1:-1]
        for char in text
    )
