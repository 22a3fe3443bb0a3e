"""Structured logs on stderr: logfmt for people, JSON (`--log.format=json`) for log pipelines.

Extra context goes in `extra={"fields": {...}}` and becomes key=value pairs (or JSON keys), so
log lines stay greppable and never embed free text in the message where a field would do.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

_RESERVED = ("time", "level", "logger", "msg")


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    base: dict[str, Any] = {
        "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": record.getMessage(),
    }
    extra = getattr(record, "fields", None)
    if isinstance(extra, dict):
        base.update({k: v for k, v in extra.items() if k not in _RESERVED})
    if record.exc_info and record.exc_info[1] is not None:
        base["error"] = f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
    return base


def _logfmt_value(value: Any) -> str:
    text = str(value)
    if text and not any(c in text for c in ' ="\n\\'):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{k}={_logfmt_value(v)}" for k, v in _fields(record).items())


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_fields(record), default=str, separators=(",", ":"))


def configure(level: str = "info", fmt: str = "logfmt") -> None:
    """Route the `jobwatch` loggers to stderr in the chosen format (idempotent)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else LogfmtFormatter())
    logger = logging.getLogger("jobwatch")
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False


class RateLimited:
    """At most one line per `key` per `window` seconds; the next line says how many were held back.

    A watch that fails nine times a second must not write nine log lines a second (issue 11):
    the first failure is logged at once, repeats within the window only counted.
    """

    def __init__(self, logger: logging.Logger, window: float, clock: Any = None) -> None:
        import time

        self._logger, self.window = logger, window
        self._clock = clock or time.monotonic
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def log(self, level: int, key: str, msg: str, *args: Any, window: float | None = None) -> bool:
        """Log unless `key` was logged within the window; True when a line was written."""
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < (self.window if window is None else window):
            self._held[key] = self._held.get(key, 0) + 1
            return False
        if len(self._last) > 1024:  # keys are bounded by the caller; this is a backstop
            self._last.clear()
        self._last[key] = now
        held = self._held.pop(key, 0)
        extra = {"fields": {"suppressed": held}} if held else None
        self._logger.log(level, msg, *args, extra=extra)
        return True
