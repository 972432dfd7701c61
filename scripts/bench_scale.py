"""Ten thousand products: the control plane at scale and the per-product guarantees: `make bench-scale`.

On the `local` profile (SQLite instance, deploy/local/dagster.yaml), with a generated catalog of
`--count` products (default 10,000; scripts/make_sample_catalog.py) and the sample's broken one:

1. feed sync: `batch-video feed sync` of the whole feed into `products` partitions (seconds, peak RSS);
2. submission (CONTROL PLANE ONLY: every run `batch launch` makes is held queued, so none renders),
   side by side on one instance: a `--slice`-product batch (default 1,000), then the whole catalog,
   each `batch launch`ed and followed for `--window` seconds from its first queued run with the
   backfill daemon running: seconds until the first run is queued, runs queued per second, and when
   every product would be;
3. `batch status ID --json` and the asset grid's GraphQL query for `published_video` over the whole
   catalog's batch (median of 3), beside the same rows read as status read them before (every run
   listed), then `batch cancel` of that batch. The batch has real runs (status_scene): 0.1 % failed,
   0.2 % published, a queued run for every other product;
4. the per-product guarantees at that many partitions, RENDERED FOR REAL (preview preset): three
   products with the broken one in one batch, each in its own run, the broken one failing alone,
   each shown in the grid and by `batch status`, and `batch retry` re-running only it (the bench
   stops with an error if any of that does not hold);
4b. backends (CONTROL PLANE ONLY): the daemon submitting one `--slice`-product batch on SQLite and on
   PostgreSQL (the cluster profile's dagster-postgres storage), side by side;
5. the feed sensor's tick on the whole feed against an instance holding every product, 100 changed
   (control plane only; the instance is prepared once per feed and cached under .bench/scale-cache/).

`--render-slice N` adds the per-product orchestration overhead on real renders (N products at
`preview`, `--full-size` at `tiktok`, one and two runs at a time, against the same renders without
Dagster), and the CPU seconds each role (renders, the stages' processes, daemon, code server,
webserver, run worker) used during the batch beyond the plain renders (scripts/cpu_roles.py).
`--smoke` runs every phase on 20 products (tests/scripts/test_bench_scale.py).
Prints one JSON line with the figures and `targets_met` and writes .bench/scale/results.json.
Targets on 2 cores: every product queued within 10 min of the launch; status and grid query <= 5 s
each; sensor tick <= 30 s; overhead <= 5 % of a full-size batch's wall time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

if TYPE_CHECKING:
    from scripts.cpu_roles import CpuSampler

TARGETS = {"queued_s": 600.0, "status_s": 5.0, "grid_s": 5.0, "sensor_tick_s": 30.0, "overhead_pct": 5.0}
CHANGED = 100
GRID_QUERY = """
query Grid($path: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) {
    ... on AssetNode { assetPartitionStatuses { ... on DefaultPartitionStatuses {
      materializedPartitions failedPartitions materializingPartitions } } }
  }
}
"""


def cli(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("batch-video")), *args]


def timed_child(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """(seconds, peak RSS MB, stdout) of one command, its RSS measured alone by a wrapper process."""
    wrapper = (
        "import resource, subprocess, sys, json, time\n"
        "t = time.perf_counter(); p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "s = time.perf_counter() - t\n"
        "sys.stderr.write(p.stderr)\n"
        "print(json.dumps({'s': s, 'rc': p.returncode, 'rss': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 'out': p.stdout}))\n"
    )
    done = subprocess.run([sys.executable, "-c", wrapper, *argv], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)}: wrapper failed: {done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["rc"] != 0:
        sys.stderr.write(done.stderr[-3000:])
        raise SystemExit(f"{' '.join(argv)} exited {result['rc']}")
    return result["s"], result["rss"], result["out"]


def make_feed(out: Path, count: int, *, with_broken: bool = True) -> Path:
    """`count` good products, and the sample's broken one (its photo is missing) unless told otherwise."""
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_sample_catalog.py"), "--count", str(count),
                    "--out", str(out), *(["--with-broken"] if with_broken else [])], check=True, cwd=ROOT, capture_output=True)
    return out / "feed.xml"


def instance_yaml(out: Path, *, concurrency: int = 1) -> Path:
    """The local profile's dagster.yaml with `concurrency` runs at a time, holding every run `batch launch` makes queued.

    The hold (a tag concurrency limit of 0 on `batch_video/launched_by: cli`) keeps a 10,000-product
    launch from rendering while its control plane is timed; runs launched otherwise still run.
    """
    from scripts.local_dagster import LOCAL_YAML

    text = (ROOT / LOCAL_YAML).read_text()
    anchor = "  max_concurrent_runs: 1\n"
    if anchor not in text:
        raise SystemExit(f"{LOCAL_YAML} has no `max_concurrent_runs: 1` to set")
    text = text.replace(anchor, f"  max_concurrent_runs: {concurrency}\n"
                        "  tag_concurrency_limits:\n    - key: batch_video/launched_by\n      value: cli\n      limit: 0\n")
    path = out / f"dagster-{concurrency}-at-a-time.yaml"
    path.write_text(text)
    return path


# --------------------------------------------------------------------------- phases


def phase_sync(feed: Path, env: dict[str, str]) -> dict:
    seconds, rss, out = timed_child(cli("feed", "sync", str(feed), "--json"), env)
    counts = json.loads(out)["counts"]
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(rss), "new": counts["new"]}


