"""Running the REST server as a process: store, token, listening sockets, ready line, shutdown.

Both ``yoi runtime serve`` and ``python -m yoi_worker_runtime.http_server`` come here. The
sockets are bound before uvicorn starts, so with port 0 the bound port is known, and the ready
line (one JSON object on stdout, optionally also written atomically to a file) is printed only
once uvicorn accepts requests. SIGTERM and SIGINT stop accepting, let in-flight requests finish
(long-polls answer at once), then close the Runtime, which releases its store; exit code 0.
Logs (and the access log, when asked) go to stderr; connections follow :mod:`.connections`.

On a store shared by several Runtimes, a Runtime that loses its hosting lease (it was stopped
or cut off from the store past the lease's time to live, so another Runtime may have taken its
Workers over) is fenced: every request but the probes answers 503 ``lease_lost``, and the server
shuts down the same graceful way and exits with :data:`EXIT_LEASE_LOST`, for a supervisor to
start it again with a fresh lease (its Workers adopted elsewhere then answer
``worker_hosted_elsewhere``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import re
import signal
import socket
import stat
import sys
from pathlib import Path
from types import FrameType
from typing import IO, Any, Unpack
from urllib.parse import quote

import attrs
import uvicorn
from yoi_base import paths

from yoi_worker_runtime.adoption import AdoptionPolicy
from yoi_worker_runtime.http_server.app import create_app
from yoi_worker_runtime.http_server.connections import (
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_KEEP_ALIVE_TIMEOUT,
    ConnectionGuard,
)
from yoi_worker_runtime.http_server.logs import (
    LOG_FORMATS,
    LOG_LEVELS,
    LogFormat,
    configure_logging,
)
from yoi_worker_runtime.http_server.options import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_EVENT_WAIT,
    DEFAULT_STREAM_BUFFER,
    DEFAULT_STREAM_HEARTBEAT,
    MAX_PAGE_ITEMS,
    AppOptions,
    ServerState,
)
from yoi_worker_runtime.http_server.watched_store import WatchedPersistence
from yoi_worker_runtime.model import RuntimeLimits
from yoi_worker_runtime.persistence import RuntimePersistence
from yoi_worker_runtime.profiles import ConfigError, RuntimeConfig, load_config
from yoi_worker_runtime.runtime import Runtime, RuntimeOptions
from yoi_worker_runtime.stores import open_persistent_runtime

#: ``--store memory``: a Runtime that lives in this process only.
MEMORY_STORE = "memory"
DEFAULT_BIND = "127.0.0.1:0"
#: The exit code of a server whose Runtime lost its hosting lease.
EXIT_LEASE_LOST = 3
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
_TOKEN = re.compile(r"[\x21-\x7e]+")

logger = logging.getLogger("yoi_worker_runtime.http_server")


class ServeError(Exception):
    """The server cannot start as configured; ``usage`` marks a bad option (exit code 2)."""

    def __init__(self, message: str, *, usage: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage


@attrs.frozen(kw_only=True)
class ServeConfig:
    """Everything ``serve`` needs; field names follow the command-line flags."""

    #: ``HOST:PORT`` (``[::1]:PORT`` for IPv6). None: 127.0.0.1:0, unless only a Unix
    #: socket is asked for.
    bind: str | None = None
    unix_socket: str | None = None
    runtime_id: str | None = None
    display_name: str | None = None
    #: A store URL for ``open_persistent_runtime`` (None: the stores' default, ``fs:`` under
    #: the data dir), or ``memory``.
    store: str | None = None
    local_token_env: str | None = None
    local_token_file: str | None = None
    limits: RuntimeLimits = attrs.field(factory=RuntimeLimits)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_event_wait: float = DEFAULT_MAX_EVENT_WAIT
    ready_file: str | None = None
    #: A TOML Runtime configuration (profiles, default profile, allowed tools); the two flags
    #: below override it.
    config_file: str | None = None
    default_profile: str | None = None
    allow_tools: tuple[str, ...] = ()
    #: Where each Worker's tools get a directory of their own (``<root>/<worker id>``).
    workspace_root: str | None = None
    stream_heartbeat: float = DEFAULT_STREAM_HEARTBEAT
    stream_buffer: int = DEFAULT_STREAM_BUFFER
    #: uvicorn's HTTP parser (``auto``: httptools when installed, else h11) and event loop
    #: (``auto``: uvloop when installed, else asyncio's).
    http: str = "auto"
    loop: str = "auto"
    #: The REST URL recorded in the runtime record, where Runtimes sharing the store send
    #: clients of this one's Workers (None: the first URL it listens on).
    advertise_url: str | None = None
    #: Take over the Workers of Runtimes on the store whose hosting lease lapsed, at most
    #: ``adopt_rate`` per second.
    adopt: bool = False
    adopt_rate: float = 20.0
    #: On a store whose leases lapse by time, wait for a dead holder's lease of this runtime id
    #: to lapse instead of failing at once.
    wait_for_lease: bool = False
    #: Seconds in-flight requests get to finish after SIGTERM before they are cancelled.
    graceful_timeout: float = 30.0
    log_level: str = "info"
    log_format: LogFormat = "text"
    #: One log line per answered request (with its request id), whatever ``log_level``.
    access_log: bool = False
    #: Seconds a connection gets to send its complete request headers.
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    #: Seconds a kept-alive connection may idle between requests.
    keep_alive_timeout: int = DEFAULT_KEEP_ALIVE_TIMEOUT
    #: Open connections at most (None: as many as the descriptor limit leaves room for).
    max_connections: int | None = None


def load_token(env_name: str | None, file_path: str | None) -> str | None:
    """The bearer token from an environment variable or a file (None: no token)."""
    if env_name is not None and file_path is not None:
        raise ServeError("give --local-token-env or --local-token-file, not both", usage=True)
    if env_name is not None:
        token = os.environ.get(env_name, "").strip()
        if not token:
            raise ServeError(f"environment variable {env_name} is not set or empty", usage=True)
        source = f"environment variable {env_name}"
    elif file_path is not None:
        try:
            token = Path(file_path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            detail = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise ServeError(f"cannot read the token file {file_path}: {detail}") from None
        if not token:
            raise ServeError(f"the token file {file_path} is empty", usage=True)
        source = f"the token file {file_path}"
    else:
        return None
    if not _TOKEN.fullmatch(token):
        raise ServeError(f"the token in {source} must be printable ASCII without spaces")
    return token


def parse_bind(bind: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPV6]:PORT`` as (host, port)."""
    host, colon, port_text = bind.rpartition(":")
    if not colon or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise ServeError(f"--bind must be HOST:PORT (e.g. 127.0.0.1:0), got {bind!r}", usage=True)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port_text)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def default_workspace_root(store: str | None) -> Path:
    """Where Workers' tool workspaces live by default for ``store`` (yoi-base's rule; a
    ``memory`` Runtime's are in the data dir)."""
    return paths.default_workspace_root(None if store == MEMORY_STORE else store)


