"""Shared fixtures: every test gets its own data folder and no leaked BATCH_VIDEO_* settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith("BATCH_VIDEO_") and name != "BATCH_VIDEO_TEST_PG_DSN":
            monkeypatch.delenv(name)
    monkeypatch.setenv("BATCH_VIDEO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BATCH_VIDEO_OUTPUT_DIR", str(tmp_path / "output"))
    yield


def service_url(variable: str, script: str) -> str:
    """A test service's address from the environment `make test` prepared; missing fails in CI, skips by hand."""
    value = os.environ.get(variable)
    if not value:
        if os.environ.get("CI"):
            pytest.fail(f"{variable} is not set in CI: run `eval \"$({script})\"` first (make test does)")
        pytest.skip(f"no {variable} (run `eval \"$({script})\"`, as make test does)")
    return value


@pytest.fixture(scope="session")
def s3_endpoint() -> str:
    return service_url("BATCH_VIDEO_TEST_S3_ENDPOINT", "scripts/start_test_s3.sh")


@pytest.fixture
def s3_bucket(s3_endpoint) -> str:
    """A fresh, empty bucket in the test S3 server; its URL is s3://<name>."""
    import uuid

    name = f"test-{uuid.uuid4().hex[:12]}"
    s3_client(s3_endpoint).create_bucket(Bucket=name)
    return name


def s3_client(endpoint: str):
    import boto3

    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
