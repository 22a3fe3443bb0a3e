"""Symbolic knobs: render the rule and dashboard templates with Helm expressions for config values.

`jobwatch.render.helmchart` turns the rule pack into Helm templates from the same Jinja2 templates
and builders that `jobwatch render` uses. It renders them with a config whose values are `Knob`s:
strings holding an opaque token that stands for a Helm expression (a chart value). After the
rendering, `Session.substitute` escapes every literal `{{ }}` (Prometheus's and Grafana's) so that
Helm prints it unchanged, and replaces each token with the Helm action it stands for.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from enum import Enum

from jobwatch.render.errors import RenderError

_OPEN, _CLOSE = "\ue000", "\ue001"  # Unicode private use: never in a template or a knob
_TOKEN = re.compile(f"{_OPEN}(\\d+){_CLOSE}")
_BRACES = re.compile(r"\{\{|\}\}")


class Where(Enum):
    """Where a token sits, which decides how the Helm action's output is escaped."""

    TEXT = "text"  # a YAML block scalar: printed as is
    JSON_STRING = "json-string"  # inside a JSON string literal: JSON-escaped, no quotes


# A fragment builds Helm text from two helpers: `lit(text)` escapes literal text for its place,
# `val(expr)` prints a Helm expression there.
Fragment = Callable[[Callable[[str], str], Callable[[str], str]], str]


class Knob(str):
    """A config value that stands for the Helm expression `expr` (it renders as a token).

    A template that branches on a knob (`<% if knob %>`) cannot be followed by Helm, so asking
    a knob for its truth is an error, unless it was made `branchable` (the generator then renders
    both branches itself, as for the cluster label).
    """

    expr: str
    session: Session
    branchable: bool

    def __new__(cls, token: str, expr: str, session: Session, branchable: bool = False) -> Knob:
        knob = super().__new__(cls, token)
        knob.expr, knob.session, knob.branchable = expr, session, branchable
        return knob

    def __bool__(self) -> bool:
        if not self.branchable:
            raise RenderError(
                f"a template branches on the chart value {self.expr}; the Helm chart cannot "
                "follow (render it with a Helm condition in jobwatch.render.helmchart)"
            )
        return True


def _escape_braces(text: str) -> str:
    """Literal `{{` and `}}` as Helm actions that print them."""
    return _BRACES.sub(lambda m: '{{ "' + m.group(0) + '" }}', text)


def _json_inner(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)[1:-1]


class Session:
    """The tokens handed out while rendering one set of templates, and their Helm meaning."""

    def __init__(self) -> None:
        self._parts: list[Fragment] = []
        self._exprs: dict[int, str] = {}

    def _token(self, fragment: Fragment) -> str:
        self._parts.append(fragment)
        return f"{_OPEN}{len(self._parts) - 1}{_CLOSE}"

    def knob(self, expr: str, *, branchable: bool = False) -> Knob:
        """A value printed from the Helm expression `expr`."""
        token = self._token(lambda _lit, val: val(expr))
        self._exprs[len(self._parts) - 1] = expr
        return Knob(token, expr, self, branchable)

    def fragment(self, fragment: Fragment) -> str:
        """Helm text (conditionals and values) built by `fragment` for the place it lands in."""
        return self._token(fragment)

    def expr_of(self, value: object) -> str | None:
        """The Helm expression of a value that is exactly one knob's token, else None."""
        match = _TOKEN.fullmatch(value) if isinstance(value, str) else None
        return self._exprs.get(int(match.group(1))) if match else None

    def substitute(self, text: str, where: Where) -> str:
        """Escape literal `{{`/`}}` for Helm, then put each token's Helm action in its place."""

        def lit(s: str) -> str:
            return _escape_braces(_json_inner(s) if where is Where.JSON_STRING else s)

        def val(expr: str) -> str:
            if where is Where.JSON_STRING:
                return f'{{{{ {expr} | toString | toJson | trimPrefix "\\"" | trimSuffix "\\"" }}}}'
            return f"{{{{ {expr} }}}}"

        out: list[str] = []
        pos = 0
        for match in _TOKEN.finditer(text):
            before = _escape_braces(text[pos : match.start()])
            if before.endswith("{"):  # `{{{` would open the action one brace early
                before = before[:-1] + '{{ "{" }}'
            out.append(before)
            out.append(self._parts[int(match.group(1))](lit, val))
            pos = match.end()
        out.append(_escape_braces(text[pos:]))
        return "".join(out)

    @staticmethod
    def has_tokens(text: str) -> bool:
        return _TOKEN.search(text) is not None