def backfill_run_records(instance, backfill_id: str) -> list:
    import dagster as dg

    return list(instance.get_run_records(dg.RunsFilter(tags={"dagster/backfill": backfill_id})))


FIRST_RUN_CEILING_S = 900.0
RUNS_COUNT = """
query Count($tags: [ExecutionTag!]) { runsOrError(filter: {tags: $tags}) { ... on Runs { count } } }
"""
RUNS_CREATED = """
query Created($tags: [ExecutionTag!]) { runsOrError(filter: {tags: $tags}) { ... on Runs { results { creationTime } } } }
"""


def follow_submission(client, backfill_id: str, launched_at: float, count: int, window_s: float) -> dict:
    """Runs the backfill daemon has queued, polled until every product is queued or `window_s` has passed since
    the first was (the daemon's first pass comes after its start-up: up to a generous ceiling, not a target).
    The figures come from the runs' own creation times; the polls only decide when to stop and draw the curve."""
    samples = []  # (seconds since launch, runs queued)
    tags = [{"key": "dagster/backfill", "value": backfill_id}]
    deadline = time.time() + max(window_s, FIRST_RUN_CEILING_S)
    first_seen = False
    while True:
        queued = client.query(RUNS_COUNT, {"tags": tags})["runsOrError"]["count"]
        now = time.time()
        samples.append((round(now - launched_at, 1), queued))
        if queued and not first_seen:
            first_seen, deadline = True, now + window_s
        if queued >= count or now > deadline:
            break
        time.sleep(2.0)
    created = [run["creationTime"] for run in client.query(RUNS_CREATED, {"tags": tags})["runsOrError"]["results"]]
    return submission_figures(created, samples, launched_at, count, window_s)


