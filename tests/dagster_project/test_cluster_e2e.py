"""The `cluster` profile end to end: PostgreSQL instance, Celery run workers on Redis, stage outputs in S3.

Real services (started by `make test`: scripts/start_test_{postgres,redis,s3}.sh), a real
`dagster dev` on deploy/cluster/dagster.yaml and two Celery run workers standing for two hosts:
separate processes (each its own session, so killing its process group is losing that host) with
separate data folders, so a product's stage outputs can only pass between them through the bucket.
The publishing destination (a folder and its records) is shared, as Supabase would be.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from batch_video.catalog import load_catalog
from batch_video.feed import slugify_key
from batch_video.hashing import file_sha256
from batch_video.publish import LocalStorage
from batch_video.records import SQLiteRecords
from dagster_project.automation.feed_sync import sync_feed_partitions
from scripts.cluster_services import cluster_env
from scripts.local_dagster import CLUSTER_YAML, ROOT, LocalDagster, RunWorker
from tests.conftest import service_url
from tests.dagster_project.conftest import FEED_TEMPLATE, write_photo
from tests.dagster_project.test_batch_e2e import (
    STARTUP_CEILING_S,
    assert_no_process_works_in,
    cli_json,
    follow,
    run_caught_rendering,
    server_env,
    started_steps,
    wait_until_finished,
)

# A last resort only: the waits (tests/dagster_project/waiting.py) fail first, saying what did not happen.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

GOOD, BROKEN, VASE = slugify_key("CANA 1"), slugify_key("LIPSA-1"), slugify_key("VAZA 2")
HOSTS = ("host-a", "host-b")
VASE_ITEM = """<item>
  <g:id>VAZA 2</g:id>
  <g:title>Vază din lut ars</g:title>
  <g:brand>Olăria Horezu</g:brand>
  <g:price>120,00 RON</g:price>
  <g:image_link>images/vase.jpg</g:image_link>
  <g:availability>in_stock</g:availability>
