"""PromQL that the alert rules and the dashboard share: one definition each.

`sel` is a label-matcher list (the rules' selector, or the dashboard's with its variables), `on`
the labels that identify a Job (`namespace, job_name`, the cluster label first when configured),
`by` what the result keeps (the rules also keep `cronjob`). Names come from jobwatch.metrics and
label values from jobwatch.vocabulary, as everywhere else.
"""

from __future__ import annotations

from collections.abc import Iterable

from jobwatch.metrics import BY_KEY
from jobwatch.vocabulary import CANNOT_START_CAUSES, State


def _name(key: str) -> str:
    return BY_KEY[key].name


def _alternation(values: Iterable[object]) -> str:
    return "|".join(sorted(str(v) for v in values))


def cannot_start(sel: str, on: str) -> str:
    """Jobs whose last container exit says it cannot start (command not found, not
    executable, StartError): the root cause that JobCannotStart pages for, once."""
    causes = _alternation(CANNOT_START_CAUSES)
    return f'max by ({on}) ({_name("job_last_exit_code")}{{{sel},cause=~"{causes}"}})'


def last_attempt(sel: str, on: str, by: str | None = None) -> str:
    """Running Jobs that have failed before and whose next counted failure fails them."""
    by = by or on
    remaining, used = _name("job_attempts_remaining"), _name("job_attempts_used")
    return (
        f"max by ({by}) ({remaining}{{{sel}}}) == 0"
        f" and on ({on}) max by ({on}) ({used}{{{sel}}}) > 0"
        f' and on ({on}) max by ({on}) ({_name("job_state")}{{{sel},state="{State.RUNNING}"}})'
    )


def in_trouble(sel: str, on: str) -> str:
    """Jobs in trouble, by state and reason: failed, stalled (or blocked by a stall reason),
    on their last attempt, or unable to start their container. The status page's order."""
    state, stalled = _name("job_state"), _name("job_stalled_since_timestamp_seconds")
    states = _alternation([State.FAILED, State.STALLED])
    return (
        f"max by ({on}, cronjob, state, reason) ("
        f'{state}{{{sel},state=~"{states}"}}'
        f" or ({state}{{{sel}}} and on ({on}) {stalled}{{{sel}}})"
        f" or ({state}{{{sel}}} and on ({on}) ({last_attempt(sel, on)}))"
        f" or ({state}{{{sel}}} and on ({on}) {cannot_start(sel, on)})"
        ")"
    )
