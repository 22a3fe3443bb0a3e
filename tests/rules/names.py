"""Find metric names and label names that metrics.py does not declare, in any PromQL text."""

from __future__ import annotations

import re
from collections.abc import Iterable

from jobwatch import metrics

# Labels Prometheus adds to every scraped series, plus what a config may add.
SCRAPE_LABELS = frozenset({"job", "instance"})

_NAME = re.compile(r"\bjobwatch_[a-z0-9_]+\b")
_SELECTOR = re.compile(r"\b(jobwatch_[a-z0-9_]+)\s*\{([^}]*)\}")
_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
# Labels a query creates itself: label_replace(v, "dst", "$1", "src", "re"), count_values("dst", v).
_CREATED = re.compile(
    r'"([a-zA-Z_][a-zA-Z0-9_]*)",\s*"[^"]*",\s*"[a-zA-Z0-9_]*",\s*"[^"]*"\s*\)'
    r'|count_values\s*(?:by\s*\([^)]*\)\s*)?\(\s*"([a-zA-Z_][a-zA-Z0-9_]*)"'
)
_GROUPING = re.compile(r"\b(?:by|on|without|ignoring|group_left|group_right)\s*\(([^)]*)\)")

EXPOSED: dict[str, metrics.Metric] = {
    name: m for m in metrics.ALL for name in metrics.exposed_names(m)
}


def undeclared(text: str, extra_labels: Iterable[str] = ()) -> list[str]:
    """Problems in `text`: unknown jobwatch_* names, and labels no used metric declares."""
    allowed_extra = SCRAPE_LABELS | set(extra_labels)
    problems = [f"unknown metric {n}" for n in sorted(set(_NAME.findall(text)) - set(EXPOSED))]
    for name, body in _SELECTOR.findall(text):
        metric = EXPOSED.get(name)
        if metric is None:
            continue
        for label in _MATCHER.findall(body):
            if label not in metric.labels and label not in allowed_extra:
                problems.append(f"{name} has no label {label!r}")
    used = [EXPOSED[n] for n in set(_NAME.findall(text)) if n in EXPOSED]
    if used:
        created = {label for pair in _CREATED.findall(text) for label in pair if label}
        known = allowed_extra.union(created, *(m.labels for m in used))
        for group in _GROUPING.findall(text):
            for label in filter(None, (part.strip() for part in group.split(","))):
                if label not in known:
                    problems.append(
                        f"grouping label {label!r} is declared by none of {sorted(m.name for m in used)}"
                    )
    return problems
