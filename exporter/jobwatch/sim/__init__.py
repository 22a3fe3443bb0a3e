"""jobwatch.sim."""