def submission_figures(created: Sequence[float], samples: Sequence[tuple[float, int]], launched_at: float, count: int,
                       window_s: float) -> dict:
    """The daemon's submission from the creation times of the runs it queued (`created`, epoch seconds).

    The rate is the runs queued after the first one over the time from the first to the last: a batch the
    daemon queues between two polls still has one (polls two seconds apart would see none). None when fewer
    than two runs were queued.
    """
    created = sorted(created)
    span = created[-1] - created[0] if len(created) > 1 else 0.0
    rate = (len(created) - 1) / span if span > 0 else None
    first = round(created[0] - launched_at, 1) if created else None
    return {
        "products": count,
        "queued": len(created),
        "window_s": window_s,
        "launch_to_first_queued_s": first,
        "launch_to_all_queued_s": round(created[-1] - launched_at, 1) if len(created) >= count else None,
        "submission_rate_runs_per_s": round(rate, 3) if rate else None,
        # At the rate measured once the daemon had started submitting.
        "projected_all_queued_s": round(first + (count - 1) / rate, 1) if rate else None,
        "samples": list(samples[:: max(len(samples) // 20, 1)]),
    }


def launch(url_env: dict[str, str], *selection: str) -> tuple[float, dict]:
    """`batch-video batch launch ... --yes --json`: (seconds, its JSON answer)."""
    seconds, _, stdout = timed_child(cli("batch", "launch", *selection, "--yes", "--json"), url_env)
    return seconds, json.loads(stdout)


POSTGRES_STORAGE = """
# bench-scale: the instance on PostgreSQL, as the cluster profile has it (deploy/cluster/dagster.yaml)
storage:
  postgres:
    postgres_url:
      env: BATCH_VIDEO_DAGSTER_PG_URL
"""


def phase_backends(out: Path, env: dict[str, str], count: int, window_s: float, pg_dsn: str = "") -> dict:
    """CONTROL PLANE ONLY: the backfill daemon submitting one `count`-product batch on SQLite, then on PostgreSQL.

    Side by side in one run, each on a fresh instance holding the same `count` products: the local
    profile's instance (SQLite), and the same with the cluster profile's storage (dagster-postgres)
    on a PostgreSQL started by scripts/start_test_postgres.sh (fsync off: test settings), or on the
    server of `pg_dsn` (postgresql://user@host:port/db, a fresh database of its own). Runs are
    held queued as in the other phases, so the figure is the daemon's submission rate alone.
    """
    from scripts.cluster_services import ClusterServices, fresh_database
    from scripts.local_dagster import LocalDagster

    feed = make_feed(out / "backends-feed", count, with_broken=False)
    figures: dict = {"control_plane_only": True, "products": count}
    own_server = contextlib.nullcontext() if pg_dsn else ClusterServices(out / "services", scripts=("start_test_postgres.sh",))
    with own_server as services:
        pg_dsn = pg_dsn or services.urls["BATCH_VIDEO_TEST_PG_DSN"]
        for backend in ("sqlite", "postgres"):
            home = out / f"{backend}-home"
            home.mkdir()
            yaml = out / f"dagster-{backend}.yaml"
            yaml.write_text(instance_yaml(out).read_text() + (POSTGRES_STORAGE if backend == "postgres" else ""))
            if backend == "postgres":  # read by every Dagster process, this one's instance included
                os.environ["BATCH_VIDEO_DAGSTER_PG_URL"] = fresh_database(pg_dsn, f"bench_scale_{os.getpid()}")
            (home / "dagster.yaml").write_text(yaml.read_text())
            pg = {"BATCH_VIDEO_DAGSTER_PG_URL": os.environ["BATCH_VIDEO_DAGSTER_PG_URL"]} if backend == "postgres" else {}
            run_env = {**env, **pg, "BATCH_VIDEO_FEED_URL": str(feed)}
            sync = phase_sync(feed, {**run_env, "DAGSTER_HOME": str(home)})
            server = LocalDagster(home, env={**run_env, "BATCH_VIDEO_PRESET": "preview"}, instance_yaml=yaml,
                                  daemon_after_launch=True, startup_timeout_s=900)
            with server as client:
                url_env = {**run_env, "DAGSTER_HOME": str(home), "BATCH_VIDEO_DAGSTER_URL": client.url}
                launched_at = time.time()
                seconds, answer = launch(url_env, "--all")
                server.start_daemon()
                figures[backend] = {"sync_s": sync["seconds"], "launch_command_s": round(seconds, 2),
                                    **follow_submission(client, answer["backfill_id"], launched_at, count, window_s)}
            print(f"  submission on {backend}, {count}-product batch: {figures[backend]['queued']} queued after "
                  f"{figures[backend]['samples'][-1][0]:.0f} s ({figures[backend]['submission_rate_runs_per_s']} runs/s)", flush=True)
        os.environ.pop("BATCH_VIDEO_DAGSTER_PG_URL", None)
    sqlite_rate, pg_rate = (figures[b]["submission_rate_runs_per_s"] for b in ("sqlite", "postgres"))
    figures["rate_ratio_postgres_to_sqlite"] = round(pg_rate / sqlite_rate, 2) if pg_rate and sqlite_rate else None
    return figures


def phase_control_plane(out: Path, feed: Path, env: dict[str, str], home: Path, count: int, window_s: float, slice_count: int,
                        submission: bool = True) -> dict:
    """Everything that does not render, on one instance holding every product as a partition.

    1. submission, side by side: a `slice_count`-product batch, then the whole catalog, each followed
       for `window_s` with the backfill daemon running (the slice is canceled before the whole starts);
    2. `batch status --json` and the grid query over the whole catalog's batch, the daemon stopped;
    3. `batch cancel` of the whole catalog's batch;
    4. the per-product guarantees, rendering three products for real (`guarantees`).
    """
    import dagster as dg

    from dagster_project.console.client import DagsterClient
    from scripts.local_dagster import LocalDagster

    server = LocalDagster(home, env={**env, "BATCH_VIDEO_PRESET": "preview"}, instance_yaml=instance_yaml(out),
                          daemon_after_launch=True, startup_timeout_s=900)
    figures: dict = {"control_plane_only": True,
                     "note": "runs launched by `batch launch` are held queued (tag limit 0): no product of these batches renders"}
    with server as client:
        instance = dg.DagsterInstance.from_config(str(home))
        url_env = {**env, "DAGSTER_HOME": str(home), "BATCH_VIDEO_DAGSTER_URL": client.url}
        keys = instance.get_dynamic_partitions("products")
        submissions = {}
        batches = (("slice", ("--products", ",".join(keys[:slice_count])), slice_count), ("whole_catalog", ("--all",), len(keys)))
        if not submission:
            seconds, answer = launch(url_env, "--all")
            figures["launch_all_command_s"] = round(seconds, 2)
            backfill_id, batches = answer["backfill_id"], ()
        for name, selection, size in batches:
            launched_at = time.time()
            seconds, answer = launch(url_env, *selection)
            server.start_daemon()
            submissions[name] = {"launch_command_s": round(seconds, 2),
                                 **follow_submission(client, answer["backfill_id"], launched_at, size, window_s)}
            server.stop_daemon()
            print(f"  submission, {size}-product batch: launch command {seconds:.1f} s; {submissions[name]['queued']} "
                  f"queued after {submissions[name]['samples'][-1][0]:.0f} s "
                  f"({submissions[name]['submission_rate_runs_per_s']} runs/s)", flush=True)
            if name == "slice":
                timed_child(cli("batch", "cancel", answer["backfill_id"], "--json"), url_env)
            backfill_id = answer["backfill_id"]
        if submission:
            slice_rate = submissions["slice"]["submission_rate_runs_per_s"]
            whole_rate = submissions["whole_catalog"]["submission_rate_runs_per_s"]
            submissions["rate_ratio_slice_to_whole"] = round(slice_rate / whole_rate, 1) if slice_rate and whole_rate else None
            figures["submission"] = submissions

        figures["scene"] = status_scene(instance, backfill_id, keys, feed, home, out, env)
        status_s, status_rows, status_error = [], 0, ""
        bulk_s, every_run_s = [], []
        for _ in range(3):
            try:
                seconds, _, stdout = timed_child(cli("batch", "status", backfill_id, "--json"), url_env)
            except SystemExit as err:  # e.g. a GraphQL answer slower than the client's 30 s timeout
                status_error = str(err)
                break
            status_s.append(seconds)
            status_rows = len(json.loads(stdout)["products"])
            # Side by side: the rows as `batch status` reads them now, and as it read them before (every run listed).
            bulk_s.append(timed(lambda: DagsterClient(client.url, timeout_s=1800).product_statuses(backfill_id)))
            every_run_s.append(timed(lambda: status_listing_every_run(DagsterClient(client.url, timeout_s=1800), backfill_id)))
        grid_s = []
        for _ in range(3):
            started = time.perf_counter()
            grid = client.query(GRID_QUERY, {"path": ["published_video"]})
            grid_s.append(time.perf_counter() - started)
        statuses = grid["assetNodeOrError"]["assetPartitionStatuses"]
        figures.update({
            "partitions": len(keys),
            "status_s": round(statistics.median(status_s), 2) if status_s else None, "status_rows": status_rows,
            "status_error": status_error,
            "status_rows_read_s": median(bulk_s),
            "status_rows_read_listing_every_run_s": median(every_run_s),
            "grid_query_s": round(statistics.median(grid_s), 2),
            "grid_materialized": len(statuses["materializedPartitions"]),
        })
        print(f"  status rows read in {figures['status_rows_read_s']} s; listing every run as before "
              f"{figures['status_rows_read_listing_every_run_s']} s", flush=True)
        print(f"  status --json {figures['status_s']} s ({status_rows} rows{'; ' + status_error if status_error else ''}); grid query {figures['grid_query_s']} s "
              f"({figures['grid_materialized']} materialized) at {len(keys)} partitions", flush=True)
        # What cancel did first before: list every run of the batch (then it terminated every queued one, one by one).
        figures["cancel_listing_every_run_s"] = round(timed(
            lambda: DagsterClient(client.url, timeout_s=1800).backfill_runs(backfill_id, with_failures=False)), 2)
        try:
            seconds, _, stdout = timed_child(cli("batch", "cancel", backfill_id, "--json"), url_env)
            canceled = json.loads(stdout)
            figures["cancel_whole_catalog_s"] = round(seconds, 2)
            figures["cancel_counts"] = {"canceled_by_the_command": len(canceled["canceled_queued"]),
                                        "left_to_dagster": canceled["queued_left_to_dagster"]}
        except SystemExit as err:  # the same slow answer as status: recorded; the guarantees run beside that batch
            figures["cancel_whole_catalog_s"], figures["cancel_error"] = None, str(err)
        figures["guarantees"] = guarantees(server, client, instance, url_env, keys)
        instance.dispose()
    return figures


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def median(samples: list[float]) -> float | None:
    return round(statistics.median(samples), 2) if samples else None


def status_listing_every_run(client, backfill_id: str) -> list:
    """The rows as `batch status` read them before it read big batches in bulk: every stage's targets, every run."""
    from dagster_project.batch_status import build_statuses
    from dagster_project.console.client import BACKFILL_TARGETS, backfill_partition_keys

    backfill = client.backfill(backfill_id)
    backfill.update(client.query(BACKFILL_TARGETS, {"backfillId": backfill_id})["partitionBackfillOrError"])
    return build_statuses(backfill_partition_keys(backfill), client.backfill_runs(backfill_id), backfill_status=backfill["status"])


def guarantees(server, client, instance, url_env: dict[str, str], keys: list[str]) -> dict:
    """Each product independent, visible and retried alone, at this many partitions (asserted; figures returned)."""
    import dagster as dg

    from batch_video.sample import BROKEN_PRODUCT_ID
    from batch_video.feed import slugify_key
    from batch_video.stages import STAGES

    broken = slugify_key(BROKEN_PRODUCT_ID)
    good = [k for k in keys if k != broken][-2:]
    selected = [good[0], broken, good[1]]
    backfill_id = client.launch_backfill(selected, STAGES, title="bench-scale guarantees",
                                         tags={"batch_video/launched_by": "bench-scale"})
    server.start_daemon()
    done = wait_finished(instance, backfill_id, len(selected))
    runs = {r.dagster_run.tags["dagster/partition"]: r.dagster_run for r in done}
    problems = []
    if sorted(runs) != sorted(selected) or len(done) != len(selected):
        problems.append(f"one run per product expected, got {[r.dagster_run.tags.get('dagster/partition') for r in done]}")
    for key in good:
        if runs.get(key) is None or runs[key].status != dg.DagsterRunStatus.SUCCESS:
            problems.append(f"{key} did not succeed beside the broken product")
    if runs.get(broken) is None or runs[broken].status != dg.DagsterRunStatus.FAILURE:
        problems.append(f"{broken} did not fail")
    grid = client.asset_partition_statuses("published_video")
    if any(grid.get(k) != "materialized" for k in good) or grid.get(broken) == "materialized":
        problems.append(f"grid: {[(k, grid.get(k)) for k in selected]}")
    wait_backfill_done(client, backfill_id)
    rows = {r["partition_key"]: r for r in json.loads(timed_child(cli("batch", "status", backfill_id, "--json"), url_env)[2])["products"]}
    if rows.get(broken, {}).get("status") != "failed" or any(rows.get(k, {}).get("status") != "succeeded" for k in good):
        problems.append(f"batch status: {[(k, rows.get(k, {}).get('status')) for k in selected]}")
    retry = json.loads(timed_child(cli("batch", "retry", backfill_id, "--json"), url_env)[2])
    retried = wait_finished(instance, retry["backfill_id"], 1)
    retried_keys = sorted(r.dagster_run.tags["dagster/partition"] for r in retried)
    if retry["products"] != [broken] or retried_keys != [broken]:
        problems.append(f"retry re-ran {retried_keys} (said {retry['products']}), not only {broken}")
    if problems:
        raise SystemExit("per-product guarantees broken at scale: " + "; ".join(problems))
    print(f"  guarantees at {len(keys)} products: 3 products, one run each; {broken} failed alone; "
          f"grid and status show each; retry re-ran only {broken}", flush=True)
    return {"products_in_batch": len(selected), "runs": {k: runs[k].status.value for k in selected},
            "retried": retried_keys, "independent": True, "visible": True, "retried_alone": True}


def wait_finished(instance, backfill_id: str, count: int, ceiling_s: float = 1800) -> list:
    """The backfill's run records once `count` runs exist and all have finished (a generous ceiling, not a target)."""
    deadline = time.monotonic() + ceiling_s
    while time.monotonic() < deadline:
        records = backfill_run_records(instance, backfill_id)
        if len(records) >= count and all(r.dagster_run.is_finished for r in records):
            return records
        time.sleep(2.0)
    raise SystemExit(f"backfill {backfill_id}: {count} runs not finished within {ceiling_s:.0f} s")


def wait_backfill_done(client, backfill_id: str, ceiling_s: float = 600) -> None:
    """Until the daemon has marked the backfill finished (retry needs that), at its next passes."""
    deadline = time.monotonic() + ceiling_s
    while time.monotonic() < deadline:
        if client.backfill(backfill_id)["status"] not in ("REQUESTED", "CANCELING"):
            return
        time.sleep(2.0)
    raise SystemExit(f"backfill {backfill_id} not marked finished within {ceiling_s:.0f} s")


def status_scene(instance, backfill_id: str, keys: list[str], feed: Path, home: Path, out: Path, env: dict[str, str]) -> dict:
    """The batch as status sees it some time in: 0.2 % of the products published, 0.1 % failed, the rest queued.

    Each of those is a real run of the batch, executed in a process of its own and recorded as
    production records it. The failures run the product's whole chain against the same products
    with their photos removed after the sync: each fails at `product_image` and records its failure
    inside its run. The published ones run `published_video` only, from a stand-in that records a
    video location without rendering (rendering even 0.2 % of 10,000 products takes half an hour here).
    Every other product gets a queued run (queue_the_rest), as once the daemon has submitted them all.
    """
    from batch_video.feed import slugify_key
    from batch_video.sample import BROKEN_PRODUCT_ID

    good = [k for k in keys if k != slugify_key(BROKEN_PRODUCT_ID)]  # the guarantees phase runs the broken one
    published = good[: max(len(keys) // 500, 1)]
    failing = good[len(published): len(published) + max(len(keys) // 1000, 1)]
    (out / "scene.json").write_text(json.dumps({"published": published, "keys": keys}))
    started = time.perf_counter()
    made = run_phase("scene-runs", photos_removed(feed, failing, out), home,
                     env={**env, "BENCH_SCALE_BACKFILL": backfill_id, "BENCH_SCALE_SCENE": str(out / "scene.json"),
                          "BATCH_VIDEO_DATA_DIR": str(out / "scene-data")})
    return {**made, "real_runs": True, "published_by_a_stand_in_without_rendering": True,
            "runs_s": round(time.perf_counter() - started, 1)}


def photos_removed(feed: Path, keys: Sequence[str], out: Path) -> Path:
    """A feed of only the products of `keys`, their photos gone (as when a shop deletes them after the sync)."""
    from batch_video.feed import slugify_key

    text = feed.read_text(encoding="utf-8")
    first, last = text.index("    <item>"), text.rindex("</item>\n") + len("</item>\n")
    wanted, kept = set(keys), []
    for item in re.findall(r"    <item>.*?</item>\n", text[first:last], flags=re.S):
        product_id = re.search(r"<g:id>(.*?)</g:id>", item).group(1)
        if slugify_key(product_id) in wanted:
            item = re.sub(r"<g:image_link>.*?</g:image_link>", "<g:image_link>images/removed-photo.jpg</g:image_link>", item)
            kept.append(re.sub(r"\s*<g:additional_image_link>.*?</g:additional_image_link>", "", item))
    if len(kept) != len(wanted):
        raise SystemExit(f"photos_removed: found {len(kept)} of the {len(wanted)} products in {feed}")
    path = out / "feed-photos-removed.xml"
    path.write_text(text[:first] + "".join(kept) + text[last:], encoding="utf-8")
    return path


def phase_scene_runs(feed: Path, home: Path) -> dict:
    """Runs of the backfill $BENCH_SCALE_BACKFILL: every product of `feed` to its end (they fail), a published
    video for each product `published` in $BENCH_SCALE_SCENE (a stand-in `published_video`), a queued run for the rest."""
    import dagster as dg

    os.environ.update({"DAGSTER_HOME": str(home), "BATCH_VIDEO_FEED_URL": str(feed)})
    from batch_video.catalog import load_catalog
    from dagster_project.definitions import defs
    from dagster_project.partitions import PUBLISHED_VIDEO_KEY, products_partitions
    from dagster_project.run_tags import BACKFILL_TAG

    @dg.asset(key=PUBLISHED_VIDEO_KEY, partitions_def=products_partitions)
    def published_video_stand_in(context):  # no annotations: `dg` is imported locally, they would not resolve
        return dg.MaterializeResult(metadata={"location": f"/videos/{context.partition_key}.mp4"})

    tags = {BACKFILL_TAG: os.environ["BENCH_SCALE_BACKFILL"], "batch_video/launched_by": "bench-scale"}
    job = defs.resolve_job_def("product_video_job")
    failed = published = 0
    scene = json.loads(Path(os.environ["BENCH_SCALE_SCENE"]).read_text())
    with dg.DagsterInstance.get() as instance:
        for product in load_catalog(str(feed)).products:
            failed += not job.execute_in_process(instance=instance, partition_key=product.key, tags=tags, raise_on_error=False).success
        for key in scene["published"]:
            published += dg.materialize([published_video_stand_in], instance=instance, partition_key=key, tags=tags).success
        queued = queue_the_rest(instance, tags[BACKFILL_TAG], scene["keys"])
    return {"failed": failed, "published": published, "queued_written": queued}


def queue_the_rest(instance, backfill_id: str, keys: Sequence[str]) -> int:
    """A queued run for each product of the backfill that has none yet, as the backfill daemon writes it.

    The daemon submits a 10,000-product batch in hours (see the submission figures); these copies
    of one of its queued runs (another id and product) give the batch its full count of runs.
    """
    import dagster as dg

    from dagster_project.run_tags import BACKFILL_TAG, PARTITION_TAG

    records = instance.get_run_records(dg.RunsFilter(tags={BACKFILL_TAG: backfill_id}))
    template = next((r.dagster_run for r in records if r.dagster_run.status == dg.DagsterRunStatus.QUEUED), None)
    if template is None:  # the submission phase was skipped: no run of the daemon's to copy
        return 0
    have = {r.dagster_run.tags.get(PARTITION_TAG) for r in records}
    rest = [k for k in keys if k not in have]
    for key in rest:
        instance.add_run(template._replace(run_id=str(uuid.uuid4()), tags={**template.tags, PARTITION_TAG: key}))
    return len(rest)


def phase_sensor_prepare(feed: Path, home: Path) -> dict:
    """An instance holding every product of the feed with its recorded content hash, CHANGED of them stale.

    Runs in its own process on tmpfs when there is one: recording 10,000 materializations one by
    one is slow in SQLite (a real instance gathers them over many runs), and it is not the figure.
    """
    import dagster as dg
    from dagster_project.dagster_internals import DATA_VERSION_TAG

    from batch_video.feed import read_feed
    from dagster_project.partitions import PRODUCT_RECORD_KEY, products_partitions

    os.environ["DAGSTER_HOME"] = str(home)
    with dg.DagsterInstance.get() as instance:
        products = read_feed(str(feed)).products
        instance.add_dynamic_partitions(products_partitions.name, [p.key for p in products])
        step = max(len(products) // CHANGED, 1)
        for index, product in enumerate(products):
            digest = "stale-hash" if index % step == 0 else product.content_hash
            instance.report_runless_asset_event(
                dg.AssetMaterialization(asset_key=PRODUCT_RECORD_KEY, partition=product.key, tags={DATA_VERSION_TAG: digest}))
    return {"products": len(products), "changed": len(range(0, len(products), step))}


def phase_sensor_tick(feed: Path, home: Path) -> dict:
    import dagster as dg

    from dagster_project.automation.feed_sync import SyncOptions, build_feed_sync_sensor
    from dagster_project.resources import CatalogResource, LocalPublishingResource

    os.environ["DAGSTER_HOME"] = str(home)
    with dg.DagsterInstance.get() as instance:
        sensor = build_feed_sync_sensor(name="bench_scale_sensor", options=SyncOptions())
        catalog = CatalogResource(feed_url=str(feed), cache_dir=str(home / "feed-cache"))
        started = time.perf_counter()
        publishing = LocalPublishingResource(local_root=str(home / "output"))  # the tick reads the records of published videos
        with dg.build_sensor_context(instance=instance, resources={"catalog": catalog, "publishing": publishing}) as context:
            result = sensor(context)
        seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 2), "run_requests": len(result.run_requests),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


PHASES = {"sensor-prepare": phase_sensor_prepare, "sensor-tick": phase_sensor_tick, "scene-runs": phase_scene_runs}


def run_phase(name: str, feed: Path, home: Path, env: dict[str, str] | None = None) -> dict:
    done = subprocess.run([sys.executable, __file__, "--phase", name, "--feed", str(feed), "--home", str(home)],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-3000:])
        raise SystemExit(f"phase {name} failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def phase_sensor(feed: Path, out: Path) -> dict:
    """The feed sensor's tick on the whole feed against an instance holding every product, CHANGED of them changed.

    The instance is prepared once per feed content (on tmpfs when there is one) and kept under
    .bench/scale-cache/: recording 10,000 materializations one by one is slow in SQLite (a real
    instance gathers them over many runs), and it is not the figure.
    """
    from batch_video.hashing import file_sha256

    cache = out.parent / "scale-cache" / f"sensor-instance-{file_sha256(feed)[:12]}"
    prepared_now = not (cache / "prepared.json").exists()
    if prepared_now:
        scratch = Path("/dev/shm") if Path("/dev/shm").is_dir() else out
        building = scratch / f"bench-scale-sensor-{os.getpid()}"
        shutil.rmtree(building, ignore_errors=True)
        building.mkdir(parents=True)
        (building / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        try:
            started = time.perf_counter()
            prepared = run_phase("sensor-prepare", feed, building)
            prepared["prepare_s"] = round(time.perf_counter() - started)
            (building / "prepared.json").write_text(json.dumps(prepared))
            shutil.rmtree(cache.parent, ignore_errors=True)  # older feeds' instances
            shutil.copytree(building, cache)
        finally:
            shutil.rmtree(building, ignore_errors=True)
    prepared = json.loads((cache / "prepared.json").read_text())
    home = out / "sensor-home"
    shutil.copytree(cache, home)
    tick = run_phase("sensor-tick", feed, home)
    return {"control_plane_only": True, **prepared, "prepared_this_run": prepared_now, "tick_s": tick["seconds"],
            "run_requests": tick["run_requests"], "peak_rss_mb": tick["peak_rss_mb"]}


def plain_render_seconds(feed: Path, out: Path, name: str, preset: str, env: dict[str, str]) -> float:
    """The same products rendered one after another in one process, no Dagster: the floor a batch is measured against."""
    seconds, _, _ = timed_child(cli("render", "--feed", str(feed), "--product", "all", "--out", str(out / f"{name}-plain"),
                                    "--preset", preset, "--force"), env)
    return seconds


def rendered_batch(feed: Path, out: Path, name: str, preset: str, env: dict[str, str], concurrency: int,
                   sampler: CpuSampler | None = None) -> dict:
    """A real backfill of every product of `feed` at `preset`, `concurrency` runs at a time: where the time went,
    and with a running `sampler` the CPU each role used from the first run's start to the last run's end.

    The run worker has one slot whatever `concurrency` is: with 2, the next run waits in the broker while one
    renders and starts the moment it ends (renders stay one at a time; the run queue's gap is hidden)."""
    import dagster as dg

    from batch_video.catalog import load_catalog
    from batch_video.stages import STAGES
    from scripts.bench_batch import run_figures
    from scripts.local_dagster import LocalDagster

    keys = [p.key for p in load_catalog(str(feed)).products]
    home = out / f"{name}-home"
    run_env = {**env, "DAGSTER_HOME": str(home), "BATCH_VIDEO_PRESET": preset, "BATCH_VIDEO_FEED_URL": str(feed),
               "BATCH_VIDEO_DATA_DIR": str(out / f"{name}-data"), "BATCH_VIDEO_OUTPUT_DIR": str(out / f"{name}-output")}
    server = LocalDagster(home, env=run_env, instance_yaml=instance_yaml(out, concurrency=concurrency), daemon_after_launch=True)
    with server as client:
        os.environ["DAGSTER_HOME"] = str(home)
        instance = dg.DagsterInstance.get()
        instance.add_dynamic_partitions("products", keys)
        launched_at = time.time()
        backfill_id = client.launch_backfill(keys, STAGES, title=f"bench-scale {name}", tags={"batch_video/launched_by": "bench-scale"})
        server.start_daemon()
        deadline = time.monotonic() + 6 * 3600
        while time.monotonic() < deadline:
            runs = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
            if len(runs) == len(keys) and all(run.is_finished for run in runs):
                break
            time.sleep(5)
        figures = run_figures(instance, backfill_id, launched_at)
        instance.dispose()
    finished = max(len([r for r in figures["per_run"] if r["run_s"]]), 1)
    batch = {
        "products": len(keys), "preset": preset, "runs_at_a_time": concurrency, "worker_slots": 1, "statuses": figures["statuses"],
        "wall_s": round(figures["wall_s"], 1),  # first run start -> last run end
        "stages_s": round(figures["steps_s"], 1),
        "overhead_s_per_product": round(figures["overhead_s"] / finished, 2),  # (wall - stages) / products
        "stage_s_per_product": round(figures["steps_s"] / finished, 2),
        "gap_between_runs_s": round(figures["gap_between_runs_s"]["mean"], 2),
        "worker_overhead_per_run_s": round(figures["per_run_worker_overhead_s"]["mean"], 2),
    }
    if sampler is not None:
        batch["cpu_s_by_role"] = sampler.by_role(launched_at + figures["launch_to_first_start_s"],
                                                 launched_at + figures["launch_to_last_end_s"])
    return batch


def phase_overhead(out: Path, env: dict[str, str], slice_count: int, full_size: int) -> dict:
    """Per-product orchestration overhead on real renders, against the same products rendered without Dagster.

    overhead % = (batch wall time - plain wall time) / batch wall time, side by side in one run,
    for one run at a time (the default) and two at a time (with the run worker's one slot, the next run waits in
    the broker while one renders), with the CPU each role used during the one-at-a-time batch and the plain renders.
    """
    from scripts.cpu_roles import CpuSampler

    figures: dict = {"renders_for_real": True}
    for name, count, preset in (("slice", slice_count, "preview"), ("full-size", full_size, "tiktok")):
        feed = make_feed(out / f"{name}-feed", count, with_broken=False)
        with CpuSampler() as sampler:
            started = time.time()
            plain_s = plain_render_seconds(feed, out, name, preset, env)
            plain_cpu = sampler.by_role(started, time.time())
        with CpuSampler() as sampler:
            one = rendered_batch(feed, out, f"{name}-1", preset, env, concurrency=1, sampler=sampler)
        two = rendered_batch(feed, out, f"{name}-2", preset, env, concurrency=2)
        for batch in (one, two):
            batch["overhead_pct_vs_plain"] = round(100 * (batch["wall_s"] - plain_s) / batch["wall_s"], 1)
        figures[name] = {"products": count, "preset": preset, "plain_render_s": round(plain_s, 1), "one_at_a_time": one,
                         "two_at_a_time": two, "ratio_one_to_plain": round(one["wall_s"] / plain_s, 3),
                         "plain_cpu_s_by_role": plain_cpu, "extra_cpu_s_by_role": extra_cpu(plain_cpu, one["cpu_s_by_role"])}
        print(f"  overhead, {count} products at {preset}: plain {plain_s:.1f} s; one at a time {one['wall_s']} s "
              f"({one['overhead_pct_vs_plain']} %); two at a time {two['wall_s']} s ({two['overhead_pct_vs_plain']} %)", flush=True)
        print(f"  CPU seconds the one-at-a-time batch used beyond the plain renders, by role: "
              f"{figures[name]['extra_cpu_s_by_role']}", flush=True)
    return figures


def extra_cpu(plain: dict[str, float], batch: dict[str, float]) -> dict[str, float]:
    """CPU seconds a batch used beyond the plain renders, by role (the bench's own and other jobs' left out)."""
    return {role: round(batch[role] - plain[role], 1) for role in batch if role not in ("bench", "other")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--window", type=float, default=120.0,
                        help="seconds each batch's submission is followed (the rate is what counts, not the end)")
    parser.add_argument("--slice", type=int, default=1_000, help="the smaller batch submitted side by side")
    parser.add_argument("--render-slice", type=int, default=0,
                        help="also render this many products for real at preview (and --full-size at tiktok): overhead")
    parser.add_argument("--full-size", type=int, default=5, help="with --render-slice: products rendered at tiktok")
    parser.add_argument("--smoke", action="store_true",
                        help="20 products, 5-product slices, 20 s windows: every phase works end to end (tests/scripts)")
    parser.add_argument("--out", type=Path, default=ROOT / ".bench" / "scale")
    parser.add_argument("--postgres-dsn", default="",
                        help="PostgreSQL server for the backends phase (default: one started by scripts/start_test_postgres.sh)")
    parser.add_argument("--skip", nargs="*", default=(), choices=("control-plane", "submission", "backends", "sensor"))
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--feed", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:  # one phase in its own process (its own peak RSS), called by run_phase
        print(json.dumps(PHASES[args.phase](args.feed, args.home)))
        return 0
    if args.smoke:
        args.count, args.window, args.slice = 20, 20.0, 5

    out = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    # A `kill` (or timeout) unwinds like Ctrl-C, so the Dagster processes started here are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.perf_counter()
    feed = make_feed(out / "feed", args.count)
    load = os.getloadavg()
    print(f"bench-scale: {args.count} products and the sample's broken one ({feed.stat().st_size / 1e6:.1f} MB feed), "
          f"{os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}", flush=True)
    env = {
        **os.environ,
        "BATCH_VIDEO_DATA_DIR": str(out / "data"),
        "BATCH_VIDEO_OUTPUT_DIR": str(out / "output"),
        "BATCH_VIDEO_FEED_URL": str(feed),
        "BATCH_VIDEO_TTS_PROVIDER": "espeak",
    }
    figures: dict = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "products": args.count, "smoke": args.smoke,
                     "cores": os.cpu_count(), "load_average_at_start": [round(x, 1) for x in load]}
    home = out / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(instance_yaml(out).read_text())
    figures["sync"] = phase_sync(feed, {**env, "DAGSTER_HOME": str(home)})
    print(f"  feed sync: {figures['sync']}", flush=True)
    # Written after each phase too, so a long run that stops keeps what it measured.
    partial = out / "results-partial.json"
    partial.write_text(json.dumps(figures, indent=1))
    if "control-plane" not in args.skip:
        figures["control_plane"] = phase_control_plane(out, feed, env, home, args.count, args.window, args.slice,
                                                       submission="submission" not in args.skip)
        partial.write_text(json.dumps(figures, indent=1))
    if "backends" not in args.skip:
        figures["backends"] = phase_backends(out, env, args.slice, args.window, args.postgres_dsn)
        partial.write_text(json.dumps(figures, indent=1))
    if "sensor" not in args.skip:
        figures["sensor"] = phase_sensor(feed, out)
        print(f"  sensor tick: {figures['sensor']}", flush=True)
        partial.write_text(json.dumps(figures, indent=1))
    if args.render_slice:
        figures["overhead"] = phase_overhead(out, env, args.render_slice, args.full_size)
    figures["load_average_at_end"] = [round(x, 1) for x in os.getloadavg()]
    figures["bench_seconds"] = round(time.perf_counter() - started)
    figures["targets_met"] = targets_met(figures)
    (out / "results.json").write_text(json.dumps(figures, indent=1))
    partial.unlink()
    print(json.dumps(figures))
    return 0


def targets_met(figures: dict) -> dict[str, bool]:
    met = {}
    if control := figures.get("control_plane"):
        if whole := (control.get("submission") or {}).get("whole_catalog"):
            queued_s = whole["launch_to_all_queued_s"] or whole["projected_all_queued_s"]
            met["all_queued_within_10_min"] = queued_s is not None and queued_s <= TARGETS["queued_s"]
        met["status_within_5_s"] = control["status_s"] is not None and control["status_s"] <= TARGETS["status_s"]
        met["grid_query_within_5_s"] = control["grid_query_s"] <= TARGETS["grid_s"]
        met["per_product_guarantees_hold"] = all(control["guarantees"][k] for k in ("independent", "visible", "retried_alone"))
    if sensor := figures.get("sensor"):
        met["sensor_tick_within_30_s"] = sensor["tick_s"] <= TARGETS["sensor_tick_s"]
    if full := (figures.get("overhead") or {}).get("full-size"):
        met["overhead_at_most_5_pct_at_full_size"] = full["one_at_a_time"]["overhead_pct_vs_plain"] <= TARGETS["overhead_pct"]
    return met


if __name__ == "__main__":
    sys.exit(main())
