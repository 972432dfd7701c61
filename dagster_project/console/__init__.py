"""The operator console: the `batch-video` command (feed, render, batch) and the GraphQL client it drives Dagster with.

The code location never imports this package.
"""
