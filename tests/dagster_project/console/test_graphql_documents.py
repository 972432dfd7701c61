"""Every query and mutation the console sends is valid against the installed Dagster webserver's schema."""

from __future__ import annotations

import pytest
from dagster_graphql.schema import create_schema
from graphql import parse, validate

from batch_video.stages import STAGES
from dagster_project.console import client

DOCUMENTS = {
    name: value for name, value in vars(client).items()
    if name.isupper() and isinstance(value, str) and value.lstrip().startswith(("query", "mutation"))
}


def test_the_console_has_its_documents():
    assert {"LAUNCH_BACKFILL", "REEXECUTE_BACKFILL", "CANCEL_BACKFILL"} <= set(DOCUMENTS)


@pytest.fixture(scope="module")
def schema():
    return create_schema().graphql_schema


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_the_document_is_valid_against_the_webserver_schema(schema, name):
    assert validate(schema, parse(DOCUMENTS[name])) == []


# Documents the console builds for the assets it asks about.
BUILT = {
    "asset_grid_query": client.asset_grid_query(STAGES),
    "latest_metadata_query": client.latest_metadata_query(STAGES),
}


@pytest.mark.parametrize("name", sorted(BUILT))
def test_a_built_document_is_valid_against_the_webserver_schema(schema, name):
    assert validate(schema, parse(BUILT[name])) == []
