from jobwatch import __version__
from jobwatch.cli import main


def test_version_is_reported(capsys: object) -> None:
    assert __version__ != "0.0.0+unknown"
    assert main([]) == 0