def runtime_config(
    config_file: str | None, default_profile: str | None, allow_tools: tuple[str, ...]
) -> RuntimeConfig:
    """The Runtime configuration: the file's (or the built-in one), then the flags over it."""
    try:
        config = load_config(config_file) if config_file is not None else RuntimeConfig()
        if default_profile is not None:
            config = attrs.evolve(config, default_profile=default_profile)
        if allow_tools:
            allowed = tuple(dict.fromkeys((*config.allow_tools, *allow_tools)))
            config = attrs.evolve(config, allow_tools=allowed)
    except ConfigError as exc:
        raise ServeError(str(exc), usage=True) from None
    return config


def open_runtime_for_store(
    store: str | None,
    *,
    runtime_id: str | None = None,
    display_name: str | None = None,
    **options: Unpack[RuntimeOptions],
) -> Runtime:
    """``memory``: an in-process Runtime; anything else: a persistent one on that store URL.
    A configuration the engines or tools refuse is a ServeError (a usage error)."""
    try:
        if store == MEMORY_STORE:
            return Runtime.open(runtime_id=runtime_id, display_name=display_name, **options)
        return open_persistent_runtime(
            store, runtime_id=runtime_id, display_name=display_name, **options
        )
    except ConfigError as exc:
        raise ServeError(str(exc), usage=True) from None


