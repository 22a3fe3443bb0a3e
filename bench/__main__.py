"""`python -m bench`: filled in by the exporter work."""
