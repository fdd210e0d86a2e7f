"""The ``postgresql://`` store URL: libpq's own URL plus a few options of the yoi backends.

``postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE?OPTIONS`` (``postgres://`` is the same). The
options below are taken out of the query; every other query parameter (``sslmode``,
``connect_timeout``, ``application_name``, ...) goes to libpq unchanged.

=================  ==========  ==================================================================
option             default     meaning
=================  ==========  ==================================================================
``schema``         ``public``  the schema holding yoi's tables (created if missing)
``lease_ttl``      ``15``      seconds a hosting lease stays fresh without a heartbeat
``pool_size``      ``10``      most connections the store's pool opens
``lock_timeout``   ``30``      seconds to wait for a Pod's lock before :class:`PodLockTimeout`
=================  ==========  ==================================================================
"""

from __future__ import annotations

import re
import urllib.parse

import attrs

from yoi_store_postgres.errors import InvalidPostgresUrl

SCHEMES = ("postgresql", "postgres")
DEFAULT_SCHEMA = "public"
DEFAULT_LEASE_TTL = 15.0
MIN_LEASE_TTL = 0.5
MAX_LEASE_TTL = 3600.0
DEFAULT_POOL_SIZE = 10
DEFAULT_LOCK_TIMEOUT = 30.0
#: Seconds libpq may take to connect, unless the URL sets ``connect_timeout`` itself.
DEFAULT_CONNECT_TIMEOUT = 5

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_OWN_OPTIONS = ("schema", "lease_ttl", "pool_size", "lock_timeout")


@attrs.frozen
class PostgresConfig:
    """A parsed store URL."""

    #: The URL as given (it may hold a password: print :attr:`display_url` instead).
    url: str = attrs.field(repr=False)
    #: What libpq gets: the URL without the options of this table.
    conninfo: str = attrs.field(repr=False)
    #: The URL with its password masked, safe to print and to store in records.
    display_url: str
    schema: str = DEFAULT_SCHEMA
    lease_ttl: float = DEFAULT_LEASE_TTL
    pool_size: int = DEFAULT_POOL_SIZE
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT

    @property
    def lease_margin(self) -> float:
        """Extra time past expiry before a lease reads as stopped (see the README)."""
        return self.lease_ttl / 5

    @property
    def heartbeat_interval(self) -> float:
        """How often a lease is renewed: a quarter of its TTL, so three beats may go missing."""
        return self.lease_ttl / 4


def _number(name: str, text: str, low: float, high: float, url: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise InvalidPostgresUrl(
            f"store URL option {name}={text!r} must be a number from {low:g} to {high:g} "
            f"(in {mask_password(url)})"
        )
    return value


def mask_password(url: str) -> str:
    """``url`` with the password (in the authority or a ``password=`` option) replaced."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        netloc = f"{userinfo}@{hostport}"
    query = "&".join(
        f"{key}=***" if key == "password" else f"{key}={urllib.parse.quote(value, safe='/:,')}"
        for key, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    )
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def parse_url(url: str) -> PostgresConfig:
    """Parse and check a store URL; raise :class:`InvalidPostgresUrl`. Connects to nothing."""
    if not isinstance(url, str):
        raise InvalidPostgresUrl(f"store URL must be a string, not {type(url).__name__}")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in SCHEMES or not url.startswith(f"{parts.scheme}://"):
        raise InvalidPostgresUrl(
            f"not a PostgreSQL store URL: {mask_password(url)!r} "
            "(expected postgresql://user@host:port/database)"
        )
    if parts.fragment:
        raise InvalidPostgresUrl(f"store URL {mask_password(url)!r} must not have a fragment")
    try:
        pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        pairs = [] if not parts.query else [("", "")]
    if any(not key for key, _ in pairs):
        raise InvalidPostgresUrl(f"store URL {mask_password(url)!r} has a malformed query")
    own: dict[str, str] = {}
    passed: list[tuple[str, str]] = []
    for key, value in pairs:
        if key in _OWN_OPTIONS:
            if key in own:
                raise InvalidPostgresUrl(f"store URL option {key} is given twice")
            own[key] = value
        else:
            passed.append((key, value))
    schema = own.get("schema", DEFAULT_SCHEMA)
    if not _SCHEMA_NAME.fullmatch(schema):
        raise InvalidPostgresUrl(
            f"store URL option schema={schema!r} must be 1 to 63 lowercase letters, digits or "
            "'_', not starting with a digit"
        )
    lease_ttl = _number("lease_ttl", own.get("lease_ttl", "15"), MIN_LEASE_TTL, MAX_LEASE_TTL, url)
    pool_size = _number("pool_size", own.get("pool_size", "10"), 2, 1000, url)
    if pool_size != int(pool_size):
        raise InvalidPostgresUrl(f"store URL option pool_size={pool_size:g} must be an integer")
    lock_timeout = _number("lock_timeout", own.get("lock_timeout", "30"), 0.001, 86400, url)
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    if not any(key == "connect_timeout" for key, _ in passed):
        passed.append(("connect_timeout", str(DEFAULT_CONNECT_TIMEOUT)))
    else:
        given = dict(passed)["connect_timeout"]
        connect_timeout = _number("connect_timeout", given, 0, 86400, url) or 3600
    conninfo = urllib.parse.urlunsplit(
        (parts.scheme, parts.netloc, parts.path, urllib.parse.urlencode(passed), "")
    )
    _check_libpq(conninfo, url)
    return PostgresConfig(
        url=url,
        conninfo=conninfo,
        display_url=mask_password(url),
        schema=schema,
        lease_ttl=lease_ttl,
        pool_size=int(pool_size),
        lock_timeout=lock_timeout,
        connect_timeout=connect_timeout,
    )


def _check_libpq(conninfo: str, url: str) -> None:
    import psycopg.conninfo

    try:
        psycopg.conninfo.conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidPostgresUrl(
            f"store URL {mask_password(url)!r} is not a valid libpq URL: {detail}"
        ) from None
