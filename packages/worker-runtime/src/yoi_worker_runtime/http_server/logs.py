"""The server's logs: one stream (stderr), one line per record, as text or as JSON.

``serve`` configures the root logger once, so the server's, uvicorn's, the engines' and the
tools' records all come out the same way. The access log (one line per answered request, with
its request id) is its own logger, :data:`ACCESS_LOGGER`, switched on by ``--access-log``
whatever the level. A record's ``fields`` (given as ``extra={"fields": {...}}``) become JSON
keys, or ``key=value`` pairs after a text line's message.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import IO, Any, Literal, TypeAlias

#: The access log: one INFO record per answered request.
ACCESS_LOGGER = "yoi_worker_runtime.http_server.access"
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
LogFormat: TypeAlias = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
#: uvicorn announces its start at INFO in words of its own (the server prints its ready line):
#: below ``debug``, only its warnings and errors are kept.
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error")


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "fields", None)
    return fields if isinstance(fields, dict) else {}


def _time(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    """``<time> <LEVEL> <logger>: <message> key=value ...``; control characters escaped."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [_time(record), record.levelname, f"{record.name}:", record.getMessage()]
        parts += [f"{key}={_text(value)}" for key, value in _fields(record).items()]
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the record's fields, and the
    traceback (``exception``) if any."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=True, separators=(",", ":"), default=str)


def _text(value: object) -> str:
    """A field value on a text line: printable, with no spaces to split on."""
    text = str(value)
    if text and text.isprintable() and " " not in text:
        return text
    return json.dumps(text)


def configure_logging(
    stream: IO[str], *, level: str = "info", log_format: LogFormat = "text", access_log: bool
) -> None:
    """Send every record at ``level`` or above, and the access log when asked, to ``stream``."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    numeric = logging.getLevelName(level.upper())
    root.setLevel(numeric)
    for name in _UVICORN_LOGGERS:
        logging.getLogger(name).setLevel(
            numeric if numeric == logging.DEBUG else max(numeric, logging.WARNING)
        )
    access = logging.getLogger(ACCESS_LOGGER)
    access.setLevel(logging.INFO if access_log else logging.CRITICAL + 1)
