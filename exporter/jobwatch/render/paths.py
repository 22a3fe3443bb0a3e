"""Where the templates and the default config live: in the wheel or in a checkout."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from jobwatch.render.errors import RenderError

# In a wheel, hatch force-includes rules/ and alertmanager/ templates under jobwatch/_data/.
_PACKAGED = "_data"


def data_root() -> Path:
    """Directory holding `rules/config.yaml`, `rules/templates/` and `alertmanager/templates/`."""
    packaged = Path(str(files("jobwatch"))) / _PACKAGED
    if (packaged / "rules" / "config.yaml").is_file():
        return packaged
    checkout = Path(__file__).resolve().parents[3]
    if (checkout / "rules" / "config.yaml").is_file():
        return checkout
    raise RenderError(f"rule templates not found in {packaged} nor in {checkout}")


def default_config_path() -> Path:
    return data_root() / "rules" / "config.yaml"


def repo_root() -> Path:
    """The checkout (for `make generate` and the freshness test); never used from a wheel."""
    return Path(__file__).resolve().parents[3]
