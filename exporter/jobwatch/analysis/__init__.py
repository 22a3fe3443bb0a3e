"""jobwatch.analysis."""
