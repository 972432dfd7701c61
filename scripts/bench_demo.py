"""The fixed costs of `make demo`, step by step, now and as it ran before: `make bench-demo`.

Works on a copy of the sample catalog and its own instance under .bench/demo/
(the checkout's .dagster_home, data/ and output/ are not touched). After a first
demo run that renders every product (not a target), it runs, `--reps` times and
alternating which goes first, each scenario with both flows:

- scenarios: `up_to_date` (nothing changed since the last run) and `one_changed`
  (one product's price edited in the feed copy just before);
- flows: `current` (decide before starting Dagster; the backfill is taken by the
  daemon's first pass, started right after the launch; done when every product
  has finished) and `previous` (`dagster dev` started whole, the batch taken at
  the daemon's next pass, waiting for the daemon to mark the backfill finished,
  and the sample's broken product re-run every time).

Prints the median seconds of every step per scenario and flow, the setup checks
(`make setup` with nothing to do, median of 5) and the totals, with ratios; writes
.bench/demo/results.json. Targets: up to date <= 20 s, saying that nothing needed
rendering; one changed product <= 40 s plus that product's own stage time; each
setup check well under a second.

Bounded under load: a demo run past 20 min is stopped (as Ctrl-C would) and
counted as timed out, and no repetition after the first starts if the last one's
length would end the bench past `--budget-min` (default 30). Its own port and
folders: it never meets a `make demo` or `make dev` of the checkout.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHANGED_PRODUCT = "ULEI-EVO-750"
PRICES = ("88 RON", "89 RON")
TARGET_UP_TO_DATE_S = 20.0
TARGET_ONE_CHANGED_S = 40.0
TARGET_SETUP_CHECK_S = 0.5
# Ceilings (not figures): one demo run past DEMO_TIMEOUT_S is stopped and recorded as timed out, and no
# repetition starts once the last one would end past --budget-min: the bench ends in bounded time under load.
DEMO_TIMEOUT_S = 1200.0
STOP_GRACE_S = 120.0


def timed(argv: list[str], *, env: dict[str, str] | None = None, check: bool = True) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if check and done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}")
    return seconds, done


def setup_checks(repeats: int = 5) -> dict[str, float]:
    """Median seconds of each setup step `make demo` runs before the demo, when there is nothing to do."""
    figures = {}
    for name, argv in (
        ("system packages check (scripts/install_system_deps.sh)", ["scripts/install_system_deps.sh"]),
        ("venv check (make -q .venv/.installed)", ["make", "-q", ".venv/.installed"]),
        ("make setup (both)", ["make", "-s", "setup"]),
    ):
        figures[name] = statistics.median(timed(argv)[0] for _ in range(repeats))
    return figures


def change_price(feed: Path, product_id: str) -> None:
    """Give the product the one of PRICES it does not have now (the sample's own price is one of them): a change."""
    text = feed.read_text(encoding="utf-8")
    item = re.compile(r"(<g:id>" + re.escape(product_id) + r"</g:id>.*?<g:price>)([^<]*)(</g:price>)", re.S)
    new, count = item.subn(lambda m: m.group(1) + PRICES[m.group(2) == PRICES[0]] + m.group(3), text, count=1)
    if count != 1:
        raise SystemExit(f"no <g:price> for {product_id} in {feed}")
    feed.write_text(new, encoding="utf-8")


def changed_stage_seconds(home: Path) -> float:
    """Stage (step) seconds of the changed product's latest run: its own work."""
    os.environ["DAGSTER_HOME"] = str(home)
    import dagster as dg

    from batch_video.feed import slugify_key

    with dg.DagsterInstance.get() as instance:
        records = instance.get_run_records(dg.RunsFilter(tags={"dagster/partition": slugify_key(CHANGED_PRODUCT)}), limit=1)
        if not records:
            return 0.0
        steps = instance.get_run_step_stats(records[0].dagster_run.run_id)
        return sum(s.end_time - s.start_time for s in steps if s.start_time and s.end_time)


def stop(process: subprocess.Popen) -> None:
    """Stop a demo past its ceiling as Ctrl-C would (it stops the Dagster it started), else kill all it started."""
    from dagster_project.process_tree import kill_tree

    process.send_signal(signal.SIGINT)
    try:
        process.communicate(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        kill_tree(process.pid)
        process.communicate()


def run_demo(env: dict[str, str], timings: Path, previous: bool, timeout_s: float = DEMO_TIMEOUT_S) -> dict:
    """One `scripts/demo.py` run: wall seconds (None past `timeout_s`), its steps' seconds, what it said."""
    argv = [sys.executable, "scripts/demo.py"] + (["--previous-flow"] if previous else [])
    timings.unlink(missing_ok=True)
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=ROOT, env={**env, "BATCH_VIDEO_DEMO_TIMINGS": str(timings)},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        stdout, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        stop(process)
        return {"wall_s": None, "steps": {}, "started_dagster": True, "nothing_to_render": False, "timed_out": True}
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        sys.stderr.write(stdout[-6000:])
        raise SystemExit(f"{' '.join(argv)} exited {process.returncode}")
    steps = json.loads(timings.read_text()) if timings.exists() else {}
    return {"wall_s": seconds, "steps": steps, "started_dagster": "starting Dagster" in stdout,
            "nothing_to_render": "nothing needed rendering" in stdout, "timed_out": False}


def shown_s(seconds: float | None) -> str:
    return f"{seconds:7.2f}" if seconds is not None else "timeout"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--budget-min", type=float, default=30.0,
                        help="no repetition starts after the first once the last one's length would end the bench "
                             "past this many minutes (default 30)")
    parser.add_argument("--out", type=Path, default=ROOT / ".bench" / "demo")
    args = parser.parse_args(argv)

    from batch_video.sample import SAMPLE_DIR
    from scripts.local_dagster import free_port

    out = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    sample = out / "sample"
    shutil.copytree(SAMPLE_DIR, sample, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    feed = sample / "feed.xml"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(out / "dagster_home"),
        "BATCH_VIDEO_DATA_DIR": str(out / "data"),
        "BATCH_VIDEO_OUTPUT_DIR": str(out / "output"),
        "BATCH_VIDEO_FEED_URL": str(feed),
        "BATCH_VIDEO_TTS_PROVIDER": "espeak",
        "BATCH_VIDEO_DEMO_PORT": str(free_port()),
    }
    timings = out / "timings.json"

    load_at_start = os.getloadavg()
    print(f"load average (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in load_at_start)} on {os.cpu_count()} cores")
    checks = setup_checks()
    print("setup checks with nothing to do (median of 5):")
    for name, seconds in checks.items():
        print(f"  {name}: {seconds:.3f} s")
    print("first demo run (renders every product; not a target)...", flush=True)
    bench_started = time.monotonic()
    first = run_demo(env, timings, previous=False, timeout_s=3 * DEMO_TIMEOUT_S)
    if first["timed_out"]:
        raise SystemExit(f"the first demo run did not finish within {3 * DEMO_TIMEOUT_S:.0f} s")
    print(f"  {first['wall_s']:.1f} s")

    results: dict[str, dict[str, list[dict]]] = {s: {"previous": [], "current": []} for s in ("one_changed", "up_to_date")}
    rep_s = 0.0
    for rep in range(args.reps):
        elapsed = time.monotonic() - bench_started
        if rep and elapsed + rep_s > args.budget_min * 60:
            print(f"  stopping after {rep} repetition(s): another would end past --budget-min {args.budget_min:.0f}")
            break
        rep_started = time.monotonic()
        flows = ("previous", "current") if rep % 2 == 0 else ("current", "previous")
        for flow in flows:
            change_price(feed, CHANGED_PRODUCT)
            for scenario in ("one_changed", "up_to_date"):
                figures = run_demo(env, timings, previous=flow == "previous")
                if scenario == "one_changed" and not figures["timed_out"]:
                    figures["product_stage_s"] = changed_stage_seconds(Path(env["DAGSTER_HOME"]))
                results[scenario][flow].append(figures)
                shown = f"{figures['wall_s']:6.1f} s" if not figures["timed_out"] else f"timed out ({DEMO_TIMEOUT_S:.0f} s)"
                print(f"  rep {rep + 1} {flow:<8} {scenario:<11} {shown}"
                      + (f" (product stages {figures['product_stage_s']:.1f} s)" if "product_stage_s" in figures else ""),
                      flush=True)
        rep_s = time.monotonic() - rep_started

    setup_s = checks["make setup (both)"]
    summary: dict[str, dict] = {}
    for scenario, flows in results.items():
        summary[scenario] = {}
        for flow, all_runs in flows.items():
            runs = [r for r in all_runs if not r["timed_out"]]
            step_names = list(dict.fromkeys(name for run in runs for name in run["steps"]))
            summary[scenario][flow] = {
                # None when every run timed out (no target met).
                "make_demo_s": setup_s + statistics.median(r["wall_s"] for r in runs) if runs else None,
                "runs_s": [round(r["wall_s"], 2) if r["wall_s"] is not None else None for r in all_runs],
                "timed_out": sum(r["timed_out"] for r in all_runs),
                "steps_s": {name: statistics.median(r["steps"].get(name, 0.0) for r in runs) for name in step_names},
                "product_stage_s": statistics.median(r.get("product_stage_s", 0.0) for r in runs) if runs else 0.0,
                "started_dagster": any(r["started_dagster"] for r in all_runs),
                "said_nothing_to_render": bool(runs) and all(r["nothing_to_render"] for r in runs),
            }

    for scenario in ("up_to_date", "one_changed"):
        print(f"\n{scenario}: median seconds per step (previous -> current)")
        prev, cur = summary[scenario]["previous"], summary[scenario]["current"]
        for name in dict.fromkeys([*prev["steps_s"], *cur["steps_s"]]):
            print(f"  {name:<50} {prev['steps_s'].get(name, 0.0):7.2f} -> {cur['steps_s'].get(name, 0.0):7.2f}")
        ratio = f"{prev['make_demo_s'] / cur['make_demo_s']:.1f}x" if prev["make_demo_s"] and cur["make_demo_s"] else "-"
        print(f"  {'make demo in all (setup checks + demo)':<50} {shown_s(prev['make_demo_s'])} -> "
              f"{shown_s(cur['make_demo_s'])}  ({ratio}; timed out: {prev['timed_out']} -> {cur['timed_out']})")

    cur_up, cur_one = summary["up_to_date"]["current"], summary["one_changed"]["current"]
    targets_met = {
        "up_to_date_within_20_s_saying_nothing_to_render": cur_up["make_demo_s"] is not None
        and cur_up["make_demo_s"] <= TARGET_UP_TO_DATE_S and not cur_up["started_dagster"]
        and cur_up["said_nothing_to_render"],
        "one_changed_within_40_s_plus_its_stages": cur_one["make_demo_s"] is not None
        and cur_one["make_demo_s"] <= TARGET_ONE_CHANGED_S + cur_one["product_stage_s"],
        "setup_checks_under_half_a_second": all(s <= TARGET_SETUP_CHECK_S for s in checks.values()),
    }
    document = {"setup_checks_s": checks, "first_run_s": first["wall_s"], "scenarios": summary,
                "targets_met": targets_met, "reps": len(results["up_to_date"]["current"]), "cores": os.cpu_count(),
                "load_average_at_start": load_at_start, "load_average": os.getloadavg(),
                "bench_s": time.monotonic() - bench_started}
    (out / "results.json").write_text(json.dumps(document, indent=1))
    print()

    def rounded(value: float | None) -> float | None:
        return round(value, 2) if value is not None else None

    print(json.dumps({"up_to_date_s": rounded(cur_up["make_demo_s"]),
                      "up_to_date_previous_s": rounded(summary["up_to_date"]["previous"]["make_demo_s"]),
                      "one_changed_s": rounded(cur_one["make_demo_s"]),
                      "one_changed_previous_s": rounded(summary["one_changed"]["previous"]["make_demo_s"]),
                      "one_changed_product_stage_s": round(cur_one["product_stage_s"], 2),
                      "targets_met": targets_met, "load_average": [round(x, 1) for x in os.getloadavg()]}))
    print(f"results: {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
