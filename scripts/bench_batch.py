"""Orchestration overhead of a real batch: `make bench-batch`.

Generates a feed of N products (default 20), starts `dagster dev` (webserver +
daemon) on a fresh instance under .bench/batch/, launches one partition
backfill over the six-stage chain through the webserver's GraphQL API (as
`batch-video batch launch` does), waits for it, then reads every run's times
from the instance and prints:

- batch wall time: first run start -> last run end (what the run queue and run
  workers cost), and launch -> last run end (adds the backfill daemon's first
  tick, up to 30 s, a fixed cost per batch);
- the sum of the products' own stage (step) times;
- orchestration overhead = batch wall time - sum of stage times, as a share of
  the batch wall time, split into per-run worker overhead (run start -> end
  minus its steps: process start, imports, loading the code location, event
  writes) and gaps between runs (queue dequeue + launch);
- `dagster_project.definitions` import time in a fresh interpreter (paid by
  every run worker).

Options: --count N, --preset NAME (default tiktok, real size), --provider
(default espeak, offline), --keep (leave .bench/batch for inspection).
Figures vary with machine load; compare runs made one after another.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_feed(out: Path, count: int) -> Path:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_sample_catalog.py"), "--count", str(count), "--out", str(out)],
        check=True, cwd=ROOT,
    )
    feed = out / "feed.xml"
    if not feed.exists():
        raise SystemExit(f"make_sample_catalog.py wrote no {feed}")
    return feed


def import_seconds(module: str, repeats: int = 3) -> float:
    """Median wall time of `import module` in a fresh interpreter (what each run worker pays)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True, cwd=ROOT)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run_figures(instance, backfill_id: str, launched_at: float, slots: int = 1) -> dict:
    """Times of a finished batch. With several run slots (workers), overhead is the share of the slots' time
    (slots x wall time) not spent in stages, and the gaps are between consecutive runs of one slot's worth."""
    import dagster as dg

    records = sorted(instance.get_run_records(dg.RunsFilter(tags={"dagster/backfill": backfill_id})),
                     key=lambda r: r.start_time or 0)
    runs = []
    for record in records:
        steps = instance.get_run_step_stats(record.dagster_run.run_id)
        step_s = sum((s.end_time - s.start_time) for s in steps if s.start_time and s.end_time)
        runs.append({
            "partition": record.dagster_run.tags.get("dagster/partition"),
            "status": record.dagster_run.status.value,
            "created": record.create_timestamp.timestamp(),
            "start": record.start_time,
            "end": record.end_time,
            "run_s": (record.end_time - record.start_time) if record.start_time and record.end_time else None,
            "steps_s": step_s,
            "steps": {s.step_key: round(s.end_time - s.start_time, 3) for s in steps if s.start_time and s.end_time},
        })
    finished = [r for r in runs if r["start"] and r["end"]]
    first_start = min(r["start"] for r in finished)
    last_end = max(r["end"] for r in finished)
    wall = last_end - first_start
    steps_total = sum(r["steps_s"] for r in finished)
    worker = [r["run_s"] - r["steps_s"] for r in finished]
    ordered = sorted(finished, key=lambda r: r["start"])
    # With several slots, consecutive runs overlap: the gap only means something for one slot.
    gaps = [b["start"] - a["end"] for a, b in zip(ordered, ordered[1:])] if slots == 1 else []
    per_stage: dict[str, float] = {}
    for r in finished:
        for key, seconds in r["steps"].items():
            per_stage[key] = per_stage.get(key, 0.0) + seconds
    return {
        "runs": len(runs),
        "statuses": {s: sum(r["status"] == s for r in runs) for s in sorted({r["status"] for r in runs})},
        "launch_to_first_start_s": first_start - launched_at,
        "launch_to_last_end_s": last_end - launched_at,
        "wall_s": wall,
        "steps_s": steps_total,
        "overhead_s": slots * wall - steps_total,
        "overhead_pct": 100.0 * (slots * wall - steps_total) / (slots * wall) if wall else 0.0,
        "per_run_worker_overhead_s": {"mean": statistics.mean(worker), "min": min(worker), "max": max(worker)},
        "gap_between_runs_s": {"mean": statistics.mean(gaps) if gaps else 0.0, "max": max(gaps) if gaps else 0.0},
        "per_stage_s": {k: round(v, 2) for k, v in per_stage.items()},
        "per_run": runs,
    }


