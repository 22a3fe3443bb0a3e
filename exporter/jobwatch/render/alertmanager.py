"""Render the example Alertmanager configuration and its notification templates."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jobwatch.render.config import Config, load_config
from jobwatch.render.context import context, environment, render
from jobwatch.render.errors import RenderError
from jobwatch.render.paths import data_root

CONFIG_FILE = "alertmanager.yml"
TEMPLATE_FILE = "jobwatch.tmpl"


def render_files(cfg: Config, webhook_url: str | None = None) -> dict[str, str]:
    """File name → content: the Alertmanager config and the notification templates it loads."""
    if webhook_url is not None:
        cfg = {**cfg, "alertmanager": {**cfg["alertmanager"], "webhook_url": webhook_url}}
    env = environment(data_root() / "alertmanager" / "templates")
    ctx = context(cfg)
    return {
        CONFIG_FILE: render(env, f"{CONFIG_FILE}.j2", ctx),
        TEMPLATE_FILE: render(env, f"{TEMPLATE_FILE}.j2", ctx),
    }


def write_alertmanager(
    out_dir: Path | str,
    cfg: Config | None = None,
    webhook_url: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Path:
    """Write both files into out_dir (the e2e hook: pass its own webhook_url); return the config.

    The config names the template file relatively, and Alertmanager resolves it against the
    config's directory, so start Alertmanager with `--config.file=<out_dir>/alertmanager.yml`.
    """
    if cfg is None:
        cfg = load_config(overrides=overrides)
    elif overrides:
        raise RenderError("pass either cfg or overrides, not both")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in render_files(cfg, webhook_url).items():
        (out / name).write_text(text, encoding="utf-8")
    return out / CONFIG_FILE
