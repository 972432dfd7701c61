"""One set of rules for HTTP service failures (Storage uploads, PostgREST writes): retry, or whose fault."""

from __future__ import annotations

import httpx
import pytest
from storage3.exceptions import StorageApiError

from batch_video.errors import ConfigError, ProductDataError, TransientError
from batch_video.service_errors import call_with_retries, translate_service_error


def FakeStorageApiError(status, code, message):
    """What storage3 raises for an error response (statusCode, error, message)."""
    return StorageApiError(message, code, status)


def test_retries_transient_failures_with_exponential_backoff():
    calls, sleeps = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise FakeStorageApiError("503", "ServiceUnavailable", "try later")
        return "ok"

    assert call_with_retries(flaky, what="upload", stage="publish", product_id="P1", attempts=4, backoff_s=0.5, sleep=sleeps.append) == "ok"
    assert len(calls) == 3
    assert sleeps == [0.5, 1.0]


def test_gives_up_after_last_attempt_with_transient_error_naming_product():
    sleeps = []

    def down():
        raise httpx.ConnectError("connection refused")

    with pytest.raises(TransientError) as info:
        call_with_retries(down, what="uploading video", stage="publish", product_id="P9", attempts=3, backoff_s=0.1, sleep=sleeps.append)
    assert len(sleeps) == 2
    assert info.value.product_id == "P9" and "uploading video failed" in str(info.value)


def test_client_errors_are_not_retried():
    sleeps = []

    def too_big():
        raise FakeStorageApiError("413", "Payload too large", "The object exceeded the maximum allowed size")

    with pytest.raises(ProductDataError) as info:
        call_with_retries(too_big, what="uploading video", stage="publish", product_id="P2", field="video_path", sleep=sleeps.append)
    assert sleeps == []
    assert "product P2" in str(info.value) and "HTTP 413" in str(info.value) and "maximum allowed size" in str(info.value)


@pytest.mark.parametrize(
    "error, expected",
    [
        (FakeStorageApiError("401", "Unauthorized", "Invalid JWT"), ConfigError),
        (FakeStorageApiError("404", "Bucket not found", "Bucket not found"), ConfigError),
        (FakeStorageApiError(429, "TooManyRequests", "slow down"), TransientError),
        (FakeStorageApiError("409", "Duplicate", "The resource already exists"), ProductDataError),
        (httpx.ReadTimeout("timed out"), TransientError),
    ],
)
def test_error_mapping(error, expected):
    translated = translate_service_error(error, what="x", product_id="P", stage="records")
    assert type(translated) is expected and translated.stage == "records"


def test_unexpected_exceptions_are_neither_retried_nor_reworded():
    sleeps = []

    def bug():
        raise KeyError("Key")

    with pytest.raises(KeyError):
        call_with_retries(bug, what="upload", stage="publish", product_id="P", sleep=sleeps.append)
    assert sleeps == []
