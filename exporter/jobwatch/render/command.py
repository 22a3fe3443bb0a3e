"""`jobwatch render rules|dashboard|alertmanager|runbooks|config`: the rule pack's command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from jobwatch.render import alertmanager, check, dashboard, helmchart, rules, runbooks
from jobwatch.render.config import Config, load_config
from jobwatch.render.errors import RenderError
from jobwatch.render.paths import default_config_path

EXIT_BAD_CONFIG = 2

_CONFIG_HELP = (
    "YAML file deep-merged over the defaults (rules/config.yaml); only the knobs it changes"
)


def _command(
    what: Any,
    name: str,
    handler: Callable[[argparse.Namespace], int],
    *,
    help: str,
    description: str,
    output: str,
    output_metavar: str = "DIR",
) -> argparse.ArgumentParser:
    """One `render` sub-command taking --config and --output."""
    p: argparse.ArgumentParser = what.add_parser(name, help=help, description=description)
    p.add_argument("--config", type=Path, metavar="FILE", help=_CONFIG_HELP)
    p.add_argument("--output", type=Path, metavar=output_metavar, help=output)
    p.set_defaults(func=partial(run, handler))
    return p


def register(subparsers: Any) -> None:
    """Add `render` and its sub-commands to the `jobwatch` parser."""
    render = subparsers.add_parser(
        "render",
        help="render the alert rules, dashboard, Alertmanager example, runbooks or config",
        description="Render jobwatch's alert rules, Grafana dashboard, Alertmanager example or "
        "runbooks from the default config, optionally overridden by --config; or print that "
        "default config (`render config`).",
    )
    what = render.add_subparsers(dest="render_what", metavar="WHAT", required=True)

    p = _command(
        what,
        "rules",
        _rules,
        help="Prometheus rule file or PrometheusRule manifest",
        description="Render the alert rules. Without --output, print one format to stdout; "
        "with --output, write jobwatch.rules.yaml and/or jobwatch.prometheusrule.yaml there.",
        output="directory to write into",
    )
    p.add_argument(
        "--format",
        choices=rules.FORMATS,
        help="prometheus: a rule file for rule_files; prometheusrule: a monitoring.coreos.com/v1 "
        "PrometheusRule for the Prometheus Operator (default: prometheus on stdout, both with "
        "--output)",
    )
    p.add_argument(
        "--no-check",
        action="store_true",
        help="do not run `promtool check rules` on the result (it runs when promtool is on PATH)",
    )

    _command(
        what,
        "dashboard",
        _dashboard,
        help="Grafana dashboard JSON",
        description="Render the Grafana dashboard (stable uid from the config, variables for "
        "data source, namespace, CronJob and, when cluster_label is set, cluster).",
        output="write here instead of stdout",
        output_metavar="FILE",
    )

    p = _command(
        what,
        "alertmanager",
        _alertmanager,
        help="example Alertmanager config and Slack/email notification templates",
        description="Render the example Alertmanager configuration (routes by severity, groups "
        "by namespace, cronjob and alertname, inhibits a Job's warnings while a critical alert "
        "for it fires) and its notification templates. Without --output, print the config; "
        "with --output, write alertmanager.yml and jobwatch.tmpl (which the config loads).",
        output="directory to write both files into",
    )
    p.add_argument(
        "--webhook-url", metavar="URL", help="override alertmanager.webhook_url from the config"
    )

    _command(
        what,
        "runbooks",
        _runbooks,
        help="the runbooks (Markdown) the alerts' runbook_url points to",
        description="Render one Markdown runbook per alert, with the exporter's names and "
        "ports and your config's selector, for hosting where runbook_url_pattern points "
        "(e.g. a docs site or a wiki). Without --output, list the files it would write.",
        output="directory to write <Alert>.md into",
    )

    p = what.add_parser(
        "config",
        help="print the default config, every knob with its comment",
        description="Print the default rule-pack config (rules/config.yaml) with its comments: "
        "copy the knobs you want to change into a file and pass it as --config.",
    )
    p.set_defaults(func=partial(run, _config))

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
    if not args.no_check and not check.check_groups(rules.groups(cfg)):
        print("note: promtool not found; the rules were not checked", file=sys.stderr)
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


def _runbooks(args: argparse.Namespace) -> int:
    books = runbooks.runbooks(_load(args))
    if args.output is None:
        for name in books:
            print(f"{name}.md")
        print("(pass --output DIR to write them)", file=sys.stderr)
        return 0
    args.output.mkdir(parents=True, exist_ok=True)
    for name, text in books.items():
        (args.output / f"{name}.md").write_text(text, encoding="utf-8")
    print(f"wrote {len(books)} runbooks into {args.output}", file=sys.stderr)
    return 0


def _config(_args: argparse.Namespace) -> int:
    sys.stdout.write(default_config_path().read_text(encoding="utf-8"))
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
