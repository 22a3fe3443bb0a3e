"""The one missing-tool helper: a missing tool fails under CI=true and skips elsewhere."""

from __future__ import annotations

import shutil

import pytest

from tests import tools


def test_present_tool_returns_its_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name, path=None: f"/usr/bin/{name}")
    assert tools.tool("promtool") == "/usr/bin/promtool"


def test_a_tool_next_to_the_interpreter_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name, path=None: path and f"{path}/{name}")
    assert tools.tool("hadolint").endswith("/hadolint")


def test_missing_tool_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name, path=None: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="amtool is not installed"):
        tools.tool("amtool")


def test_missing_tool_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name, path=None: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="amtool is not installed"):
        tools.tool("amtool")