def run_batch(client, instance, feed: Path, timeout_s: float, *, slots: int = 1) -> tuple[dict, list]:
    """Sync the feed's products into partitions, launch one backfill of all of them through the webserver (as
    `batch-video batch launch` does) and follow it to the end: the batch's figures (run_figures) and its rows."""
    from batch_video.catalog import load_catalog
    from batch_video.stages import STAGES
    from dagster_project.automation.feed_sync import sync_feed_partitions
    from dagster_project.console.batch import follow_backfill

    catalog = load_catalog(str(feed))
    sync_feed_partitions(instance, catalog)
    keys = [product.key for product in catalog.products]
    launched_at = time.time()
    backfill_id = client.launch_backfill(keys, STAGES, title=f"bench-batch {len(keys)} products",
                                         tags={"batch_video/launched_by": "bench-batch"})
    print(f"backfill {backfill_id}: {len(keys)} products")
    # Poll gently: the webserver shares the two cores with the renders being measured.
    backfill, rows = follow_backfill(client, backfill_id, poll_s=5.0, timeout_s=timeout_s)
    marked_done_s = time.time() - launched_at
    figures = run_figures(instance, backfill_id, launched_at, slots=slots)
    figures.update({
        "products": len(keys), "run_worker_slots": slots, "backfill_id": backfill_id,
        "backfill_status": backfill["status"], "launch_to_backfill_done_s": marked_done_s,
    })
    return figures, rows


def print_batch(figures: dict, rows: list) -> None:
    """What every batch benchmark prints first: its runs, its first failures, its wall time and stage times."""
    print(f"runs: {figures['runs']} {figures['statuses']}; backfill {figures['backfill_status'].lower()}")
    for row in [r for r in rows if r.status != "succeeded"][:5]:
        print(f"  {row.partition_key}: {row.status} at {row.stage}: {row.error_line}")
    print(f"batch wall time (first run start -> last run end): {figures['wall_s']:.1f} s "
          f"on {figures['run_worker_slots']} run slot(s)")
    print(f"  launch -> first run start: {figures['launch_to_first_start_s']:.1f} s (backfill daemon tick)")
    print(f"  launch -> last run end: {figures['launch_to_last_end_s']:.1f} s; "
          f"backfill marked done after {figures['launch_to_backfill_done_s']:.1f} s")
    print(f"sum of stage (step) times: {figures['steps_s']:.1f} s  "
          + ", ".join(f"{k} {v:.1f}" for k, v in figures["per_stage_s"].items()))


def first_product_key(feed: Path) -> str:
    from batch_video.catalog import load_catalog

    return load_catalog(str(feed)).products[0].key


