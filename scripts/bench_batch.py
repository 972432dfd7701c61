"""Orchestration overhead of a real batch: `make bench-batch`.

First, launch -> first run start of one-product batches (`--launches` each,
medians), split into (a) the backfill daemon's pass (launch -> the run is
queued: Dagster's 30 s loop) and (b) queued -> started (the run queue's
dequeue, the launcher and the run's process: the project's part), in four
setups side by side: with the daemon running, the local profile's settings,
the same with a run worker that does not open the instance before forking
(as before), and Dagster's defaults (a dequeue every 5 s, `DefaultRunLauncher`);
and the daemon started right after the launch (as `make demo` does).

Then generates a feed of N products (default 20), starts `dagster dev` (webserver +
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
(default espeak, offline), --keep (leave .bench/batch for inspection),
--launches N, --latency-setups A,B, --latency-only (no batch).
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
from dataclasses import dataclass
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
            "run_id": record.dagster_run.run_id,
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
    pairs = list(zip(ordered, ordered[1:])) if slots == 1 else []
    gaps = [b["start"] - a["end"] for a, b in pairs]
    splits = [split_gap(a["end"], events) for a, b in pairs
              if {"dequeued", "process", "started"} <= (events := run_event_times(instance, b["run_id"])).keys()]
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
        # The gap's parts, mean of each (empty with several slots).
        "gap_split_s": {part: statistics.mean(split[part] for split in splits) for part in splits[0]} if splits else {},
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


def gap_parts(figures: dict) -> str:
    """The gap between runs in its parts, for the printed line ("" with several run slots)."""
    split = figures.get("gap_split_s") or {}
    if not split:
        return ""
    return (f": run queue {split['end_to_dequeued_s']:.2f} s, hand-off to the run's process "
            f"{split['dequeued_to_process_s']:.2f} s, run start {split['process_to_started_s']:.2f} s")


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


def bench_parser(description: str, *, count: int, out: Path) -> argparse.ArgumentParser:
    """The options every batch benchmark takes: how many products, at which preset and voice, where, how long."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=count)
    parser.add_argument("--preset", default="tiktok")
    parser.add_argument("--provider", default="espeak")
    parser.add_argument("--out", type=Path, default=out)
    parser.add_argument("--keep", action="store_true", help="keep the instances, data and videos")
    parser.add_argument("--timeout", type=float, default=3600)
    return parser


def bench_env(root: Path, feed: Path, args: argparse.Namespace) -> dict[str, str]:
    """The settings a benchmark's batch runs with: its own data and output folders, its feed, preset and voice."""
    return {
        "BATCH_VIDEO_DATA_DIR": str(root / "data"),
        "BATCH_VIDEO_OUTPUT_DIR": str(root / "output"),
        "BATCH_VIDEO_FEED_URL": str(feed),
        "BATCH_VIDEO_PRESET": args.preset,
        "BATCH_VIDEO_TTS_PROVIDER": args.provider,
    }


def first_product_key(feed: Path) -> str:
    from batch_video.catalog import load_catalog

    return load_catalog(str(feed)).products[0].key


# What a launch waits for before its first product starts, in order. The backfill daemon's pass creates the
# run and puts it in the run queue (Dagster's part: its loop runs every 30 s, no setting); then the queue hands
# it to the run launcher, which starts it (the project's part: dequeue interval, launcher, run process start).
RUN_EVENTS = {"RUN_ENQUEUED": "queued", "RUN_STARTING": "dequeued", "RUN_START": "started"}
TARGET_PROJECT_PART_S = 5.0


# The engine event Dagster's run body writes once the run's process has its instance and run in hand.
PROCESS_STARTED = "Started process for run"


