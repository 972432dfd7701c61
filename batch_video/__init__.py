"""batch-video: feed-driven product video generation (domain library, no Dagster)."""

__version__ = "0.1.0"
