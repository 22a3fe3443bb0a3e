"""Render the promtool unit tests (Jinja templates in rules/tests/) next to the rules."""

from __future__ import annotations

from pathlib import Path

from jobwatch.render.config import Config
from jobwatch.render.context import context, environment, render
from jobwatch.render.paths import repo_root
from jobwatch.render.rules import FILENAMES, write_rules

RULE_TESTS_DIR = repo_root() / "rules" / "tests"


def rule_test_templates() -> list[str]:
    return sorted(p.name for p in RULE_TESTS_DIR.glob("*.test.yaml.j2"))


def render_rule_tests(cfg: Config, out_dir: Path, names: list[str] | None = None) -> list[Path]:
    """Write the rules file and the rendered unit tests into out_dir; return the test files."""
    write_rules(out_dir, cfg, formats=("prometheus",))
    env = environment(RULE_TESTS_DIR)
    ctx = {**context(cfg), "rule_file": FILENAMES["prometheus"]}
    written = []
    for name in names or rule_test_templates():
        path = out_dir / name.removesuffix(".j2")
        path.write_text(render(env, name, ctx), encoding="utf-8")
        written.append(path)
    return written
