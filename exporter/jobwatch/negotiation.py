"""Content negotiation for /metrics: which exposition format a scraper asked for."""

from __future__ import annotations

from collections.abc import Iterator

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
OPENMETRICS_VERSIONS = ("", "1.0.0", "0.0.1")


def _accepted(accept: str) -> Iterator[tuple[str, dict[str, str], float]]:
    for part in accept.split(","):
        media, *raw_params = (p.strip() for p in part.split(";"))
        params: dict[str, str] = {}
        for p in raw_params:
            key, _, value = p.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        try:
            q = float(params.get("q", "1"))
        except ValueError:
            q = 0.0
        yield media.lower(), params, q


def negotiate(accept_header: str | None) -> tuple[bool, str]:
    """(openmetrics, content type) for an Accept header: OpenMetrics 1.0.0 when the client
    prefers it at least as much as plain text, as Prometheus does when it asks for it."""
    om_q = 0.0
    text_q = 0.0
    for media, params, q in _accepted(accept_header or ""):
        if media == "application/openmetrics-text":
            if params.get("version", "") in OPENMETRICS_VERSIONS:
                om_q = max(om_q, q)
        elif media in ("text/plain", "text/*", "*/*"):
            text_q = max(text_q, q)
    if om_q > 0 and om_q >= text_q:
        return True, OPENMETRICS_CONTENT_TYPE
    return False, TEXT_CONTENT_TYPE