def _tcp_socket(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise ServeError(f"cannot resolve {host}: {exc.strerror}") from None
    # proto comes from getaddrinfo (IPPROTO_TCP): asyncio sets TCP_NODELAY on accepted
    # connections only then; with proto 0, Nagle's algorithm adds ~40 ms per kept-alive request.
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def _unix_socket(path: str) -> socket.socket:
    target = Path(path)
    try:
        mode = target.lstat().st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None:
        if not stat.S_ISSOCK(mode):
            raise ServeError(f"{path} exists and is not a socket")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(path)
            except OSError:
                target.unlink()  # a socket nobody listens on: left by a killed server
            else:
                raise ServeError(f"another server is listening on {path}")
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)  # only the owner may connect
    try:
        sock.bind(path)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {path}: {exc.strerror or exc}") from None
    finally:
        os.umask(old_umask)
    return sock


def _tcp_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", ""):  # noqa: S104 - mapping a wildcard bind to a reachable URL
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def unix_socket_url(path: str) -> str:
    """The ``http+unix://`` URL of a Unix socket, as the client accepts it."""
    return "http+unix://" + quote(str(Path(path).absolute()), safe="")


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class _Server(uvicorn.Server):
    """uvicorn's server, announcing readiness and ending with exit code 0 on SIGTERM/SIGINT
    (uvicorn itself re-raises the signal after shutting down)."""

    def __init__(self, config: uvicorn.Config, *, on_ready: Any, state: ServerState) -> None:
        super().__init__(config)
        self._on_ready = on_ready
        self._state = state

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and not self.should_exit:
            self._on_ready()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._state.begin_shutdown()
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True  # a second Ctrl-C stops waiting for in-flight requests
        else:
            self.should_exit = True


def _app_options(
    config: ServeConfig, token: str | None, host_port: tuple[str, int] | None
) -> AppOptions:
    for flag, value in (
        ("--max-transcript-projection-items", config.limits.max_transcript_projection_items),
        ("--max-event-batch-items", config.limits.max_event_batch_items),
        ("--max-worker-list-items", config.limits.max_worker_list_items),
    ):
        if value > MAX_PAGE_ITEMS:
            raise ServeError(f"{flag} must be at most {MAX_PAGE_ITEMS}, got {value}", usage=True)
    try:
        return AppOptions(
            token=token,
            max_body_bytes=config.max_body_bytes,
            max_event_wait=config.max_event_wait,
            stream_heartbeat=config.stream_heartbeat,
            stream_buffer=config.stream_buffer,
            allowed_hosts=(
                LOOPBACK_NAMES | {host_port[0]}
                if host_port is not None and _is_loopback(host_port[0])
                else None
            ),
        )
    except ValueError as exc:
        raise ServeError(str(exc), usage=True) from None


def _connection_guard(config: ServeConfig) -> ConnectionGuard:
    if config.keep_alive_timeout < 1:
        raise ServeError("--keep-alive-timeout must be at least 1 second", usage=True)
    try:
        return ConnectionGuard(
            header_timeout=config.header_timeout, max_connections=config.max_connections
        )
    except ValueError as exc:
        raise ServeError(str(exc), usage=True) from None


