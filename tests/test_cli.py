"""The `jobwatch` command: its own commands, the testbed's through entry points, lean `serve`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from jobwatch import __version__
from jobwatch.cli import build_parser, main


def test_version_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    assert __version__ != "0.0.0+unknown"
    assert main([]) == 0
    assert "serve" in capsys.readouterr().out


def test_the_command_list_has_the_exporter_and_the_testbed_commands(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    listed = capsys.readouterr().out
    for command in ("serve", "diagnose", "render", "demo", "sim"):
        assert f"    {command} " in listed


def test_a_builtin_command_builds_only_its_own_parser() -> None:
    (action,) = [a for a in build_parser(["render", "rules"])._actions if a.choices]
    assert isinstance(action.choices, dict)
    assert set(action.choices) == {"render"}


def _loaded_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint('\\n'.join(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return set(out.split())


@pytest.mark.parametrize(
    "code",
    [
        "import jobwatch.serve, jobwatch.state, jobwatch.server, jobwatch.cluster",
        "from jobwatch.cli import main\ntry:\n    main(['serve', '--help'])\n"
        "except SystemExit:\n    pass",
    ],
    ids=["serve import path", "jobwatch serve --help"],
)
def test_serve_imports_nothing_of_the_testbed_nor_rich_nor_jinja2(code: str) -> None:
    loaded = _loaded_after(code)
    assert "jobwatch.serve" in loaded
    unwanted = {m for m in loaded if m.split(".")[0] in ("jobwatch_testbed", "rich", "jinja2")}
    assert unwanted == set()
