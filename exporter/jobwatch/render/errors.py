"""Errors a render reports as one line."""


class RenderError(Exception):
    """A template, config or output problem; the CLI prints it on one line and exits 2."""


class ConfigError(RenderError):
    """The configuration is malformed, has an unknown key, or lacks a knob."""