def serve(
    config: ServeConfig, *, stdout: IO[str] | None = None, stderr: IO[str] | None = None
) -> int:
    """Run the server until SIGTERM/SIGINT; return the exit code (0 after a graceful stop).

    Raises ServeError for a configuration that cannot work and the Runtime's typed errors when
    its store cannot be opened.
    """
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    if config.log_level not in LOG_LEVELS or config.log_format not in LOG_FORMATS:
        raise ServeError(
            f"the log level is one of {', '.join(LOG_LEVELS)} and the log format one of "
            f"{', '.join(LOG_FORMATS)}",
            usage=True,
        )
    configure_logging(
        err, level=config.log_level, log_format=config.log_format, access_log=config.access_log
    )
    token = load_token(config.local_token_env, config.local_token_file)
    bind = config.bind
    if bind is None and config.unix_socket is None:
        bind = DEFAULT_BIND
    host_port = parse_bind(bind) if bind is not None else None
    options = _app_options(config, token, host_port)
    guard = _connection_guard(config)
    state = ServerState("starting", connections=guard)

    def watch(persistence: RuntimePersistence) -> RuntimePersistence:
        state.store = WatchedPersistence(persistence)
        return state.store

    sockets: list[socket.socket] = []
    urls: list[str] = []
    runtime: Runtime | None = None
    ready_path = Path(config.ready_file) if config.ready_file is not None else None
    #: Why the hosting lease was lost, once it is (the process then exits EXIT_LEASE_LOST).
    lease_lost: list[str] = []
    server: _Server | None = None
    try:
        # Bound first: the Runtime records the URL it advertises, by default its own.
        if host_port is not None:
            sockets.append(_tcp_socket(*host_port))
            urls.append(_tcp_url(sockets[-1]))
            if not _is_loopback(host_port[0]) and token is None:
                logger.warning(
                    "listening on %s without a bearer token; anyone who can reach it can "
                    "drive this Runtime",
                    host_port[0],
                )
        if config.unix_socket is not None:
            sockets.append(_unix_socket(config.unix_socket))
            urls.append(unix_socket_url(config.unix_socket))
        store_options: dict[str, Any] = {}
        if config.store != MEMORY_STORE:
            store_options = {
                "advertise_url": config.advertise_url or urls[0],
                "wait_for_lease": config.wait_for_lease,
            }
        runtime = open_runtime_for_store(
            config.store,
            runtime_id=config.runtime_id,
            display_name=config.display_name,
            limits=config.limits,
            config=runtime_config(config.config_file, config.default_profile, config.allow_tools),
            workspace_root=(
                Path(config.workspace_root)
                if config.workspace_root
                else default_workspace_root(config.store)
            ),
            wrap_persistence=watch,
            adoption=AdoptionPolicy(rate=config.adopt_rate) if config.adopt else None,
            **store_options,
        )

        runtime_id = runtime.runtime_id

        def on_lease_lost(reason: str) -> None:
            # Fenced: another Runtime may host these Workers now. Every request but the
            # probes answers 503 lease_lost from here on; stop, and exit non-zero so that a
            # supervisor starts the Runtime again with a fresh lease.
            lease_lost.append(reason)
            logger.error(
                "runtime %s lost its hosting lease (%s); shutting down (exit code %d) so that "
                "it can be started again with a fresh lease",
                runtime_id,
                reason,
                EXIT_LEASE_LOST,
            )
            state.begin_shutdown()
            if server is not None:
                server.should_exit = True

        runtime.on_lease_lost(on_lease_lost)
        ready: dict[str, Any] = {
            "event": "ready",
            "url": urls[0],
            "urls": urls,
            "runtime_id": runtime.runtime_id,
            "pid": os.getpid(),
            "auth": "bearer" if token is not None else "none",
        }
        if config.unix_socket is not None:
            ready["unix_socket"] = str(Path(config.unix_socket).absolute())
        ready_line = json.dumps(ready, separators=(",", ":"))

        def announce() -> None:
            state.serving()
            if ready_path is not None:
                _write_atomically(ready_path, ready_line + "\n")
            print(ready_line, file=out, flush=True)
            logger.info(
                "yoi Runtime %s (%s) serving on %s; token %s; SIGTERM or Ctrl-C stops it",
                runtime.runtime_id,
                runtime.backend,
                ", ".join(urls),
                "required" if token else "not required",
            )

        server = _Server(
            uvicorn.Config(
                create_app(runtime, options, state=state),
                http=guard.protocol_class(config.http),
                backlog=guard.accept_burst,
                lifespan="off",
                access_log=False,  # the app writes its own, with request ids
                log_config=None,
                server_header=False,
                timeout_keep_alive=config.keep_alive_timeout,
                timeout_graceful_shutdown=int(config.graceful_timeout),
                loop=config.loop,
            ),
            on_ready=announce,
            state=state,
        )
        if lease_lost:
            server.should_exit = True
        server.run(sockets=sockets)
    finally:
        for sock in sockets:
            sock.close()
        if runtime is not None:
            runtime.close()  # releases the store: the Runtime's Pods probe stopped from here on
        if config.unix_socket is not None:
            with contextlib.suppress(FileNotFoundError):
                Path(config.unix_socket).unlink()
        if ready_path is not None:
            with contextlib.suppress(FileNotFoundError):
                ready_path.unlink()
    if lease_lost:
        return EXIT_LEASE_LOST
    return 0 if server.started else 1


__all__ = [
    "DEFAULT_BIND",
    "EXIT_LEASE_LOST",
    "MEMORY_STORE",
    "ServeConfig",
    "ServeError",
    "load_token",
    "open_runtime_for_store",
    "parse_bind",
    "serve",
    "unix_socket_url",
]
