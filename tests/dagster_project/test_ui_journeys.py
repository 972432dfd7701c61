"""Browser journeys: what a person does in the Dagster UI to run batches, in a real headless Chromium.

One `dagster dev` (webserver + daemon) over a copy of the sample feed: 9 products,
`parf-trandafir-50`'s photo is missing. `preview` preset, espeak voice, one run
at a time. The journeys run in this order on that one instance, each starting
from the state the previous one left, as a person using it would:

1. Catalog -> select the product_video assets -> Materialize selected -> All ->
   Launch backfill: every product listed, 8 materialized, the broken one failed
   with its reason readable.
2. The photo is fixed; the grid shows the failed product; the failed stage and
   everything after it are materialized for the failed partitions only.
3. Batch settings as backfill tags (`batch_video/setting/preset=square`) for two
   products, the broken one (its photo gone again) among them: the good
   product's published video is 1080x1080.
4. The photo is fixed; Re-execute from failure on that backfill: only the broken
   product runs, from its failed stage, with the batch's settings.
5. Cancel backfill while a long full-size render runs: the running product
   stops, queued products never start, nothing is published.

Backend conditions (runs, backfills) are read over GraphQL and waited for by
polling with generous ceilings; the UI is then asserted at its steady state
with Playwright's own waits. No fixed sleeps. Screenshots: test-artifacts/ui-journeys/.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import dagster as dg
import pytest

from batch_video.catalog import load_catalog
from batch_video.links import NOT_ALLOWED
from batch_video.media import probe
from dagster_project.automation.feed_sync import sync_feed_partitions
from dagster_project.batch_status import FINISHED_BACKFILL, TERMINAL, RunInfo
from dagster_project.console.client import RUNS, DagsterClient, run_info_from_graphql
from dagster_project.run_tags import PARTITION_TAG, SETTING_TAG_PREFIX
from scripts.local_dagster import LocalDagster
from tests.dagster_project.browser import ARTIFACTS, REPO, launch_chromium, needs_chromium
from tests.dagster_project.test_batch_e2e import assert_no_process_works_in
from tests.dagster_project.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(1800), needs_chromium]

SHOTS = ARTIFACTS / "ui-journeys"
PRODUCTS = ["ceas_aut_40mm", "cn-350-salvie", "hp-anc-700", "lmp-birou-02", "parf-trandafir-50",
            "planta-ficus-45", "rucsac-piele-20l", "sku-1001-ro-alb", "ulei-evo-750"]
BROKEN = "parf-trandafir-50"  # its feed entry points at images/missing-photo.jpg
GOOD = [key for key in PRODUCTS if key != BROKEN]
SQUARE_PRODUCT = "cn-350-salvie"
STAGES = ["product_record", "product_image", "voiceover_script", "voiceover_audio", "rendered_video", "published_video"]
FAILED_STAGE = "product_image"

# Ceilings, not expected durations: a loaded 2-core machine renders a preview
# product in 3-30 s, and the backfill daemon adds up to 30 s per backfill.
UI_WAIT_MS = 180_000
BATCH_WAIT_S = 1200.0
RUN_WAIT_S = 600.0

BACKFILLS = "query { partitionBackfillsOrError(limit: 20) { __typename ... on PartitionBackfills { results { id } } } }"

class Instance:
    """The journeys' `dagster dev`: its GraphQL client and the feed folder whose photo the journeys break and fix."""

    def __init__(self, client: DagsterClient, root: Path, feed: Path) -> None:
        self.client = client
        self.url = client.url
        self.root = root
        self.feed = feed
        self.broken_photo = feed.parent / "images" / "missing-photo.jpg"
        self.settings_batch = ""  # the backfill the settings journey launched, re-executed by the next journey

    def fix_photo(self) -> None:
        shutil.copyfile(self.feed.parent / "images" / "cana-ceramica-salvie.jpg", self.broken_photo)

    def break_photo(self) -> None:
        self.broken_photo.unlink(missing_ok=True)

    def backfill_ids(self) -> set[str]:
        result = self.client.query(BACKFILLS)["partitionBackfillsOrError"]
        return {b["id"] for b in result["results"]}

    def new_backfill(self, known: set[str]) -> str:
        """The backfill the UI just launched (the one not in `known`)."""
        new = wait_until(lambda: self.backfill_ids() - known, what="the launched backfill", ceiling_s=300)
        assert len(new) == 1, new
        return new.pop()

    def finished_batch(self, backfill_id: str, timeout_s: float = BATCH_WAIT_S) -> dict[str, object]:
        """Wait until the backfill and all its runs have finished; its product rows by partition key."""
        backfill, rows = self.client.wait_for_backfill(backfill_id, poll_s=2.0, timeout_s=timeout_s)
        assert all(r.status in TERMINAL for r in rows) and backfill["status"] in FINISHED_BACKFILL, (backfill["status"], rows)
        return {row.partition_key: row for row in rows}

    def published(self) -> dict[str, int]:
        """Every published video and poster, with its modification time."""
        return {str(p): p.stat().st_mtime_ns for p in (self.root / "output" / "videos").glob("*") if p.is_file()}

    def step_keys(self, run_id: str) -> list[str]:
        """The stages a run started, in order (a run listed by tag carries no step stats of its own)."""
        return [step.step_key for step in self.client.step_stats([run_id]).get(run_id, ())]

    def runs_of(self, partition_key: str) -> list[RunInfo]:
        tags = [{"key": PARTITION_TAG, "value": partition_key}]
        result = self.client.query(RUNS, {"tags": tags, "cursor": None, "limit": 50})
        return [run_info_from_graphql(run) for run in result["runsOrError"]["results"]]


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    root = tmp_path_factory.mktemp("ui_journeys")
    shutil.copytree(REPO / "batch_video" / "sample", root / "feed", ignore=shutil.ignore_patterns("*.py", "*.csv"))
    feed = root / "feed" / "feed.xml"
    env = {
        "BATCH_VIDEO_DATA_DIR": str(root / "data"),
        "BATCH_VIDEO_OUTPUT_DIR": str(root / "output"),
        "BATCH_VIDEO_FEED_URL": str(feed),
        "BATCH_VIDEO_TTS_PROVIDER": "espeak",
        "BATCH_VIDEO_PRESET": "preview",
    }
    with LocalDagster(root / "dagster_home", env=env, startup_timeout_s=600) as client:
        # Not entered as a context: the instance is only needed to add the partitions.
        local = dg.DagsterInstance.from_config(str(root / "dagster_home"))
        try:
            sync_feed_partitions(local, load_catalog(str(feed)))
        finally:
            local.dispose()
        yield Instance(client, root, feed)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    expect.set_options(timeout=UI_WAIT_MS)
    with sync_playwright() as pw:
        chromium = launch_chromium(pw)
        try:
            yield chromium
        finally:
            chromium.close()
            expect.set_options(timeout=5_000)  # Playwright's default, for other modules


