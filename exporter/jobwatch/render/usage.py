"""Which metric families the rendered rules and dashboard use (for the live-exporter e2e check)."""

from __future__ import annotations

import re

from jobwatch.metrics import ALL, Metric, exposed_names
from jobwatch.render.config import Config
from jobwatch.render.dashboard import panel_queries
from jobwatch.render.rules import alert_rules

_NAME = re.compile(r"\bjobwatch_[a-z0-9_]+\b")
_FAMILY = {name: m for m in ALL for name in exposed_names(m)}


def used_metrics(cfg: Config) -> dict[str, Metric]:
    """Exposed sample name → family, for every jobwatch_* name a rule or panel refers to.

    Names that metrics.py does not declare raise KeyError (tests/rules/test_names.py reports them
    with context); the e2e asserts that the live exporter emits each of these names.
    """
    texts = [r["expr"] + "\n".join(r["annotations"].values()) for r in alert_rules(cfg)]
    texts += [q.expr for q in panel_queries(cfg)]
    names = {n for text in texts for n in _NAME.findall(text)}
    return {name: _FAMILY[name] for name in sorted(names)}
