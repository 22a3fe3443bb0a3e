"""Label and field selectors, parsed the way the Kubernetes API server parses them.

`parse_label_selector("app in (a,b),!legacy,tier")` and `parse_field_selector("metadata.name=x")`
return a `Selector`: a callable `(obj: dict) -> bool`. Malformed input raises `SelectorError`
(the server turns it into a 400 `BadRequest` Status, like the real API server).

Label grammar (k8s.io/apimachinery/pkg/labels): comma-separated requirements, each one of
`key`, `!key`, `key=value`, `key==value`, `key!=value`, `key in (v1,v2)`, `key notin (v1,v2)`.
`!=` and `notin` also match objects that do not have the key at all.

Field selectors support `=`, `==` and `!=` on `metadata.name` and `metadata.namespace` for every
kind, plus the few extra fields the real server indexes for pods and jobs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Selector = Callable[[Mapping[str, Any]], bool]

_REQUIREMENT = re.compile(
    r"""^\s*(?:
        (?P<notkey>!\s*[^\s!=,()]+)\s*$ |
        (?P<setkey>[^\s!=,()]+)\s+(?P<setop>in|notin)\s*\((?P<values>[^()]*)\)\s*$ |
        (?P<eqkey>[^\s!=,()]+)\s*(?P<eqop>==|=|!=)\s*(?P<eqval>[^\s!=,()]*)\s*$ |
        (?P<exkey>[^\s!=,()]+)\s*$
    )""",
    re.VERBOSE,
)

# Fields the real API server accepts in fieldSelector, per resource plural.
SUPPORTED_FIELDS: dict[str, frozenset[str]] = {
    "pods": frozenset(
        {
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        }
    ),
    "jobs": frozenset({"status.successful"}),
    "cronjobs": frozenset(),
}


class SelectorError(ValueError):
    """The selector string cannot be parsed or names an unsupported field."""


def _split_requirements(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise SelectorError(f"unbalanced parenthesis in selector {text!r}")
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if depth != 0:
        raise SelectorError(f"unbalanced parenthesis in selector {text!r}")
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    meta = obj.get("metadata") or {}
    labels: Mapping[str, str] = meta.get("labels") or {}
    return labels


def _label_requirement(text: str) -> Selector:
    m = _REQUIREMENT.match(text)
    if m is None:
        raise SelectorError(f"unable to parse requirement: {text.strip()!r}")
    if m.group("notkey"):
        key = m.group("notkey")[1:].strip()
        return lambda o: key not in _labels(o)
    if m.group("setkey"):
        key = m.group("setkey")
        values = frozenset(v.strip() for v in m.group("values").split(",") if v.strip())
        if m.group("setop") == "in":
            if not values:
                raise SelectorError(f"for 'in' operator, values set can't be empty: {text!r}")
            return lambda o: _labels(o).get(key) in values
        return lambda o: _labels(o).get(key) not in values
    if m.group("eqkey"):
        key, value = m.group("eqkey"), m.group("eqval")
        if m.group("eqop") == "!=":
            return lambda o: _labels(o).get(key) != value
        return lambda o: key in _labels(o) and _labels(o)[key] == value
    key = m.group("exkey")
    return lambda o: key in _labels(o)


def _all(requirements: list[Selector]) -> Selector:
    return lambda o: all(r(o) for r in requirements)


def parse_label_selector(text: str | None) -> Selector:
    """Parse a `labelSelector` query value. Empty or None matches everything."""
    if not text or not text.strip():
        return lambda _o: True
    return _all([_label_requirement(p) for p in _split_requirements(text)])


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    node: Any = obj
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


def _field_requirement(path: str, value: str, *, negate: bool) -> Selector:
    return lambda o: (_field_value(o, path) == value) != negate


def parse_field_selector(text: str | None, plural: str = "") -> Selector:
    """Parse a `fieldSelector` query value for resource `plural`."""
    if not text or not text.strip():
        return lambda _o: True
    allowed = {"metadata.name", "metadata.namespace"} | SUPPORTED_FIELDS.get(plural, frozenset())
    requirements: list[Selector] = []
    for part in text.split(","):
        m = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*$", part)
        if m is None:
            raise SelectorError(f"invalid field selector: {part!r}")
        path, op, value = m.groups()
        if path not in allowed:
            raise SelectorError(f'field label not supported: "{path}"')
        requirements.append(_field_requirement(path, value, negate=op == "!="))
    return _all(requirements)
