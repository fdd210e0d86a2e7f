"""``yoi runtime serve``: host a Runtime and serve its REST API until SIGTERM or Ctrl-C."""

from __future__ import annotations

from typing import Literal

import click

from yoi_cli.features import RuntimeGroup, require_runtime_feature


@click.group("runtime", cls=RuntimeGroup)
def runtime_group() -> None:
    """Host a yoi Runtime (needs yoi-cli[runtime])."""


@runtime_group.command("serve")
@click.option("--bind", help="HOST:PORT to listen on  [default: 127.0.0.1:0, a free port]")
@click.option("--unix-socket", type=click.Path(dir_okay=False), help="Also listen on this socket.")
@click.option("--runtime-id", help="The Runtime's id (reopen a persistent Runtime by it).")
@click.option("--display-name", help="A human name for the Runtime.")
@click.option(
    "--store",
    metavar="URL",
    help="Store URL: fs: (the data dir), fs:///path, ... or memory (nothing kept). "
    "[default: $YOI_STORE, else fs:]",
)
@click.option("--local-token-env", metavar="NAME", help="Require the bearer token in $NAME.")
@click.option(
    "--local-token-file",
    type=click.Path(dir_okay=False),
    help="Require the bearer token stored in this file.",
)
@click.option(
    "--max-transcript-projection-items",
    type=click.IntRange(1, 1000),
    default=256,
    show_default=True,
)
@click.option(
    "--max-event-batch-items", type=click.IntRange(1, 1000), default=256, show_default=True
)
@click.option(
    "--max-worker-list-items",
    type=click.IntRange(1, 1000),
    default=256,
    show_default=True,
    help="Largest page of GET /v1/workers (also its default).",
)
@click.option("--max-body-bytes", type=click.IntRange(min=1), default=1 << 20, show_default=True)
@click.option(
    "--max-event-wait",
    type=click.FloatRange(0, 300),
    default=30.0,
    show_default=True,
    help="Longest long-poll wait in seconds.",
)
@click.option(
    "--ready-file",
    type=click.Path(dir_okay=False),
    help="Also write the ready line to this file (atomically).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="A TOML configuration: [profiles.NAME] tables, default_profile, allow_tools.",
)
@click.option(
    "--default-profile",
    metavar="NAME",
    help="The profile of runtime_default Workers (overrides the file)  [default: echo]",
)
@click.option(
    "--allow-tool",
    "allow_tools",
    multiple=True,
    metavar="NAME",
    help="Let Workers that request it use this tool (repeatable; adds to the file's).",
)
@click.option(
    "--workspace-root",
    type=click.Path(file_okay=False),
    help="Where each Worker's tools get a folder  [default: workspaces in the data dir]",
)
@click.option(
    "--stream-heartbeat",
    type=click.FloatRange(min=1),
    default=15.0,
    show_default=True,
    help="Seconds between heartbeats on an idle event stream.",
)
@click.option(
    "--stream-buffer",
    type=click.IntRange(min=16),
    default=512,
    show_default=True,
    help="Messages an event stream may hold for a slow reader (then deltas drop, then it lags).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error", "critical"]),
    default="info",
    show_default=True,
    help="Log records at this level and above go to stderr.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="One line per record: text, or a JSON object.",
)
@click.option(
    "--access-log", is_flag=True, help="Also log one line per request, with its request id."
)
@click.option(
    "--header-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Seconds a connection gets to send its complete request headers.",
)
@click.option(
    "--keep-alive-timeout",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Seconds a kept-alive connection may idle between requests.",
)
@click.option(
    "--max-connections",
    type=click.IntRange(min=1),
    help="Open connections at most  [default: what the descriptor limit leaves room for]",
)
@click.option(
    "--http",
    type=click.Choice(["auto", "h11", "httptools"]),
    default="auto",
    show_default=True,
    help="HTTP parser (auto: httptools when installed).",
)
@click.option(
    "--loop",
    type=click.Choice(["auto", "asyncio", "uvloop"]),
    default="auto",
    show_default=True,
    help="Event loop (auto: uvloop when installed).",
)
@click.option(
    "--advertise-url",
    metavar="URL",
    help="The URL Runtimes sharing the store send this one's clients to  [default: the first "
    "URL it listens on]",
)
@click.option(
    "--adopt",
    is_flag=True,
    help="Take over the Workers of Runtimes on the store whose hosting lease lapsed.",
)
@click.option(
    "--adopt-rate",
    type=click.FloatRange(min=0, min_open=True),
    default=20.0,
    show_default=True,
    metavar="PER_SECOND",
    help="Adoptions per second at most.",
)
@click.option(
    "--wait-for-lease",
    is_flag=True,
    help="If a dead process still holds this runtime id's lease, wait for it to lapse "
    "(PostgreSQL stores) instead of failing.",
)
def serve_command(
    bind: str | None,
    unix_socket: str | None,
    runtime_id: str | None,
    display_name: str | None,
    store: str | None,
    local_token_env: str | None,
    local_token_file: str | None,
    max_transcript_projection_items: int,
    max_event_batch_items: int,
    max_worker_list_items: int,
    max_body_bytes: int,
    max_event_wait: float,
    ready_file: str | None,
    config_file: str | None,
    default_profile: str | None,
    allow_tools: tuple[str, ...],
    workspace_root: str | None,
    stream_heartbeat: float,
    stream_buffer: int,
    log_level: str,
    log_format: Literal["text", "json"],
    access_log: bool,
    header_timeout: float,
    keep_alive_timeout: int,
    max_connections: int | None,
    http: str,
    loop: str,
    advertise_url: str | None,
    adopt: bool,
    adopt_rate: float,
    wait_for_lease: bool,
) -> int:
    """Serve a Runtime over REST until SIGTERM or Ctrl-C.

    Prints one JSON ready line on stdout once it accepts requests, e.g.
    {"event":"ready","url":"http://127.0.0.1:PORT","runtime_id":...,"pid":...};
    a supervisor that asked for port 0 learns the port there. On SIGTERM/SIGINT in-flight
    requests finish, the store is released and the exit code is 0.

    Each input on a Worker starts a turn that its profile's engine runs (echo by default;
    --config names real engines, e.g. an OpenAI-compatible server). Its clients are trusted
    backends and local tools (`yoi worker`), never browsers; a backend relays to browsers.

    GET /v1/health (liveness), /v1/ready (readiness) and /v1/metrics (Prometheus) serve an
    operator; logs go to stderr.

    Several Runtimes may share one PostgreSQL store: each records --advertise-url, a request
    for a Worker another one hosts answers 404 worker_hosted_elsewhere with that URL, and
    with --adopt a Runtime takes over the Workers of one that died. A Runtime that lost its
    hosting lease (it was stopped or cut off past the lease's time to live) exits with code 3
    so that its supervisor starts it again.
    """
    require_runtime_feature("yoi runtime serve", "http-server")
    from yoi_worker_runtime import RuntimeLimits, WorkerRuntimeError
    from yoi_worker_runtime.http_server import ServeConfig, ServeError, serve

    config = ServeConfig(
        bind=bind,
        unix_socket=unix_socket,
        runtime_id=runtime_id,
        display_name=display_name,
        store=store,
        local_token_env=local_token_env,
        local_token_file=local_token_file,
        limits=RuntimeLimits(
            max_transcript_projection_items=max_transcript_projection_items,
            max_event_batch_items=max_event_batch_items,
            max_worker_list_items=max_worker_list_items,
        ),
        max_body_bytes=max_body_bytes,
        max_event_wait=max_event_wait,
        ready_file=ready_file,
        config_file=config_file,
        default_profile=default_profile,
        allow_tools=allow_tools,
        workspace_root=workspace_root,
        stream_heartbeat=stream_heartbeat,
        stream_buffer=stream_buffer,
        log_level=log_level,
        log_format=log_format,
        access_log=access_log,
        header_timeout=header_timeout,
        keep_alive_timeout=keep_alive_timeout,
        max_connections=max_connections,
        http=http,
        loop=loop,
        advertise_url=advertise_url,
        adopt=adopt,
        adopt_rate=adopt_rate,
        wait_for_lease=wait_for_lease,
    )
    try:
        return serve(config)
    except ServeError as error:
        if error.usage:
            raise click.UsageError(error.message) from None
        raise click.ClickException(error.message) from None
    except WorkerRuntimeError as error:
        raise click.ClickException(error.message) from None
