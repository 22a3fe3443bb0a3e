"""jobwatch: see why Kubernetes Jobs fail, before and after they do."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kube-jobwatch")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0+unknown"
