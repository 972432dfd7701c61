"""Shared fixtures and the suite's own rules.

Every test gets its own data folder and no leaked BATCH_VIDEO_* settings.
A skip is never silent: the run ends with one line saying what was skipped and
why, and with `--no-skips` (what `make test` passes) a skip fails instead,
unless its reason starts with `optional:` (the README lists what is optional).
The run also prints its wall time.
"""

from __future__ import annotations

import collections
import os
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
OPTIONAL_PREFIX = "optional:"
_started = time.monotonic()


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith("BATCH_VIDEO_") and name != "BATCH_VIDEO_TEST_PG_DSN":
            monkeypatch.delenv(name)
    monkeypatch.setenv("BATCH_VIDEO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BATCH_VIDEO_OUTPUT_DIR", str(tmp_path / "output"))
    yield


def pytest_addoption(parser):
    parser.addoption(
        "--no-skips",
        action="store_true",
        help="fail a skipped test instead of skipping it, unless its reason starts with 'optional:' (make test)",
    )


def skip_reason(report) -> str:
    """The reason pytest recorded for a skipped test or module."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = str(longrepr[2])
    else:
        reason = str(longrepr)
    return reason.removeprefix("Skipped: ").strip()


def _refuse_skip(config, report) -> None:
    if not config.getoption("no_skips") or not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = skip_reason(report)
    if reason.startswith(OPTIONAL_PREFIX):
        return
    report.outcome = "failed"
    report.longrepr = (
        f"skipped, but `--no-skips` (make test) allows only skips whose reason starts with {OPTIONAL_PREFIX!r}: "
        f"{reason}\nInstall what is missing (make test-deps) or start the service the test needs."
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _refuse_skip(item.config, outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _refuse_skip(collector.config, outcome.get_result())


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if not hasattr(r, "wasxfail")]
    reasons = collections.Counter(skip_reason(r) for r in skipped)
    if reasons:
        listed = "; ".join(f"{count} x {reason}" for reason, count in reasons.most_common())
        terminalreporter.write_line(f"[suite] skipped {len(skipped)}: {listed}")
    else:
        terminalreporter.write_line("[suite] skipped 0")
    counts = {name: len(terminalreporter.stats.get(name, [])) for name in ("passed", "failed", "error")}
    seconds = time.monotonic() - _started
    terminalreporter.write_line(
        f"[suite] wall time {seconds:.0f} s ({seconds / 60:.1f} min): "
        f"{counts['passed']} passed, {counts['failed']} failed, {counts['error']} errors, {len(skipped)} skipped"
    )


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