def first_run_start(instance, backfill_id: str, timeout_s: float) -> float | None:
    """Wall-clock start time of the backfill's first run, waiting for it (None after `timeout_s`)."""
    import dagster as dg

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        starts = [r.start_time for r in instance.get_run_records(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
                  if r.start_time]
        if starts:
            return min(starts)
        time.sleep(0.2)
    return None


def wait_runs_finished(instance, backfill_id: str, timeout_s: float) -> None:
    import dagster as dg

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runs = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
        if runs and all(run.is_finished for run in runs):
            return
        time.sleep(0.5)


def first_start_latency(out: Path, key: str, launches: int, instance_yaml: Path, timeout_s: float) -> dict:
    """Launch -> first run start of a one-product batch, `launches` times for each way Dagster can be running.

    - `daemon_running`: `dagster dev` is up (as with `make dev`, and for a launch from the UI): the
      backfill daemon takes the batch at its next pass, every 30 s. Launches are spread over that loop
      by a random pause between them (seeded, so runs compare).
    - `daemon_after_launch`: the webserver and code server are up and the daemon starts right after
      the launch (what `make demo` and this benchmark's batch do): its first pass takes the batch.
    Each batch renders one product at the `preview` preset (the figure is the time before it starts).
    """
    import random

    import dagster as dg

    from batch_video.catalog import load_catalog
    from batch_video.stages import STAGES
    from dagster_project.automation.feed_sync import sync_feed_partitions
    from scripts.local_dagster import LocalDagster

    rng = random.Random(18)
    tags = {"batch_video/launched_by": "bench-batch", "batch_video/setting/preset": "preview"}
    figures: dict[str, dict] = {}
    for mode in ("daemon_running", "daemon_after_launch"):
        home = out / f"latency-{mode}"
        os.environ["DAGSTER_HOME"] = str(home)
        samples = []
        # A generous start-up ceiling (not a figure): on a shared machine the three processes can take minutes.
        server = LocalDagster(home, instance_yaml=instance_yaml, daemon_after_launch=mode == "daemon_after_launch",
                              startup_timeout_s=900)
        with server as client:
            instance = dg.DagsterInstance.get()
            sync_feed_partitions(instance, load_catalog(os.environ["BATCH_VIDEO_FEED_URL"]))
            for index in range(launches):
                if mode == "daemon_running":
                    time.sleep(rng.uniform(0, 30))
                launched_at = time.time()
                backfill_id = client.launch_backfill([key], STAGES, title=f"bench-batch latency {index + 1}", tags=tags)
                if mode == "daemon_after_launch":
                    server.start_daemon()
                started = first_run_start(instance, backfill_id, timeout_s)
                samples.append(round(started - launched_at, 2) if started else None)
                print(f"  [{mode}] launch {index + 1}/{launches}: first run started after {samples[-1]} s", flush=True)
                wait_runs_finished(instance, backfill_id, timeout_s)
                if mode == "daemon_after_launch":
                    server.stop_daemon()
        measured = [s for s in samples if s is not None]
        figures[mode] = {
            "samples_s": samples,
            "median_s": statistics.median(measured) if measured else None,
            "max_s": max(measured) if measured else None,
        }
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--preset", default="tiktok")
    parser.add_argument("--provider", default="espeak")
    parser.add_argument("--out", type=Path, default=ROOT / ".bench" / "batch")
    parser.add_argument("--keep", action="store_true", help="keep the instance, data and videos")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--instance-yaml", type=Path, default=ROOT / "deploy" / "local" / "dagster.yaml",
                        help="instance settings to measure (default: the local profile, deploy/local/dagster.yaml, as `make dev` uses)")
    parser.add_argument("--launches", type=int, default=5,
                        help="one-product launches per way of running Dagster for launch_to_first_start_s (median)")
    parser.add_argument("--latency-only", action="store_true", help="measure launch -> first start only, no batch")
    args = parser.parse_args(argv)

    from scripts.local_dagster import LocalDagster

    out = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    feed = make_feed(out / "feed", args.count)
    env = {
        "BATCH_VIDEO_DATA_DIR": str(out / "data"),
        "BATCH_VIDEO_OUTPUT_DIR": str(out / "output"),
        "BATCH_VIDEO_FEED_URL": str(feed),
        "BATCH_VIDEO_PRESET": args.preset,
        "BATCH_VIDEO_TTS_PROVIDER": args.provider,
    }
    os.environ.update(env)

    print(f"launch -> first run start, {args.launches} one-product launches each way:")
    latency = first_start_latency(out, first_product_key(feed), args.launches, args.instance_yaml, timeout_s=300)
    for mode, figures in latency.items():
        print(f"  {mode}: median {figures['median_s']} s, max {figures['max_s']} s ({figures['samples_s']})")
    running, after = latency["daemon_running"]["median_s"], latency["daemon_after_launch"]["median_s"]
    if running and after:
        print(f"  ratio daemon_running / daemon_after_launch: {running / after:.1f}")
    if args.latency_only:
        (out / "results.json").write_text(json.dumps({"launch_to_first_start": latency}, indent=1))
        return 0

    home = out / "dagster_home"
    os.environ["DAGSTER_HOME"] = str(home)

    print(f"bench-batch: {args.count} products, preset {args.preset}, voice {args.provider}, {os.cpu_count()} cores")
    definitions_import_s = import_seconds("dagster_project.definitions")
    dagster_import_s = import_seconds("dagster")
    print(f"import dagster: {dagster_import_s:.2f} s; import dagster_project.definitions: {definitions_import_s:.2f} s (fresh interpreter, median of 3)")

    server = LocalDagster(home, instance_yaml=args.instance_yaml, startup_timeout_s=900)
    started = time.monotonic()
    with server as client:
        print(f"dagster dev up in {time.monotonic() - started:.1f} s at {client.url}")
        import dagster as dg

        figures, rows = run_batch(client, dg.DagsterInstance.get(), feed, args.timeout)
    figures.update({
        "preset": args.preset, "provider": args.provider, "cores": os.cpu_count(),
        "import_dagster_s": dagster_import_s, "import_definitions_s": definitions_import_s,
    })
    (out / "results.json").write_text(json.dumps(figures, indent=1))

    print()
    print_batch(figures, rows)
    verdict = "target met" if figures["overhead_pct"] <= 15.0 else "target NOT met"
    print(f"orchestration overhead: {figures['overhead_s']:.1f} s = {figures['overhead_pct']:.1f}% of the batch wall time "
          f"(target <= 15%: {verdict})")
    worker, gaps = figures["per_run_worker_overhead_s"], figures["gap_between_runs_s"]
    print(f"  per run: worker overhead {worker['mean']:.2f} s mean ({worker['min']:.2f}-{worker['max']:.2f}); "
          f"gap between runs {gaps['mean']:.2f} s mean (max {gaps['max']:.2f})")
    per_product = figures["overhead_s"] / max(len(finished_runs := [r for r in figures["per_run"] if r["run_s"]]), 1)
    stage_mean = figures["steps_s"] / max(len(finished_runs), 1)
    print(f"  per product: {stage_mean:.1f} s in stages, {per_product:.1f} s of orchestration "
          f"(15% needs >= {per_product * 85 / 15:.1f} s of stage time per product at this overhead)")
    print(f"results: {out / 'results.json'}")
    if not args.keep:
        for name in ("data", "output", "feed"):
            shutil.rmtree(out / name, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