@pytest.fixture
def page(browser, instance, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=instance.url)
    page = context.new_page()
    page.set_default_timeout(UI_WAIT_MS)
    started, failed_before = time.monotonic(), request.session.testsfailed
    try:
        yield page
        if request.session.testsfailed > failed_before:  # the test's own report is in by teardown
            page.screenshot(path=str(SHOTS / f"FAILED-{request.node.name}.png"))
    finally:
        context.close()
        print(f"\n[ui journey] {request.node.name}: {time.monotonic() - started:.0f} s")


def shot(page, name: str) -> None:
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000, f"{path} looks empty"


# -- UI steps shared by the journeys ------------------------------------------------


def open_catalog(page, selection: str = "", listed: list[str] = STAGES) -> None:
    """Catalog; with `selection`, typed into its search box (Dagster's asset selection syntax) to list `listed`."""
    from playwright.sync_api import expect

    page.goto("/assets")
    expect(page.get_by_role("link", name="published_video")).to_be_visible()
    if selection:
        # A CodeMirror editor: its hidden textarea takes the keystrokes.
        page.get_by_role("textbox", name="Search and filter assets").focus()
        page.keyboard.type(selection)
        page.keyboard.press("Enter")
    for asset in STAGES:
        link = page.get_by_role("link", name=re.compile(rf"^{asset}(\s|$)"))
        expect(link).to_have_count(1 if asset in listed else 0)