</item>
</channel>"""


@dataclass
class Cluster:
    client: object
    server: LocalDagster
    instance: dg.DagsterInstance
    root: Path

    def data(self, host: str) -> Path:
        return self.root / f"data-{host}"

    def worker(self, host: str) -> RunWorker:
        return next(w for w in self.server.workers if w.name == host)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    pg = service_url("BATCH_VIDEO_TEST_PG_DSN", "scripts/start_test_postgres.sh")
    redis_url = service_url("BATCH_VIDEO_TEST_REDIS_URL", "scripts/start_test_redis.sh")
    s3 = service_url("BATCH_VIDEO_TEST_S3_ENDPOINT", "scripts/start_test_s3.sh")
    root = tmp_path_factory.mktemp("cluster")
    feed = root / "feed" / "feed.xml"
    write_photo(feed.parent / "images" / "mug.jpg")
    write_photo(feed.parent / "images" / "vase.jpg", size=(480, 640))
    feed.write_text(FEED_TEMPLATE.replace("</channel>", VASE_ITEM), encoding="utf-8")
    env = {**server_env(root, feed), **cluster_env(pg, redis_url, s3, f"e2e_{uuid.uuid4().hex[:10]}")}
    workers = [RunWorker(host, {"BATCH_VIDEO_DATA_DIR": str(root / f"data-{host}")}) for host in HOSTS]
    saved = dict(os.environ)
    os.environ.update(env)  # this process reads the same PostgreSQL instance
    server = LocalDagster(root / "dagster_home", env=env, instance_yaml=ROOT / CLUSTER_YAML, workers=workers,
                          startup_timeout_s=STARTUP_CEILING_S)
    try:
        with server as client:
            instance = dg.DagsterInstance.from_config(str(root / "dagster_home"))
            try:
                sync_feed_partitions(instance, load_catalog(str(feed)))
                yield Cluster(client, server, instance, root)
            finally:
                instance.dispose()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def materialization(instance, asset: str, key: str, run_id: str | None = None):
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[key]), limit=20
    ).records
    for record in records:
        if run_id is None or record.run_id == run_id:
            return record.asset_materialization
    raise AssertionError(f"no materialization of {asset} for {key} (run {run_id})")


def runs_of(instance, backfill_id: str) -> list[dg.RunRecord]:
    return list(instance.get_run_records(dg.RunsFilter(tags={"dagster/backfill": backfill_id})))


def test_a_batch_is_split_across_the_two_workers(cluster, capsys):
    url = cluster.client.url
    # VASE is left for the kill test, which needs a product no host has touched yet.
    launched = cli_json(capsys, "batch", "launch", "--products", f"{GOOD},{BROKEN}", "--preset", "preview",
                        "--duration-min-s", "1", "--tail-s", "0.5", "--json", "--url", url)
    done, _ = follow(capsys, url, launched["backfill_id"], cluster.instance)
    rows = {r["partition_key"]: r for r in done["products"]}
    assert rows[GOOD]["status"] == "succeeded", rows
    assert rows[BROKEN]["status"] == "failed" and rows[BROKEN]["stage"] == "product_image", rows[BROKEN]

    # Two runs at a time, one per idle worker: the products were made on both hosts.
    made_on = {key: materialization(cluster.instance, "product_record", key).metadata["worker"].value
               for key in (GOOD, BROKEN)}
    assert set(made_on.values()) == set(HOSTS), made_on
    for key, host in made_on.items():
        other = next(h for h in HOSTS if h != host)
        assert (cluster.data(host) / "work" / key).is_dir()
        assert not (cluster.data(other) / "work" / key).exists(), f"{key} left files on {other}, which never ran it"
    assert LocalStorage(cluster.root / "output").live_video(GOOD).exists()


# Two full-size renders (the killed one, then the retry): on a loaded 2-core machine each can take minutes.
def test_a_worker_killed_mid_render_fails_its_run_and_the_retry_finishes_on_the_other_worker(cluster, capsys):
    url, instance = cluster.client.url, cluster.instance
    backfill_id = cli_json(capsys, "batch", "launch", "--products", VASE, "--duration-min-s", "25",
                           "--json", "--url", url)["backfill_id"]
    running = run_caught_rendering(instance, backfill_id)
    host = materialization(instance, "voiceover_audio", VASE, running.run_id).metadata["worker"].value
    other = next(h for h in HOSTS if h != host)
    assert not (cluster.data(other) / "work" / VASE).exists()

    # The host dies: the worker and the run's process with it, no cleanup at all.
    cluster.server.kill_worker(host)
    try:
        retried_on_the_other_host(cluster, capsys, backfill_id, running, host, other)
    finally:
        cluster.server.start_worker(cluster.worker(host))  # the host comes back for the next tests


def retried_on_the_other_host(cluster, capsys, backfill_id: str, running, host: str, other: str) -> None:
    url, instance = cluster.client.url, cluster.instance
    run, noticed_s = wait_until_finished(instance, running.run_id)
    with capsys.disabled():
        print(f"\n[cluster kill -9] the run of the lost worker was marked {run.status.value} after {noticed_s:.1f} s")
    assert run.status == dg.DagsterRunStatus.FAILURE
    assert_no_process_works_in(cluster.data(host))
    done, _ = follow(capsys, url, backfill_id, instance)
    (row,) = done["products"]
    assert row["status"] == "failed", row

    retried = cli_json(capsys, "batch", "retry", backfill_id, "--json", "--url", url)
    assert retried["products"] == [VASE]
    done, _ = follow(capsys, url, retried["backfill_id"], instance)
    (row,) = done["products"]
    assert row["status"] == "succeeded", row
    (retry_run,) = runs_of(instance, retried["backfill_id"])
    retry_id = retry_run.dagster_run.run_id
    # From the failed stage on, on the surviving host, from the inputs the first host left in the bucket.
    assert "voiceover_audio" not in started_steps(instance, retry_id) and "rendered_video" in started_steps(instance, retry_id)
    rendered = materialization(instance, "rendered_video", VASE, retry_id)
    assert rendered.metadata["worker"].value == other
    assert (cluster.data(other) / "work" / VASE / "voiceover.wav").exists()

    # What is published, and its record, are the retry's.
    record = SQLiteRecords(cluster.root / "output" / "records.sqlite").get_video(VASE)
    assert record is not None and record.status == "published" and record.run_id == retry_id
    published = materialization(instance, "published_video", VASE, retry_id)
    # The published file is named by the video's digest, which the record carries: the retry's video and record.
    location = Path(published.metadata["location"].value)
    assert location == LocalStorage(cluster.root / "output").live_video(VASE).resolve()
    assert location.name == f"{record.content_hash}.mp4" and file_sha256(location)[:32] == record.content_hash


def test_cancel_stops_the_running_products_on_both_workers_within_seconds(cluster, capsys):
    url, instance = cluster.client.url, cluster.instance
    backfill_id = cli_json(capsys, "batch", "launch", "--products", f"{GOOD},{VASE}", "--duration-min-s", "40",
                           "--json", "--url", url)["backfill_id"]
    run_caught_rendering(instance, backfill_id)
    answer = cli_json(capsys, "batch", "cancel", backfill_id, "--json", "--url", url)
    assert not answer["not_stopped"], answer
    started = time.monotonic()
    for record in runs_of(instance, backfill_id):
        run, _ = wait_until_finished(instance, record.dagster_run.run_id)
        assert run.status == dg.DagsterRunStatus.CANCELED, run.status
    with capsys.disabled():
        print(f"\n[cluster cancel] both products stopped {time.monotonic() - started:.1f} s after `batch cancel`")
    for host in HOSTS:
        assert_no_process_works_in(cluster.data(host))
    assert not any("published_video" in started_steps(instance, r.dagster_run.run_id) for r in runs_of(instance, backfill_id))


def test_no_product_ever_ran_on_two_workers_at_once(cluster):
    by_product: dict[str, list[tuple[float, float]]] = {}
    for record in cluster.instance.get_run_records():
        if record.start_time:
            key = record.dagster_run.tags.get("dagster/partition", "")
            by_product.setdefault(key, []).append((record.start_time, record.end_time or time.time()))
    assert by_product
    for key, spans in by_product.items():
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:]):
            assert start >= end, f"two runs of {key} overlapped: {spans}"
