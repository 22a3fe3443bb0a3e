"""Regenerate every committed artefact for the default config (`make generate`).

The freshness test renders the same mapping and diffs it byte for byte against the checkout.
"""

from __future__ import annotations

import sys

from jobwatch.render import alertmanager, dashboard, helmchart, metrics_doc, rules, runbooks
from jobwatch.render.config import Config, load_config
from jobwatch.render.errors import RenderError
from jobwatch.render.paths import repo_root


def artefacts(cfg: Config) -> dict[str, str]:
    """Repository-relative path → content of every generated file."""
    out = {
        f"rules/generated/{rules.FILENAMES[f]}": rules.render_text(cfg, f) for f in rules.FORMATS
    }
    out.update({f"rules/runbooks/{name}.md": text for name, text in runbooks.runbooks(cfg).items()})
    out["dashboards/jobwatch.json"] = dashboard.render_json(cfg)
    # The chart's rule pack and dashboard as Helm templates, and its alerts' values and schema.
    root = repo_root()
    out.update(helmchart.artefacts(cfg, lambda rel: (root / rel).read_text(encoding="utf-8")))
    out.update(
        {f"alertmanager/generated/{n}": t for n, t in alertmanager.render_files(cfg).items()}
    )
    out["docs/metrics.md"] = metrics_doc.render()
    return out


def main() -> int:
    root = repo_root()
    try:
        files = artefacts(load_config())
    except RenderError as exc:
        print(f"jobwatch generate: {exc}", file=sys.stderr)
        return 2
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