def run_event_times(instance, run_id: str) -> dict[str, float]:
    """Wall-clock times a run was queued, dequeued (handed to the launcher), had its own process ("process") and
    started (its first event each)."""
    import dagster as dg

    kinds = {getattr(dg.DagsterEventType, name): label for name, label in RUN_EVENTS.items()}
    times: dict[str, float] = {}
    for entry in instance.all_logs(run_id, of_type={*kinds, dg.DagsterEventType.ENGINE_EVENT}):
        kind = entry.dagster_event.event_type
        if kind in kinds:
            times.setdefault(kinds[kind], entry.timestamp)
        elif (entry.dagster_event.message or "").startswith(PROCESS_STARTED):
            times.setdefault("process", entry.timestamp)
    return times


def split_gap(previous_end: float, events: dict[str, float]) -> dict[str, float]:
    """One run's end -> the next one's start (one run slot), in its parts: the run queue's dequeue (Dagster's loop,
    every `dequeue_interval_seconds`); the hand-off until the run has a process (the launcher, the broker, the run
    worker: the project's); the run's start in that process (Dagster's run body)."""
    return {
        "end_to_dequeued_s": events["dequeued"] - previous_end,
        "dequeued_to_process_s": events["process"] - events["dequeued"],
        "process_to_started_s": events["started"] - events["process"],
    }


def split_first_start(launched_at: float, events: dict[str, float]) -> dict[str, float]:
    """Launch -> first start in its parts: (a) the daemon's pass (Dagster's), (b) queued -> started (the project's)."""
    return {
        "launch_to_first_start_s": events["started"] - launched_at,
        "daemon_pass_s": events["queued"] - launched_at,
        "queued_to_started_s": events["started"] - events["queued"],
        "queued_to_dequeued_s": events["dequeued"] - events["queued"],
        "dequeued_to_started_s": events["started"] - events["dequeued"],
    }


