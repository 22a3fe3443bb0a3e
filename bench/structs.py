"""The msgspec candidate for parsing: a pod watch line decoded straight into typed structs.

msgspec skips unknown fields without building them, so it decodes only what the analysis reads.
It raises `msgspec.ValidationError` on a mistyped field; to keep the never-raise guarantee a
caller would fall back to the tolerant dict path for that line (and count it). Only the bench
uses this module: it measures the candidate against `orjson.loads` + `jobwatch.model.parse_pod`.
"""

from __future__ import annotations

import msgspec


class Owner(msgspec.Struct):
    kind: str = ""
    uid: str = ""
    controller: bool = False


class Meta(msgspec.Struct):
    name: str = ""
    namespace: str = ""
    uid: str = ""
    resourceVersion: str = ""
    creationTimestamp: str | None = None
    deletionTimestamp: str | None = None
    deletionGracePeriodSeconds: int | None = None
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    finalizers: list[str] = []
    ownerReferences: list[Owner] = []


class SpecContainer(msgspec.Struct):
    name: str = ""
    restartPolicy: str | None = None


class PodSpec(msgspec.Struct):
    restartPolicy: str = ""
    containers: list[SpecContainer] = []
    initContainers: list[SpecContainer] = []


class Condition(msgspec.Struct):
    type: str = ""
    status: str = ""
    reason: str = ""
    message: str = ""
    lastTransitionTime: str | None = None


class Terminated(msgspec.Struct):
    exitCode: int = -1
    reason: str = ""
    message: str = ""
    startedAt: str | None = None
    finishedAt: str | None = None


class Waiting(msgspec.Struct):
    reason: str = ""
    message: str = ""


class Running(msgspec.Struct):
    startedAt: str | None = None


class State(msgspec.Struct):
    waiting: Waiting | None = None
    running: Running | None = None
    terminated: Terminated | None = None


class ContainerStatus(msgspec.Struct):
    name: str = ""
    restartCount: int = 0
    state: State = msgspec.field(default_factory=State)
    lastState: State = msgspec.field(default_factory=State)


class PodStatus(msgspec.Struct):
    phase: str = ""
    reason: str = ""
    conditions: list[Condition] = []
    containerStatuses: list[ContainerStatus] = []
    initContainerStatuses: list[ContainerStatus] = []


class Pod(msgspec.Struct):
    metadata: Meta = msgspec.field(default_factory=Meta)
    spec: PodSpec = msgspec.field(default_factory=PodSpec)
    status: PodStatus = msgspec.field(default_factory=PodStatus)


class PodEvent(msgspec.Struct):
    type: str = ""
    object: Pod = msgspec.field(default_factory=Pod)


DECODER = msgspec.json.Decoder(PodEvent)


def decode(line: bytes) -> PodEvent | None:
    """The typed event, or None when a field has the wrong type (the caller falls back)."""
    try:
        return DECODER.decode(line)
    except msgspec.ValidationError:
        return None
