"""Committed artefacts equal a fresh render of the default config, byte for byte."""

from __future__ import annotations

from jobwatch.render.config import load_config
from jobwatch.render.generate import artefacts
from jobwatch.render.paths import repo_root


def test_generated_files_are_fresh() -> None:
    root = repo_root()
    stale = [
        rel
        for rel, text in artefacts(load_config()).items()
        if not (root / rel).is_file() or (root / rel).read_text(encoding="utf-8") != text
    ]
    assert stale == [], f"stale generated files {stale}: run `make generate` and commit"


def test_no_leftover_generated_files() -> None:
    root = repo_root()
    expected = set(artefacts(load_config()))
    for pattern in ("rules/generated/*", "rules/runbooks/*.md", "alertmanager/generated/*"):
        for path in root.glob(pattern):
            assert str(path.relative_to(root)) in expected, f"{path} is no longer generated"
