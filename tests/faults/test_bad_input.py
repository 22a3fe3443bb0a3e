"""Every bad input the CLI can be given is one line on stderr and exit code 2, never a traceback
(issue 11 §7). In process, through `jobwatch.cli.main`, so each case costs milliseconds."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from jobwatch import diagnose
from jobwatch.cli import main

NO_SERVER = """apiVersion: v1
kind: Config
current-context: x
contexts: [{name: x, context: {cluster: x, user: x}}]
clusters: [{name: x, cluster: {%s}}]
users: [{name: x, user: {token: t}}]
"""


def _job(**spec: object) -> dict[str, object]:
    return {
        "kind": "Job",
        "apiVersion": "batch/v1",
        "metadata": {"name": "j", "namespace": "ns", "uid": "u1"},
        "spec": {"backoffLimit": 1, **spec},
        "status": {"startTime": "2026-01-01T00:00:00Z", "active": 1},
    }


def _one_line_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], needle: str) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err
    assert "Traceback" not in err


DIAGNOSE_INPUTS = {
    "deeply-nested": ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    "5000-digit-integer": ('{"kind": "Job", "x": ' + "9" * 5000 + "}", "4300 digits"),
    "not-utf8": (b"\xff\xfe{}".decode("latin-1"), "not UTF-8"),
}


@pytest.mark.parametrize("case", sorted(DIAGNOSE_INPUTS))
def test_diagnose_bad_documents(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, needle = DIAGNOSE_INPUTS[case]
    path = tmp_path / "dump.json"
    path.write_bytes(text.encode("latin-1" if case == "not-utf8" else "utf-8"))
    _one_line_exit_2(capsys, ["diagnose", "-f", str(path)], needle)


def test_diagnose_reads_a_bounded_amount(monkeypatch: pytest.MonkeyPatch) -> None:
    """`-f /dev/zero` stops at the bound instead of reading until MemoryError."""
    endless = io.BytesIO(b"\0" * 2048)
    with pytest.raises(diagnose.InputError, match="input larger than"):
        diagnose.read_bounded(endless, limit=1024)
    assert endless.tell() == 1025


def test_diagnose_dev_zero_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(diagnose, "MAX_INPUT_BYTES", 1 << 20)
    real = diagnose.read_bounded
    monkeypatch.setattr(diagnose, "read_bounded", lambda s: real(s, 1 << 20))
    _one_line_exit_2(capsys, ["diagnose", "-f", "/dev/zero"], "input larger than 1 MiB")


@pytest.mark.parametrize("deadline", [10**12, 2**62], ids=["10^12", "2^62"])
@pytest.mark.parametrize("output", ["table", "json"])
def test_diagnose_huge_deadlines(
    deadline: int, output: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "job.json"
    path.write_text(json.dumps(_job(activeDeadlineSeconds=deadline)))
    assert main(["diagnose", "-o", output, "-f", str(path)]) == 0
    out, err = capsys.readouterr()
    assert diagnose.LATEST_SHOWN in out
    assert "Traceback" not in err


def test_diagnose_table_with_a_lone_surrogate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    job = _job()
    job["metadata"] = {"name": "a\ud800b", "namespace": "ns", "uid": "u"}
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))  # ensure_ascii: the file holds the escape \ud800
    strict = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    monkeypatch.setattr(sys, "stdout", strict)
    assert main(["diagnose", "-f", str(path)]) == 0
    strict.flush()
    assert "ns/a?b: RUNNING" in strict.buffer.getvalue().decode()


SERVE_ARGS = {
    "port-99999": (["--web.listen-address", ":99999"], "port must be 0 to 65535"),
    "port-not-a-number": (["--web.listen-address", "host:http"], "not HOST:PORT"),
    "path-relative": (["--web.telemetry-path", "metrics"], "absolute URL path"),
    "path-healthz": (["--web.telemetry-path", "/healthz"], "already served"),
    "path-root": (["--web.telemetry-path", "/"], "already served"),
    "resync-nan": (["--resync.period", "nan"], "--resync.period: must be between"),
    "resync-negative": (["--resync.period", "-5"], "must be between"),
    "resync-absurd": (["--resync.period", "1e300"], "must be between"),
    "livez-inf": (["--livez.max-silence", "inf"], "must be between"),
    "idle-word": (["--watch.idle-timeout", "soon"], "must be a number of seconds"),
    "relist-nan": (["--relist.period", "nan"], "--relist.period: must be between"),
    "namespaces-commas": (["--namespaces", ",,,"], "names no namespace"),
    "namespaces-invalid": (["--namespaces", "Batch_Jobs"], "not a namespace name"),
    "web-config-missing": (["--web.config.file", "/nonexistent.yml"], "no such file"),
}


@pytest.mark.parametrize("case", sorted(SERVE_ARGS))
def test_serve_bad_flags(case: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv, needle = SERVE_ARGS[case]
    _one_line_exit_2(capsys, ["serve", *argv], needle)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        pytest.param(b"\x7fELF\x02\x01\x01\x00\xd0\xff" * 30, "not a text file", id="binary"),
        pytest.param((NO_SERVER % "").encode(), "has no server URL", id="cluster-empty"),
        pytest.param(
            (NO_SERVER % "insecure-skip-tls-verify: true").encode(),
            "has no server URL",
            id="cluster-without-server",
        ),
        pytest.param(b"[" * 5000, "kubeconfig", id="deeply-nested-yaml"),
    ],
)
def test_serve_bad_kubeconfig(
    content: bytes, needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "kubeconfig"
    path.write_bytes(content)
    argv = ["serve", "--kubeconfig", str(path), "--web.listen-address", "127.0.0.1:0"]
    _one_line_exit_2(capsys, argv, needle)
