"""jobwatch's testbed: everything that proves the exporter, none of what it ships.

The embedded API-server subset and its scenarios (`sim`), `jobwatch demo` (`demo`, `stack`),
Prometheus/Alertmanager supervision (`monitoring`) and the promtool wrapper (`promtool`). It is a
separate distribution (kube-jobwatch-testbed) in the same repository: the dev venv has it, the
wheel and the image do not. It may import `jobwatch`; `jobwatch` never imports it.
"""
