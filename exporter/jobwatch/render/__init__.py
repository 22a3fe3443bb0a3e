"""Rendering of the rule pack, the Grafana dashboard and the Alertmanager example.

Everything renders from one config (`rules/config.yaml`, deep-merged with the user's file) and
from `jobwatch.metrics` / `jobwatch.vocabulary`, so no metric name or label value is typed twice.
"""

from jobwatch.render.config import ConfigError, RenderError, load_config

__all__ = ["ConfigError", "RenderError", "load_config"]
