"""Render the runbooks (rules/runbooks/templates/*.md.j2 → rules/runbooks/*.md).

They are templates so that exit codes, causes, stall reasons and metric names come from
jobwatch.vocabulary and jobwatch.metrics, like the rules that link to them.
"""

from __future__ import annotations

from jobwatch.render.config import Config
from jobwatch.render.context import context, environment, render
from jobwatch.render.paths import data_root


def runbooks(cfg: Config) -> dict[str, str]:
    """Alert name → runbook Markdown (from the wheel's copy of the templates when installed)."""
    templates = data_root() / "rules" / "runbooks" / "templates"
    env = environment(templates)
    ctx = context(cfg)
    out = {}
    for path in sorted(templates.glob("*.md.j2")):
        name = path.name.removesuffix(".md.j2")
        header = (
            f"<!-- Generated from rules/runbooks/templates/{path.name} by `make generate`; "
            "edit the template. -->\n"
        )
        out[name] = header + render(env, path.name, ctx)
    return out
