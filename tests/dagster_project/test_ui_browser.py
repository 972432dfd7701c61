"""The Dagster UI in a real headless Chromium: rendered_video's partitions, thumbnail and failure reason.

A small instance holds one product whose video passed its checks and one whose
(truncated) video failed them. `dagster-webserver` serves it on loopback;
Chromium (Debian's, through Playwright) opens the asset's partitions. A
screenshot is saved to test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from dagster_project.assets import published_video, rendered_video
from dagster_project.console.client import DagsterClient
from dagster_project.resources import LocalPublishingResource, WorkspaceResource
from scripts.local_dagster import code_location_loaded, free_port
from tests.dagster_project.browser import ARTIFACTS, REPO, launch_chromium, needs_chromium
from tests.dagster_project.test_checks import SETTINGS, prepare_workspace

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(1800)]

GOOD, BAD = "cana-1", "cana-2"


@pytest.fixture
def instance_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / "deploy" / "local" / "dagster.yaml").read_text())
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    instance = dg.DagsterInstance.get()
    instance.add_dynamic_partitions("products", [GOOD, BAD])
    resources = {
        "workspace": WorkspaceResource(data_dir=str(tmp_path / "data")),
        "batch_settings": SETTINGS,
        "publishing": LocalPublishingResource(local_root=str(tmp_path / "output")),
    }
    for key, corruption in ((GOOD, None), (BAD, "truncated")):
        prepare_workspace(tmp_path / "data", corruption, key)
        result = dg.materialize([rendered_video, published_video], partition_key=key, resources=resources,
                                instance=instance, raise_on_error=False)
        assert result.success == (corruption is None)
    return home


@pytest.fixture
def webserver(instance_home, tmp_path):
    port = free_port()
    log = open(tmp_path / "webserver.log", "wb")
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-webserver")), "-w", str(REPO / "workspace.yaml"),
         "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO, env={**os.environ, "DAGSTER_HOME": str(instance_home)}, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    client = DagsterClient(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 900  # a ceiling, not a budget: a loaded machine starts it slowly
        while not (client.is_up() and code_location_loaded(client)):
            assert process.poll() is None, (tmp_path / "webserver.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "dagster-webserver did not come up"
            time.sleep(0.5)
        yield client
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


@needs_chromium
def test_rendered_video_partitions_show_status_thumbnail_and_failure(webserver):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)  # the UI's first render takes long on a loaded 2-core machine
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            # Generous ceilings, not budgets: on a loaded 2-core machine the UI's first queries can take many
            # seconds, and expect()'s own default (5 s) is separate from the page's.
            page.set_default_timeout(60_000)
            expect.set_options(timeout=60_000)
            page.goto(f"{webserver.url}/assets/rendered_video?view=partitions&partition={GOOD}")

            # Partition counts and both products in the list.
            expect(page.get_by_text("Failed (1)")).to_be_visible()
            expect(page.get_by_text("Materialized (1)")).to_be_visible()
            expect(page.get_by_text(BAD, exact=True).first).to_be_visible()

            # The good product: materialized, checks passed, and its poster thumbnail in the metadata.
            expect(page.get_by_text("all 7 video checks passed")).to_be_visible()
            page.get_by_text("[Show Markdown]").first.click()
            thumbnail = page.locator("img[src^='data:image/jpeg;base64,']").first
            expect(thumbnail).to_be_visible()
            assert thumbnail.evaluate("img => img.naturalWidth") > 0
            page.screenshot(path=str(ARTIFACTS / "rendered_video_thumbnail.png"))
            page.keyboard.press("Escape")

            # The broken product: failed, and why (product, stage, failed check) on the asset's own events.
            page.goto(f"{webserver.url}/assets/rendered_video?view=partitions&partition={BAD}")
            expect(page.get_by_text("did not materialize this asset")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "rendered_video_partitions.png"), full_page=True)
            page.goto(f"{webserver.url}/assets/rendered_video?view=events&partition={BAD}")
            reason = page.get_by_text("product CANA 2, field video: video checks failed: decodes_completely").first
            expect(reason).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "rendered_video_failure.png"), full_page=True)
        finally:
            browser.close()
    assert (ARTIFACTS / "rendered_video_partitions.png").stat().st_size > 10_000
