"""The Dagster fixtures of tests/dagster_project (a tiny feed, the instance-context guard) for the hostile tests."""

from tests.dagster_project.conftest import no_leaked_instance_context, tiny_feed  # noqa: F401
