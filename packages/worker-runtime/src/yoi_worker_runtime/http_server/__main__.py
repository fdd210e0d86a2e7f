"""``python -m yoi_worker_runtime.http_server``: the REST server without the ``yoi`` command.

The flags are those of ``yoi runtime serve``. Exit codes: 0 after a graceful stop, 2 for a bad
option, 1 when the store cannot be opened or the address cannot be bound. ``--print-openapi``
prints the OpenAPI document (the committed ``openapi.json``) and exits.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence

from yoi_worker_runtime.errors import WorkerRuntimeError
from yoi_worker_runtime.http_server.connections import (
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_KEEP_ALIVE_TIMEOUT,
)
from yoi_worker_runtime.http_server.logs import LOG_FORMATS, LOG_LEVELS
from yoi_worker_runtime.http_server.openapi import openapi_document, render_document
from yoi_worker_runtime.http_server.serve import DEFAULT_BIND, ServeConfig, ServeError, serve
from yoi_worker_runtime.model import RuntimeLimits

PROG = "python -m yoi_worker_runtime.http_server"


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0, got {text!r}")
    return value


def _timeout(text: str) -> float:
    value = _seconds(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, got {text!r}")
    return value


def _heartbeat(text: str) -> float:
    value = _seconds(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 second, got {text!r}")
    return value


def _rate(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(prog=PROG, description="Serve a yoi Runtime over REST.")
    parse.add_argument("--bind", help=f"HOST:PORT to listen on (default {DEFAULT_BIND})")
    parse.add_argument("--unix-socket", help="also (or, without --bind, only) listen here")
    parse.add_argument("--runtime-id")
    parse.add_argument("--display-name")
    parse.add_argument("--store", help="store URL (default: $YOI_STORE, else fs:) or memory")
    parse.add_argument("--local-token-env", metavar="NAME")
    parse.add_argument("--local-token-file", metavar="PATH")
    parse.add_argument("--max-transcript-projection-items", type=_positive, default=256)
    parse.add_argument("--max-event-batch-items", type=_positive, default=256)
    parse.add_argument("--max-worker-list-items", type=_positive, default=256)
    parse.add_argument("--max-body-bytes", type=_positive, default=1 << 20)
    parse.add_argument("--max-event-wait", type=_seconds, default=30.0)
    parse.add_argument("--ready-file", metavar="PATH")
    parse.add_argument("--config", metavar="FILE", help="TOML Runtime configuration")
    parse.add_argument("--default-profile", metavar="NAME")
    parse.add_argument("--allow-tool", metavar="NAME", action="append", default=[])
    parse.add_argument("--stream-heartbeat", type=_heartbeat, default=15.0)
    parse.add_argument("--stream-buffer", type=_positive, default=512)
    parse.add_argument("--workspace-root", metavar="DIR")
    parse.add_argument("--http", choices=("auto", "h11", "httptools"), default="auto")
    parse.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default="auto")
    parse.add_argument("--log-level", choices=LOG_LEVELS, default="info")
    parse.add_argument("--log-format", choices=LOG_FORMATS, default="text")
    parse.add_argument("--access-log", action="store_true", help="one log line per request")
    parse.add_argument("--header-timeout", type=_timeout, default=DEFAULT_HEADER_TIMEOUT)
    parse.add_argument("--keep-alive-timeout", type=_positive, default=DEFAULT_KEEP_ALIVE_TIMEOUT)
    parse.add_argument("--max-connections", type=_positive)
    parse.add_argument("--advertise-url", metavar="URL", help="REST URL other Runtimes send to")
    parse.add_argument("--adopt", action="store_true", help="take over orphaned Workers")
    parse.add_argument("--adopt-rate", type=_rate, default=20.0, metavar="PER_SECOND")
    parse.add_argument("--wait-for-lease", action="store_true")
    parse.add_argument("--print-openapi", action="store_true", help="print the API document")
    return parse


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.print_openapi:
        sys.stdout.write(render_document(openapi_document()))
        return 0
    config = ServeConfig(
        bind=args.bind,
        unix_socket=args.unix_socket,
        runtime_id=args.runtime_id,
        display_name=args.display_name,
        store=args.store,
        local_token_env=args.local_token_env,
        local_token_file=args.local_token_file,
        limits=RuntimeLimits(
            max_transcript_projection_items=args.max_transcript_projection_items,
            max_event_batch_items=args.max_event_batch_items,
            max_worker_list_items=args.max_worker_list_items,
        ),
        max_body_bytes=args.max_body_bytes,
        max_event_wait=args.max_event_wait,
        ready_file=args.ready_file,
        config_file=args.config,
        default_profile=args.default_profile,
        allow_tools=tuple(args.allow_tool),
        stream_heartbeat=args.stream_heartbeat,
        stream_buffer=args.stream_buffer,
        workspace_root=args.workspace_root,
        http=args.http,
        loop=args.loop,
        log_level=args.log_level,
        log_format=args.log_format,
        access_log=args.access_log,
        header_timeout=args.header_timeout,
        keep_alive_timeout=args.keep_alive_timeout,
        max_connections=args.max_connections,
        advertise_url=args.advertise_url,
        adopt=args.adopt,
        adopt_rate=args.adopt_rate,
        wait_for_lease=args.wait_for_lease,
    )
    try:
        return serve(config)
    except ServeError as error:
        print(f"{PROG}: {error.message}", file=sys.stderr)
        return 2 if error.usage else 1
    except WorkerRuntimeError as error:
        print(f"{PROG}: {error.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