def materialize_listed_assets(page, count: int):
    """Tick the table header (all listed assets), open Materialize selected; the launch dialog."""
    from playwright.sync_api import expect

    # Blueprint draws the checkbox over a hidden <input>: its label takes the click.
    page.get_by_role("checkbox").first.locator("xpath=..").click()
    materialize = page.get_by_role("button", name=f"Materialize selected ({count})")
    expect(materialize).to_be_enabled()
    materialize.click()
    dialog = page.get_by_role("dialog").filter(has_text=f"Launch runs to materialize {count} assets")
    expect(dialog).to_be_visible()
    return dialog


def choose_partitions(dialog, button: str, expected: str) -> None:
    """Click a partition-selection button until the dialog shows `expected` (e.g. "9 partitions selected").

    The dialog opens before the partitions' status has loaded, and a click before
    that selects nothing; so the click is repeated until the selection shows.
    """
    from playwright.sync_api import expect

    deadline = time.monotonic() + UI_WAIT_MS / 1000
    while True:
        dialog.get_by_role("button", name=button, exact=True).click()
        try:
            expect(dialog.get_by_text(expected, exact=True).first).to_be_visible(timeout=10_000)
            return
        except AssertionError:
            assert time.monotonic() < deadline, f"{button!r} never selected {expected!r}"


def choose_all_partitions(dialog) -> None:
    choose_partitions(dialog, "All", f"{len(PRODUCTS)} partitions selected")


def add_tags(page, dialog, tags: dict[str, str]) -> None:
    from playwright.sync_api import expect

    dialog.get_by_text("Tags", exact=True).click()
    dialog.get_by_role("button", name="Add tags").click()
    editor = page.get_by_role("dialog").filter(has_text="Add tags to run")
    for i, (key, value) in enumerate(tags.items()):
        if i:
            editor.get_by_role("button", name="Add custom tag").click()
        editor.get_by_role("textbox", name="Tag Key").nth(i).fill(key)
        editor.get_by_role("textbox", name="Tag Value").nth(i).fill(value)
    editor.get_by_role("button", name="Apply").click()
    expect(editor).to_be_hidden()
    for key, value in tags.items():
        expect(dialog.get_by_text(f"{key}: {value}")).to_be_visible()


def launch(dialog, button: str = "Launch backfill") -> None:
    from playwright.sync_api import expect

    dialog.get_by_role("button", name=button, exact=True).click()
    expect(dialog).to_be_hidden()


def open_backfill(page, backfill_id: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"/runs/b/{backfill_id}")
    expect(page.get_by_role("tab", name="Overview")).to_be_visible()
    expect(page.get_by_role("link", name="published_video")).to_be_visible()


def backfill_menu(page, item: str) -> None:
    page.get_by_role("button", name="expand_more", exact=True).first.click()  # the page header's menu
    page.get_by_role("menuitem", name=item).click()


def expect_backfill_status(page, status: str) -> None:
    from playwright.sync_api import expect

    expect(page.locator("body")).to_contain_text(re.compile(rf"Status\s*{status}"))


def expect_asset_counts(page, asset: str, targeted: int, in_progress: int, succeeded: int, failed: int) -> None:
    """One row of the backfill overview's table: targeted / in progress / succeeded / failed partitions."""
    from playwright.sync_api import expect

    expect(page.locator("body")).to_contain_text(
        re.compile(rf"{asset}\s*\d+% completed\s*{targeted}\s*{in_progress}\s*{succeeded}\s*{failed}"))


def run_links(page):
    """The rows of a runs table: one link per run, named after its short id."""
    return page.get_by_role("link", name=re.compile(r"^run [0-9a-f]{8}$"))


def open_grid(page, asset: str, partition: str = "") -> None:
    from playwright.sync_api import expect

    page.goto(f"/assets/{asset}?view=partitions" + (f"&partition={partition}" if partition else ""))
    expect(page.get_by_role("tab", name="Partitions", selected=True)).to_be_visible()


def expect_grid(page, **counts: int) -> None:
    """The partition grid's state filters, e.g. failed=1, materialized=8."""
    from playwright.sync_api import expect

    for state, count in counts.items():
        expect(page.get_by_text(f"{state.capitalize()} ({count})", exact=True)).to_be_visible()


def published_size(path: str) -> tuple[int, int]:
    video = next(s for s in probe(path)["streams"] if s["codec_type"] == "video")
    return video["width"], video["height"]


