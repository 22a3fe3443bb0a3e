"""Flags, environment variables and log formats of `jobwatch serve`."""

from __future__ import annotations

import argparse
import json
import logging

import pytest

from jobwatch import logs
from jobwatch.settings import (
    DEFAULTS,
    Settings,
    SettingsError,
    add_arguments,
    env_name,
    from_args,
    split_listen_address,
)


def _parse(argv: list[str], environ: dict[str, str] | None = None) -> Settings:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return from_args(parser.parse_args(argv), environ or {})


def test_defaults_are_safe_and_documented() -> None:
    s = _parse([])
    assert s == Settings()
    assert s.listen_address == ":9816"
    assert s.namespaces == ()
    assert DEFAULTS["controller_uid_label"] == "batch.kubernetes.io/controller-uid"


def test_flag_beats_environment_beats_default() -> None:
    env = {"JOBWATCH_NAMESPACES": "b, a", "JOBWATCH_LOG_FORMAT": "json"}
    s = _parse(["--log.format", "logfmt"], env)
    assert s.namespaces == ("a", "b")
    assert s.log_format == "logfmt"


def test_env_names_follow_the_flag_names() -> None:
    assert env_name("web.listen-address") == "JOBWATCH_WEB_LISTEN_ADDRESS"


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--log.format", "xml"], {}, "--log.format: must be one of logfmt, json"),
        (
            [],
            {"JOBWATCH_WATCH_IDLE_TIMEOUT": "-1"},
            "JOBWATCH_WATCH_IDLE_TIMEOUT: must be between 0.1 and 3600 seconds",
        ),
        (["--resync.period", "soon"], {}, "--resync.period: must be a number of seconds"),
    ],
)
def test_bad_values_are_one_line_errors(argv: list[str], env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as error:
        _parse(argv, env)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("address", "expected"),
    [(":9816", ("0.0.0.0", 9816)), ("127.0.0.1:0", ("127.0.0.1", 0)), ("[::1]:80", ("::1", 80))],
)
def test_listen_address(address: str, expected: tuple[str, int]) -> None:
    assert split_listen_address(address) == expected


def test_listen_address_without_port_is_rejected() -> None:
    with pytest.raises(SettingsError, match="not HOST:PORT"):
        split_listen_address("localhost")


def _record(fields: dict[str, object]) -> logging.LogRecord:
    record = logging.LogRecord("jobwatch.x", logging.INFO, __file__, 1, "relisted", None, None)
    record.fields = fields
    return record


def test_logfmt_quotes_values_that_need_it() -> None:
    line = logs.LogfmtFormatter().format(_record({"resource": "pods", "why": 'a "b"'}))
    assert line.endswith('level=info logger=jobwatch.x msg=relisted resource=pods why="a \\"b\\""')


def test_json_logs_are_one_object_per_line() -> None:
    line = logs.JsonFormatter().format(_record({"resource": "jobs", "msg": "ignored"}))
    parsed = json.loads(line)
    assert parsed["msg"] == "relisted"
    assert parsed["resource"] == "jobs"
    assert parsed["level"] == "info"
