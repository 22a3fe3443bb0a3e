"""`jobwatch render rules|dashboard|alertmanager`: the rule pack's command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from jobwatch.render import alertmanager, dashboard, helmchart, rules
from jobwatch.render.config import Config, load_config
from jobwatch.render.errors import RenderError

EXIT_BAD_CONFIG = 2

_CONFIG_HELP = (
    "YAML file deep-merged over the defaults (rules/config.yaml); only the knobs it changes"
)


def register(subparsers: Any) -> None:
    """Add `render` and its sub-commands to the `jobwatch` parser."""
    render = subparsers.add_parser(
        "render",
        help="render the alert rules, Grafana dashboard or Alertmanager example",
        description="Render jobwatch's alert rules, Grafana dashboard or Alertmanager example "
        "from the default config, optionally overridden by --config.",
    )
    what = render.add_subparsers(dest="render_what", metavar="WHAT", required=True)

    p = what.add_parser(
        "rules",
        help="Prometheus rule file or PrometheusRule manifest",
        description="Render the alert rules. Without --output, print one format to stdout; "
        "with --output, write jobwatch.rules.yaml and/or jobwatch.prometheusrule.yaml there.",
    )
    p.add_argument("--config", type=Path, metavar="FILE", help=_CONFIG_HELP)
    p.add_argument(
        "--format",
        choices=rules.FORMATS,
        help="prometheus: a rule file for rule_files; prometheusrule: a monitoring.coreos.com/v1 "
        "PrometheusRule for the Prometheus Operator (default: prometheus on stdout, both with "
        "--output)",
    )
    p.add_argument("--output", type=Path, metavar="DIR", help="directory to write into")
    p.set_defaults(func=partial(run, _rules))

    p = what.add_parser(
        "dashboard",
        help="Grafana dashboard JSON",
        description="Render the Grafana dashboard (stable uid from the config, variables for "
        "data source, namespace, CronJob and, when cluster_label is set, cluster).",
    )
    p.add_argument("--config", type=Path, metavar="FILE", help=_CONFIG_HELP)
    p.add_argument("--output", type=Path, metavar="FILE", help="write here instead of stdout")
    p.set_defaults(func=partial(run, _dashboard))

    p = what.add_parser(
        "alertmanager",
        help="example Alertmanager config and Slack/email notification templates",
        description="Render the example Alertmanager configuration (routes by severity, groups "
        "by namespace, cronjob and alertname, inhibits a Job's warnings while a critical alert "
        "for it fires) and its notification templates. Without --output, print the config; "
        "with --output, write alertmanager.yml and jobwatch.tmpl (which the config loads).",
    )
    p.add_argument("--config", type=Path, metavar="FILE", help=_CONFIG_HELP)
    p.add_argument("--output", type=Path, metavar="DIR", help="directory to write both files into")
    p.add_argument(
        "--webhook-url", metavar="URL", help="override alertmanager.webhook_url from the config"
    )
    p.set_defaults(func=partial(run, _alertmanager))

    p = what.add_parser(
        "chart-values",
        help="the Helm chart values that set the same knobs as a --config file",
        description="Print the helm/jobwatch values that make the chart render the rules and "
        "dashboard `jobwatch render --config FILE` renders (the knobs that make sense per "
        "install; the chart ignores the others).",
    )
    p.add_argument("--config", type=Path, metavar="FILE", required=True, help=_CONFIG_HELP)
    p.set_defaults(func=partial(run, _chart_values))


def _load(args: argparse.Namespace) -> Config:
    return load_config(args.config)


def _rules(args: argparse.Namespace) -> int:
    cfg = _load(args)
    if args.output is None:
        sys.stdout.write(rules.render_text(cfg, args.format or "prometheus"))
        return 0
    formats = (args.format,) if args.format else rules.FORMATS
    for path in rules.write_rules(args.output, cfg, formats=formats):
        print(f"wrote {path}", file=sys.stderr)
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    text = dashboard.render_json(_load(args))
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _alertmanager(args: argparse.Namespace) -> int:
    cfg = _load(args)
    if args.output is None:
        sys.stdout.write(alertmanager.render_files(cfg, args.webhook_url)[alertmanager.CONFIG_FILE])
        return 0
    path = alertmanager.write_alertmanager(args.output, cfg, webhook_url=args.webhook_url)
    print(f"wrote {path} and {path.with_name(alertmanager.TEMPLATE_FILE)}", file=sys.stderr)
    return 0


def _chart_values(args: argparse.Namespace) -> int:
    load_config(args.config)  # the same validation as every other render
    overrides = yaml.safe_load(args.config.read_text(encoding="utf-8")) or {}
    sys.stdout.write(yaml.safe_dump(helmchart.chart_values(overrides), sort_keys=False))
    return 0


def run(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a parsed `jobwatch render ...`; any RenderError is one line on stderr, exit 2."""
    try:
        return handler(args)
    except RenderError as exc:
        print(f"jobwatch render: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    except OSError as exc:
        print(f"jobwatch render: {exc.filename or ''}: {exc.strerror}", file=sys.stderr)
        return EXIT_BAD_CONFIG