def first_run_split(instance, backfill_id: str, launched_at: float, timeout_s: float) -> dict[str, float] | None:
    """The split of the backfill's first run's start, waiting for it to start (None after `timeout_s`)."""
    import dagster as dg

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        started = [r for r in instance.get_run_records(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
                   if r.start_time]
        if started:
            first = min(started, key=lambda r: r.start_time)
            return split_first_start(launched_at, run_event_times(instance, first.dagster_run.run_id))
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


@dataclass(frozen=True)
class LatencySetup:
    """One way of running Dagster whose launch -> first start is measured."""

    name: str
    description: str
    instance_yaml: Path
    daemon_after_launch: bool = False
    worker_env: tuple[tuple[str, str], ...] = ()  # the run worker's environment, when the profile has one


def dagster_defaults_yaml(profile: Path, out: Path) -> Path:
    """The profile's instance settings with Dagster's own run queue and launcher defaults: a dequeue every 5 s
    and `DefaultRunLauncher` (a new `dagster api execute_run` process per run): the setting before the project's."""
    import yaml

    settings = yaml.safe_load(profile.read_text())
    settings.pop("run_launcher", None)
    settings["run_queue"] = {k: v for k, v in settings.get("run_queue", {}).items() if k != "dequeue_interval_seconds"}
    out.write_text(yaml.safe_dump(settings, sort_keys=False))
    return out


def latency_setups(out: Path, profile: Path) -> list[LatencySetup]:
    from dagster_project.run_worker import WARM_UP_ENV

    defaults = dagster_defaults_yaml(profile, out / "dagster-defaults.yaml")
    name = profile.relative_to(ROOT) if profile.is_relative_to(ROOT) else profile
    return [
        LatencySetup("current", f"daemon running, {name} (run queue every 1 s, Celery run worker, instance opened "
                     "before the fork)", profile),
        LatencySetup("no_warm_up", f"daemon running, {name}, each run opening the instance cold "
                     f"({WARM_UP_ENV}=0: the worker before 2026-11-30)", profile, worker_env=((WARM_UP_ENV, "0"),)),
        LatencySetup("dagster_defaults", "daemon running, Dagster's defaults (run queue every 5 s, "
                     "DefaultRunLauncher: a new process per run)", defaults),
        LatencySetup("daemon_after_launch", "daemon started right after the launch (make demo), current settings",
                     profile, daemon_after_launch=True),
    ]


def first_start_latency(out: Path, key: str, launches: int, setups: list[LatencySetup], timeout_s: float) -> dict:
    """Launch -> first run start of a one-product batch, `launches` times in each setup, split in its parts.

    The setups whose daemon keeps running (as with `make dev`, and for a launch from the UI) are up at the same
    time and take turns, so both see the same machine load; their daemon takes each batch at its next pass,
    every 30 s: launches are spread over that loop by a random pause before each (seeded, so runs compare).
    A `daemon_after_launch` setup (what `make demo` does) starts the daemon right after each launch: its first
    pass takes the batch. Each batch renders one product at the `preview` preset and finishes before the next.
    """
    import contextlib
    import random

    import dagster as dg

    from batch_video.catalog import load_catalog
    from batch_video.stages import STAGES
    from dagster_project.automation.feed_sync import sync_feed_partitions
    from scripts.local_dagster import LocalDagster, RunWorker

    rng = random.Random(18)
    tags = {"batch_video/launched_by": "bench-batch", "batch_video/setting/preset": "preview"}
    catalog = load_catalog(os.environ["BATCH_VIDEO_FEED_URL"])
    samples: dict[str, list] = {setup.name: [] for setup in setups}

    def measure(setup: LatencySetup, server: LocalDagster, client, instance, index: int) -> None:
        if not setup.daemon_after_launch:
            time.sleep(rng.uniform(0, 30))
        launched_at = time.time()
        backfill_id = client.launch_backfill([key], STAGES, title=f"bench-batch latency {index + 1}", tags=tags)
        if setup.daemon_after_launch:
            server.start_daemon()
        split = first_run_split(instance, backfill_id, launched_at, timeout_s)
        samples[setup.name].append(split)
        shown = (f"{split['launch_to_first_start_s']:.2f} s = daemon pass {split['daemon_pass_s']:.2f} "
                 f"+ queued -> started {split['queued_to_started_s']:.2f}") if split else f"not within {timeout_s:.0f} s"
        print(f"  [{setup.name}] launch {index + 1}/{launches}: first run started after {shown}", flush=True)
        wait_runs_finished(instance, backfill_id, timeout_s)
        if setup.daemon_after_launch:
            server.stop_daemon()

    def open_server(stack: contextlib.ExitStack, setup: LatencySetup):
        home = out / f"latency-{setup.name}"
        # A generous start-up ceiling (not a figure): on a shared machine the three processes can take minutes.
        workers = [RunWorker("local", env=dict(setup.worker_env))] if setup.worker_env else None
        server = LocalDagster(home, instance_yaml=setup.instance_yaml, daemon_after_launch=setup.daemon_after_launch,
                              startup_timeout_s=900, workers=workers)
        client = stack.enter_context(server)
        instance = stack.enter_context(dg.DagsterInstance.from_config(str(home)))
        sync_feed_partitions(instance, catalog)
        return server, client, instance

    running = [s for s in setups if not s.daemon_after_launch]
    with contextlib.ExitStack() as stack:
        opened = {setup.name: open_server(stack, setup) for setup in running}
        for index in range(launches):
            # Alternate which goes first, so neither always follows the other's render.
            for setup in (running if index % 2 == 0 else running[::-1]):
                measure(setup, *opened[setup.name], index)
    for setup in (s for s in setups if s.daemon_after_launch):
        with contextlib.ExitStack() as stack:
            opened = open_server(stack, setup)
            for index in range(launches):
                measure(setup, *opened, index)

    figures: dict[str, dict] = {}
    for setup in setups:
        measured = [s for s in samples[setup.name] if s]
        figures[setup.name] = {
            "description": setup.description,
            "samples": samples[setup.name],
            "median_s": {part: round(statistics.median(s[part] for s in measured), 2) for part in measured[0]}
            if measured else None,
            "max_s": max(s["launch_to_first_start_s"] for s in measured) if measured else None,
        }
    return figures


def print_latency(latency: dict) -> None:
    print("launch -> first run start, medians (s): (a) daemon's pass (Dagster) + (b) queued -> started (the project)")
    print(f"  {'setup':<20} {'total':>7} {'(a) pass':>9} {'(b)':>6} {'(b) dequeue':>12} {'(b) launch+start':>17}")
    for name, figures in latency.items():
        median = figures["median_s"]
        if not median:
            print(f"  {name:<20} no run started")
            continue
        print(f"  {name:<20} {median['launch_to_first_start_s']:7.2f} {median['daemon_pass_s']:9.2f} "
              f"{median['queued_to_started_s']:6.2f} {median['queued_to_dequeued_s']:12.2f} "
              f"{median['dequeued_to_started_s']:17.2f}   {figures['description']}")
    current = latency.get("current", {}).get("median_s")
    for other in ("no_warm_up", "dagster_defaults"):
        median = latency.get(other, {}).get("median_s")
        if current and median:
            print(f"  (b) {other} / current: {median['queued_to_started_s'] / current['queued_to_started_s']:.1f}x")
    if current:
        met = current["queued_to_started_s"] < TARGET_PROJECT_PART_S
        print(f"  (b) current {current['queued_to_started_s']:.2f} s (target < {TARGET_PROJECT_PART_S:.0f} s: "
              f"{'met' if met else 'NOT met'}); (a) is the backfill daemon's 30 s loop (0-30 s, 15 s on average)")


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__, count=20, out=ROOT / ".bench" / "batch")
    parser.add_argument("--instance-yaml", type=Path, default=ROOT / "deploy" / "local" / "dagster.yaml",
                        help="instance settings to measure (default: the local profile, deploy/local/dagster.yaml, as `make dev` uses)")
    parser.add_argument("--launches", type=int, default=5,
                        help="one-product launches per setup for launch_to_first_start_s and its parts (medians)")
    parser.add_argument("--latency-only", action="store_true", help="measure launch -> first start only, no batch")
    parser.add_argument("--latency-setups", type=lambda text: text.split(","),
                        default=["current", "no_warm_up", "dagster_defaults", "daemon_after_launch"],
                        help="comma-separated: current, no_warm_up, dagster_defaults, daemon_after_launch (default: all)")
    args = parser.parse_args(argv)

    from scripts.local_dagster import LocalDagster

    out = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    feed = make_feed(out / "feed", args.count)
    os.environ.update(bench_env(out, feed, args))

    print(f"launch -> first run start, {args.launches} one-product launches in each setup:")
    setups = [s for s in latency_setups(out, args.instance_yaml.resolve()) if s.name in args.latency_setups]
    latency = first_start_latency(out, first_product_key(feed), args.launches, setups, timeout_s=600)
    print_latency(latency)
    print(f"load average (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    if args.latency_only:
        (out / "results.json").write_text(json.dumps({"launch_to_first_start": latency,
                                                      "load_average": os.getloadavg()}, indent=1))
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
        "launch_to_first_start": latency, "load_average": os.getloadavg(),
    })
    (out / "results.json").write_text(json.dumps(figures, indent=1))

    print()
    print_batch(figures, rows)
    verdict = "target met" if figures["overhead_pct"] <= 15.0 else "target NOT met"
    print(f"orchestration overhead: {figures['overhead_s']:.1f} s = {figures['overhead_pct']:.1f}% of the batch wall time "
          f"(target <= 15%: {verdict})")
    worker, gaps = figures["per_run_worker_overhead_s"], figures["gap_between_runs_s"]
    print(f"  per run: worker overhead {worker['mean']:.2f} s mean ({worker['min']:.2f}-{worker['max']:.2f}); "
          f"gap between runs {gaps['mean']:.2f} s mean (max {gaps['max']:.2f}){gap_parts(figures)}")
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
