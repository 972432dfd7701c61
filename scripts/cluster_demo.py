"""The cluster demo: the sample batch on the `cluster` profile, two run workers as two "hosts".

On this one machine: starts PostgreSQL, Redis and an S3-compatible server (the
project's scripts install them when missing), `dagster dev` on
deploy/cluster/dagster.yaml (webserver + daemon on PostgreSQL), and two Celery
run workers, `host-a` and `host-b`: separate processes with separate data
folders, so a product's stage outputs pass between hosts only through the
bucket. Syncs the sample feed, launches every product, two runs at a time,
prints the same table as `make demo` plus the worker that rendered each
product, then stops everything it started. Exit 0 when every product
succeeded except the sample's deliberately broken one (as `make demo`).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from batch_video.sample import FEED_PATH as SAMPLE_FEED  # noqa: E402
from scripts.demo import verdict  # noqa: E402

HOSTS = ("host-a", "host-b")


def rendered_by(instance, keys: list[str]) -> dict[str, str]:
    """Which worker made each product's video (or got furthest with it), from the stages' metadata."""
    import dagster as dg

    from batch_video.stages import STAGES

    made: dict[str, str] = {}
    for key in keys:
        for stage in reversed(STAGES):
            found = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey(stage), asset_partitions=[key]), limit=1
            ).records
            if found and "worker" in found[0].asset_materialization.metadata:
                made[key] = found[0].asset_materialization.metadata["worker"].value
                break
    return made


def main() -> int:
    import dagster as dg

    from batch_video.catalog import load_catalog
    from batch_video.stages import STAGES
    from dagster_project.automation.feed_sync import sync_feed_partitions
    from dagster_project.console.batch import follow_backfill, format_table
    from scripts.cluster_services import ClusterServices
    from scripts.local_dagster import CLUSTER_YAML, LocalDagster, RunWorker

    root = Path(os.environ.get("BATCH_VIDEO_CLUSTER_DEMO_DIR", ROOT / ".cluster-demo")).resolve()
    shutil.rmtree(root, ignore_errors=True)  # every demo starts from an empty cluster
    root.mkdir(parents=True)
    feed = os.environ.get("BATCH_VIDEO_FEED_URL", str(SAMPLE_FEED))
    print("starting PostgreSQL, Redis and the S3 server (installing what is missing)...", flush=True)
    with ClusterServices(root / "services") as services:
        env = {
            **services.profile_env("batch_video_cluster_demo"),
            "BATCH_VIDEO_FEED_URL": feed,
            "BATCH_VIDEO_TTS_PROVIDER": os.environ.get("BATCH_VIDEO_TTS_PROVIDER", "espeak"),
            # The publishing destination is shared by every host (Supabase in production).
            "BATCH_VIDEO_OUTPUT_DIR": str(root / "output"),
            "BATCH_VIDEO_DATA_DIR": str(root / "webserver-data"),
        }
        print(f"  PostgreSQL {services.urls['BATCH_VIDEO_TEST_PG_DSN']}, Redis {services.urls['BATCH_VIDEO_TEST_REDIS_URL']}, "
              f"S3 {services.urls['BATCH_VIDEO_TEST_S3_ENDPOINT']} bucket {env['BATCH_VIDEO_WORK_STORE']}")
        workers = [RunWorker(host, {"BATCH_VIDEO_DATA_DIR": str(root / host / "data")}) for host in HOSTS]
        os.environ.update(env)
        home = root / "dagster_home"
        port = int(os.environ.get("BATCH_VIDEO_DEMO_PORT", "0")) or None
        print("starting Dagster (webserver + daemon) and two run workers...", flush=True)
        # A generous start-up ceiling: four Python processes and two workers start at once on a loaded machine.
        with LocalDagster(home, env=env, port=port, instance_yaml=ROOT / CLUSTER_YAML, workers=workers,
                          startup_timeout_s=900) as client:
            with dg.DagsterInstance.from_config(str(home)) as instance:
                catalog = load_catalog(feed)
                plan, _ = sync_feed_partitions(instance, catalog)
                keys = [p.key for p in catalog.products]
                print(f"feed {feed}: {len(keys)} products ({len(plan.new)} new partitions), {len(catalog.problems)} invalid")
                backfill_id = client.launch_backfill(keys, STAGES, title="cluster demo batch",
                                                     tags={"batch_video/launched_by": "make-cluster-demo"})
                print(f"backfill {backfill_id}: {len(keys)} products, two runs at a time -> {client.backfill_link(backfill_id)}")
                _, rows = follow_backfill(client, backfill_id, poll_s=2.0, timeout_s=1800)
                made_by = rendered_by(instance, keys)
    print()
    print(format_table(rows, workers=made_by))
    print("products per worker: " + ", ".join(f"{h} {sum(w == h for w in made_by.values())}" for h in HOSTS))

    print("stopped the workers, Dagster, the S3 server, Redis and PostgreSQL")
    return verdict(rows, catalog, "cluster demo", root / "output" / "videos")


if __name__ == "__main__":
    sys.exit(main())
