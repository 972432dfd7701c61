"""The project's scripts (demo, benchmarks, sample data) and the local Dagster they and the tests start."""
