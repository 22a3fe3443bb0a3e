"""Every kubectl command in every runbook is complete and parses with the real (pinned) kubectl,
run against the sim: in shell blocks and in inline code alike. An unknown flag, a missing
argument or a wrong sub-command is a kubectl usage error; NotFound and resources the sim does
not serve are not."""

from __future__ import annotations

import asyncio
import re
import shlex
from pathlib import Path

import pytest

from jobwatch.render.config import load_config
from jobwatch.render.runbooks import runbooks
from jobwatch_testbed.sim.server import SimServer
from tests.tools import kube_binaries

BOOKS = runbooks(load_config())
# The placeholders runbooks use, and what the test fills in.
VARIABLES = {
    "$(date +%s)": "1700000000",
    "$JOBWATCH_NAMESPACE": "monitoring",
    "$NAMESPACE": "batch",
    "$INIT_CONTAINER": "init",
    "$CONTAINER": "main",
    "$CRONJOB": "nightly",
    "$DEPLOY": "deployment/jobwatch",
    "$JOB": "import-1",
    "$POD": "import-1-abcde",
}
SEPARATORS = {"|", "||", "&", "&&", ";", ">", "(", ")"}
USAGE_ERROR = re.compile(
    r"See 'kubectl|unknown (?:flag|shorthand flag|command)|Usage:|required flag"
)


def _shell_lines(text: str) -> list[str]:
    blocks = re.findall(r"```shell\n(.*?)```", text, flags=re.DOTALL)
    inline = re.findall(r"`(kubectl [^`]+)`", re.sub(r"```.*?```", "", text, flags=re.DOTALL))
    return [line for block in blocks for line in block.splitlines() if line.strip()] + inline


def commands(text: str) -> list[list[str]]:
    """Each kubectl invocation in the runbook (pipes, `&&`, `$(...)` split), variables filled."""
    out = []
    for raw in _shell_lines(text):
        line = raw
        for name, value in VARIABLES.items():
            line = line.replace(name, value)
        lexer = shlex.shlex(line, posix=True, punctuation_chars="|&;()<>")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        segment: list[str] = []
        for token in [*lexer, ";"]:
            if token in SEPARATORS:
                if segment and segment[0] == "kubectl":
                    out.append(segment)
                segment = []
            else:
                segment.append(token.removeprefix("DEPLOY=$") if not segment else token)
                if segment == [""]:
                    segment = []
    return out


def test_the_commands_are_found() -> None:
    found = commands(BOOKS["JobwatchDown"])
    assert ["kubectl", "-n", "monitoring", "port-forward", "deployment/jobwatch", "9816:9816"] in (
        found
    )
    assert [
        "kubectl",
        "-n",
        "monitoring",
        "get",
        "deploy",
        "-l",
        "app.kubernetes.io/name=jobwatch",
        "-o",
        "name",
    ] in found


@pytest.mark.parametrize("alert", sorted(BOOKS))
def test_every_command_is_complete(alert: str) -> None:
    found = commands(BOOKS[alert])
    assert found, alert
    for words in found:
        scoped = {"-n", "--namespace", "-A", "--all-namespaces"} & set(words)
        cluster_wide = words[1:3] == ["auth", "can-i"]  # a ClusterRole's verbs: no namespace
        assert scoped or cluster_wide, (alert, shlex.join(words))
        assert not [w for w in words if "$" in w or "<" in w], (alert, shlex.join(words))


@pytest.mark.tool
@pytest.mark.timeout(240)
async def test_every_runbook_command_parses_with_real_kubectl(tmp_path: Path) -> None:
    kubectl = str(kube_binaries().kubectl)
    every = {shlex.join(words): words for book in BOOKS.values() for words in commands(book)}
    async with SimServer() as sim:
        config = sim.write_kubeconfig(tmp_path / "kubeconfig")

        async def run(words: list[str]) -> tuple[int, str]:
            proc = await asyncio.create_subprocess_exec(
                kubectl,
                f"--kubeconfig={config}",
                f"--cache-dir={tmp_path / 'cache'}",
                "--request-timeout=5s",
                *words[1:],
                cwd=tmp_path,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                out, err = await asyncio.wait_for(proc.communicate(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                return -1, "timed out (it parsed: it was waiting on the server)"
            return proc.returncode or 0, (out + err).decode()

        failures = []
        for text, words in every.items():
            code, output = await run(words)
            if USAGE_ERROR.search(output):
                failures.append(f"{text}\n  -> exit {code}: {output.strip()[:300]}")
    assert failures == []
    assert len(every) > 20


def test_names_and_ports_come_from_the_chart_defaults() -> None:
    """The runbooks find the exporter by the chart's name label and port-forward its port."""
    import yaml

    from jobwatch.render.context import CHART_NAME
    from jobwatch.render.paths import repo_root
    from jobwatch.settings import DEFAULT_PORT

    chart = repo_root() / "helm" / "jobwatch"
    assert yaml.safe_load((chart / "Chart.yaml").read_text())["name"] == CHART_NAME
    assert yaml.safe_load((chart / "values.yaml").read_text())["containerPort"] == DEFAULT_PORT
    down = BOOKS["JobwatchDown"]
    assert f"port-forward $DEPLOY {DEFAULT_PORT}:{DEFAULT_PORT}" in down
    assert f"-l app.kubernetes.io/name={CHART_NAME}" in down
    assert "8080" not in down
    assert "deploy/jobwatch" not in down + BOOKS["JobwatchWatchStale"]


def test_no_exit_code_block_where_no_container_ran() -> None:
    stalled = BOOKS["JobStalled"]
    assert "exitCode" not in stalled
    assert "--previous" not in stalled
    assert "get events --field-selector involvedObject.name=$POD" in stalled