# -- the journeys ----------------------------------------------------------------------


def test_launch_every_product_from_the_catalog_and_see_which_failed_and_why(instance, page):
    from playwright.sync_api import expect

    known = instance.backfill_ids()
    open_catalog(page)
    dialog = materialize_listed_assets(page, len(STAGES))
    choose_all_partitions(dialog)
    shot(page, "01-launch-all-products")
    launch(dialog)
    backfill_id = instance.new_backfill(known)

    # The backfill page lists every product.
    open_backfill(page, backfill_id)
    page.get_by_role("button", name=f"{len(PRODUCTS)} partitions").click()
    listed = page.get_by_role("dialog").filter(has_text="Partition selection")
    for key in PRODUCTS:
        expect(listed.get_by_text(key, exact=True)).to_be_visible()
    shot(page, "02-backfill-lists-every-product")
    listed.get_by_role("button", name="Close").click()

    rows = instance.finished_batch(backfill_id)
    assert {k: r.status for k, r in rows.items()} == {**{k: "succeeded" for k in GOOD}, BROKEN: "failed"}, rows
    assert rows[BROKEN].stage == FAILED_STAGE and "image_link" in rows[BROKEN].error, rows[BROKEN]

    page.reload()
    expect_backfill_status(page, "Failed")
    expect_asset_counts(page, "product_record", len(PRODUCTS), 0, len(PRODUCTS), 0)
    for asset in STAGES[1:]:
        expect_asset_counts(page, asset, len(PRODUCTS), 0, len(GOOD), 1)
    page.get_by_role("tab", name="Runs").click()
    for key in PRODUCTS:
        expect(page.get_by_text(f"partition: {key}", exact=True).first).to_be_visible()
    shot(page, "03-backfill-runs-one-failed")

    # The grid: the good products materialized, the broken one failed at its photo and downstream.
    for asset in ("published_video", FAILED_STAGE):
        open_grid(page, asset)
        expect_grid(page, failed=1, materialized=len(GOOD), missing=0)
    open_grid(page, "product_record")
    expect_grid(page, failed=0, materialized=len(PRODUCTS))
    open_grid(page, FAILED_STAGE)
    page.get_by_text(BROKEN, exact=True).first.click()
    expect(page.get_by_text("failed, and did not materialize this asset")).to_be_visible()
    shot(page, "04-grid-broken-product-failed")

    # Why: the failed step's logs name the product and the field.
    page.get_by_role("button", name="View logs").click()
    reason = f"product PARF-TRANDAFIR-50, field image_link: {NOT_ALLOWED}"
    expect(page.get_by_text(reason).first).to_be_visible()
    expect(page.get_by_text("STEP_FAILURE", exact=True)).to_be_visible()
    shot(page, "05-failure-reason-in-the-logs")


def test_materialize_the_failed_partitions_from_the_grid_from_their_failed_stage(instance, page):
    from playwright.sync_api import expect

    # Left by the first journey: the broken product failed at its photo.
    assert instance.client.asset_partition_statuses(FAILED_STAGE)[BROKEN] == "failed"
    instance.fix_photo()
    before = {run.run_id for run in instance.runs_of(BROKEN)}

    # The grid, narrowed to the failed partitions.
    open_grid(page, FAILED_STAGE)
    page.get_by_text(f"Materialized ({len(GOOD)})", exact=True).click()
    expect(page.get_by_text("1 Partitions Selected")).to_be_visible()
    expect(page.get_by_text(BROKEN, exact=True).first).to_be_visible()
    expect(page.get_by_text(GOOD[0], exact=True)).to_have_count(0)
    shot(page, "06-grid-failed-partitions")

    # The failed stage and everything after it (Dagster's selection syntax), only the failed partitions.
    open_catalog(page, f'key:"{FAILED_STAGE}"+', STAGES[1:])
    dialog = materialize_listed_assets(page, len(STAGES) - 1)
    choose_partitions(dialog, "Failed", "1 partition")
    expect(dialog.get_by_text(BROKEN, exact=True).first).to_be_visible()
    shot(page, "07-materialize-failed-partitions")
    launch(dialog, "Launch 1 run")

    (run,) = wait_until(lambda: [r for r in instance.runs_of(BROKEN) if r.run_id not in before],
                        what="the run of the failed partition", ceiling_s=300)
    run = wait_until(lambda: next((r for r in instance.runs_of(BROKEN) if r.run_id == run.run_id and r.end_time), None),
                     what="the failed partition's run to finish", ceiling_s=RUN_WAIT_S)
    assert run.status == "SUCCESS", run
    assert instance.step_keys(run.run_id) == STAGES[1:]  # from its failed stage: the feed record is not redone
    assert Path(instance.client.videos([BROKEN])[BROKEN]).is_file(), run  # published

    open_grid(page, FAILED_STAGE)
    expect_grid(page, failed=0, materialized=len(PRODUCTS))
    open_grid(page, "published_video", BROKEN)
    expect_grid(page, failed=0, materialized=len(PRODUCTS))
    expect(page.get_by_text("Materialized", exact=True).first).to_be_visible()
    shot(page, "08-grid-all-materialized")


