"""jobwatch.cluster."""
