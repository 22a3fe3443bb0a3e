"""jobwatch.render."""