def test_batch_settings_chosen_as_backfill_tags_reach_the_runs(instance, page):
    from playwright.sync_api import expect

    instance.break_photo()  # so that the next journey has a failed product to re-execute
    known = instance.backfill_ids()
    open_catalog(page)
    dialog = materialize_listed_assets(page, len(STAGES))
    choose_all_partitions(dialog)
    dialog.get_by_role("button", name="Custom", exact=True).click()
    dialog.get_by_text(f"{len(PRODUCTS)} partitions selected").click()
    keys = page.get_by_role("menu").filter(has=page.get_by_role("textbox", name="Filter partitions"))
    keys.get_by_role("menuitem", name=f"Select all ({len(PRODUCTS)})").click()
    for key in (SQUARE_PRODUCT, BROKEN):
        keys.get_by_role("menuitem", name=key).click()
    dialog.get_by_text(f"Launch runs to materialize {len(STAGES)} assets").click()  # closes the list
    expect(dialog.get_by_text("2 partitions", exact=True)).to_be_visible()
    add_tags(page, dialog, {SETTING_TAG_PREFIX + "preset": "square"})
    shot(page, "09-batch-settings-as-tags")
    launch(dialog)
    backfill_id = instance.new_backfill(known)

    rows = instance.finished_batch(backfill_id)
    instance.settings_batch = backfill_id
    assert {k: r.status for k, r in rows.items()} == {SQUARE_PRODUCT: "succeeded", BROKEN: "failed"}, rows
    assert published_size(rows[SQUARE_PRODUCT].video) == (1080, 1080)
    assert instance.client.backfill(backfill_id)["tags"] and {"key": SETTING_TAG_PREFIX + "preset", "value": "square"} in (
        instance.client.backfill(backfill_id)["tags"])

    # What the UI shows of it: the render's resolution and the batch's overrides.
    open_grid(page, "rendered_video", SQUARE_PRODUCT)
    expect(page.get_by_role("cell", name="1080x1080", exact=True)).to_be_visible()
    expect(page.get_by_role("cell", name=re.compile(r'"preset":\s*"square"')).first).to_be_visible()
    shot(page, "10-settings-in-the-metadata")


def test_reexecute_from_failure_runs_only_the_failed_product_from_its_failed_stage(instance, page):
    from playwright.sync_api import expect

    parent = instance.settings_batch
    assert parent, "runs after the settings journey: its backfill of two products, the broken one failed"
    instance.fix_photo()
    known = instance.backfill_ids()

    open_backfill(page, parent)
    expect_backfill_status(page, "Failed")
    backfill_menu(page, "Re-execute from failure")
    child = instance.new_backfill(known)
    tags = {t["key"]: t["value"] for t in instance.client.backfill(child)["tags"]}
    assert tags["dagster/parent_backfill_id"] == parent

    rows = instance.finished_batch(child)
    assert {k: r.status for k, r in rows.items()} == {BROKEN: "succeeded"}, rows
    (run,) = instance.client.backfill_runs(child)
    assert instance.step_keys(run.run_id) == STAGES[1:]
    # The re-execution keeps the batch's settings (its tags).
    assert tags[SETTING_TAG_PREFIX + "preset"] == "square" and published_size(rows[BROKEN].video) == (1080, 1080)

    open_backfill(page, child)
    expect_backfill_status(page, "Succeeded")
    expect(page.get_by_role("link", name="product_record")).to_have_count(0)
    for asset in STAGES[1:]:
        expect_asset_counts(page, asset, 1, 0, 1, 0)
    shot(page, "11-reexecuted-from-failure")
    page.get_by_role("tab", name="Runs").click()
    expect(page.get_by_text(f"partition: {BROKEN}", exact=True).first).to_be_visible()
    expect(run_links(page)).to_have_count(1)

    open_grid(page, FAILED_STAGE)
    expect_grid(page, failed=0, materialized=len(PRODUCTS))


