"""Package entry point: `python -m jobwatch`."""

import sys

from jobwatch.cli import main

sys.exit(main())
