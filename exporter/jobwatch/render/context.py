"""The Jinja2 environment and the context every template renders with.

Delimiters are `<< >>`, `<% %>` and `<# #>` so that Prometheus's and Alertmanager's `{{ }}` pass
through untouched. `StrictUndefined` turns a missing knob into a render error.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jinja2

from jobwatch import metrics, vocabulary
from jobwatch.render import promql
from jobwatch.render.config import Config, duration_seconds
from jobwatch.render.errors import ConfigError, RenderError
from jobwatch.render.symbolic import Knob
from jobwatch.settings import DEFAULT_PORT

# The Helm chart's name: its app.kubernetes.io/name label and the suffix of its resource names.
CHART_NAME = "jobwatch"


def alternation(values: Iterable[object]) -> str:
    """`a|b|c` from enum members or strings, sorted, for a PromQL `=~` matcher."""
    return "|".join(sorted(str(v) for v in values))


def environment(*search_path: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(p) for p in search_path]),
        block_start_string="<%",
        block_end_string="%>",
        variable_start_string="<<",
        variable_end_string=">>",
        comment_start_string="<#",
        comment_end_string="#>",
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["seconds"] = duration_seconds
    env.filters["alternation"] = alternation
    return env


def namespace_matchers(cfg: Config) -> str:
    """`,namespace=~"…",namespace!~"…"` for the configured namespaces ("" when they are all)."""
    include, exclude = cfg["namespaces"]["include"], cfg["namespaces"]["exclude"]
    if isinstance(include, Knob) and isinstance(exclude, Knob):
        # The Helm chart's version of the same choice, made when the chart is rendered.
        inc, exc = include.expr, exclude.expr
        return include.session.fragment(
            lambda lit, val: (
                "{{ with "
                + inc
                + ' }}{{ if ne . ".*" }}'
                + lit(',namespace=~"')
                + val(".")
                + lit('"')
                + "{{ end }}{{ end }}"
                + "{{ with "
                + exc
                + " }}"
                + lit(',namespace!~"')
                + val(".")
                + lit('"')
                + "{{ end }}"
            )
        )
    out = ""
    if include not in ("", ".*"):
        out += f',namespace=~"{include}"'
    if exclude:
        out += f',namespace!~"{exclude}"'
    return out


def context(cfg: Config) -> dict[str, Any]:
    """Everything a rule, test, dashboard or Alertmanager template may refer to."""
    cl = cfg["cluster_label"]

    def by(*labels: str) -> str:
        return ", ".join(((cl,) if cl else ()) + labels)

    selector = cfg["selector"]
    return {
        "cfg": cfg,
        "alerts": cfg["alerts"],
        "m": metrics.BY_KEY,
        "State": vocabulary.State,
        "Cause": vocabulary.Cause,
        "HiddenFailure": vocabulary.HiddenFailure,
        "StallReason": vocabulary.StallReason,
        "CANNOT_START_CAUSES": sorted(vocabulary.CANNOT_START_CAUSES),
        "CAUSE_MEANING": vocabulary.CAUSE_MEANING,
        "CAUSE_ADVICE": vocabulary.CAUSE_ADVICE,
        "STALL_ADVICE": vocabulary.STALL_ADVICE,
        "cl": cl,
        "by": by,
        "promql": promql,
        # What the Helm chart's defaults deploy (the runbooks' commands find the exporter by them).
        "chart_name": CHART_NAME,
        "exporter_selector": f"app.kubernetes.io/name={CHART_NAME}",
        "exporter_port": DEFAULT_PORT,
        # Exporter series (no namespace filter) and Job/CronJob series (namespace filter).
        "exporter_sel": selector,
        "sel": selector + namespace_matchers(cfg),
        # printf formats and arguments that pin a `query` to the alert's own Job or CronJob.
        "cl_match": f"{cl}=%q," if cl else "",
        "cl_arg": f"$labels.{cl} " if cl else "",
    }


def render(env: jinja2.Environment, name: str, ctx: dict[str, Any]) -> str:
    """Render one template; a missing knob or variable becomes a one-line ConfigError."""
    try:
        return env.get_template(name).render(ctx)
    except jinja2.UndefinedError as exc:
        raise ConfigError(f"template {name}: {exc.message}") from exc
    except jinja2.TemplateError as exc:
        raise RenderError(f"template {name}: {exc}") from exc