def timeline(runs: list[RunInfo], steps: dict, t0: float) -> str:
    """Each run and its steps, in seconds from the cancel click: what a failed cancel assertion needs to be read."""
    def at(t: float | None) -> str:
        return "-" if t is None else f"{t - t0:+.1f}"

    lines = [f"times in s from the click ({t0:.1f}):"]
    for run in sorted(runs, key=lambda r: r.created or 0):
        lines.append(f"{run.partition_key} {run.run_id[:8]} {run.status} created {at(run.created)} "
                     f"started {at(run.start_time)} ended {at(run.end_time)}")
        lines += [f"    {s.step_key} {s.status} {at(s.start_time)} .. {at(s.end_time)}" for s in steps.get(run.run_id, ())]
    return "\n".join(lines)


def test_cancel_backfill_while_a_product_renders(instance, page):
    from playwright.sync_api import expect

    known = instance.backfill_ids()
    published_before = instance.published()
    open_catalog(page)
    dialog = materialize_listed_assets(page, len(STAGES))
    choose_all_partitions(dialog)
    # Full size and a minute long: a render slow enough to be caught.
    add_tags(page, dialog, {SETTING_TAG_PREFIX + "preset": "tiktok", SETTING_TAG_PREFIX + "duration_min_s": "60"})
    launch(dialog)
    backfill_id = instance.new_backfill(known)
    open_backfill(page, backfill_id)

    def rendering() -> RunInfo | None:
        unfinished = [run for run in instance.client.backfill_runs(backfill_id, with_failures=False) if not run.end_time]
        steps = instance.client.step_stats([run.run_id for run in unfinished])
        return next((run for run in unfinished if any(
            s.step_key == "rendered_video" and s.status == "IN_PROGRESS" for s in steps.get(run.run_id, ()))), None)

    running = wait_until(rendering, what="a product rendering", ceiling_s=RUN_WAIT_S)
    backfill_menu(page, "Cancel backfill")
    confirm = page.get_by_role("dialog").filter(has_text="In progress runs associated with this backfill")
    clicked_at = time.time()
    confirm.get_by_role("button", name="Cancel backfill").click()
    expect(confirm).to_be_hidden()
    canceled_at = time.monotonic()

    def all_stopped() -> list[RunInfo] | None:
        runs = instance.client.backfill_runs(backfill_id, with_failures=False)
        return runs if all(r.end_time for r in runs) else None

    runs = wait_until(all_stopped, what="every run of the canceled backfill to finish", ceiling_s=600)
    print(f"\n[ui journey] canceled: the rendering product stopped {time.monotonic() - canceled_at:.0f} s after the click")
    by_key = {r.partition_key: r for r in runs}
    assert by_key[running.partition_key].status == "CANCELED", by_key[running.partition_key]
    steps = instance.client.step_stats([r.run_id for r in runs])
    queued = [r for r in runs if r.run_id != running.run_id]
    assert all(r.status == "CANCELED" and not steps.get(r.run_id) for r in queued), timeline(runs, steps, clicked_at)
    assert "published_video" not in [s.step_key for s in steps.get(running.run_id, ())], steps[running.run_id]
    assert_no_process_works_in(instance.root / "data" / "work" / running.partition_key)
    assert instance.published() == published_before

    wait_until(lambda: instance.client.backfill(backfill_id)["status"] == "CANCELED", what="the backfill marked canceled",
               ceiling_s=300)
    page.reload()
    expect_backfill_status(page, "Canceled")
    expect_asset_counts(page, "published_video", len(PRODUCTS), 0, 0, len(PRODUCTS))
    shot(page, "12-backfill-canceled")
    page.get_by_role("tab", name="Runs").click()
    expect(run_links(page)).to_have_count(len(runs))
    shot(page, "13-canceled-runs")
