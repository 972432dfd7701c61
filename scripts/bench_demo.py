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
.bench/demo/results.json. Targets: up to date <= 20 s; one changed product <= 40 s
plus that product's own stage time; each setup check well under a second.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
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


def set_price(feed: Path, product_id: str, price: str) -> None:
    text = feed.read_text(encoding="utf-8")
    item = re.compile(r"(<g:id>" + re.escape(product_id) + r"</g:id>.*?<g:price>)[^<]*(</g:price>)", re.S)
    new, count = item.subn(lambda m: m.group(1) + price + m.group(2), text, count=1)
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


def run_demo(env: dict[str, str], timings: Path, previous: bool) -> dict:
    argv = [sys.executable, "scripts/demo.py"] + (["--previous-flow"] if previous else [])
    timings.unlink(missing_ok=True)
    seconds, done = timed(argv, env={**env, "BATCH_VIDEO_DEMO_TIMINGS": str(timings)})
    steps = json.loads(timings.read_text()) if timings.exists() else {}
    return {"wall_s": seconds, "steps": steps, "started_dagster": "starting Dagster" in done.stdout,
            "nothing_to_render": "nothing needed rendering" in done.stdout}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3)
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

    checks = setup_checks()
    print("setup checks with nothing to do (median of 5):")
    for name, seconds in checks.items():
        print(f"  {name}: {seconds:.3f} s")
    print("first demo run (renders every product; not a target)...", flush=True)
    first = run_demo(env, timings, previous=False)
    print(f"  {first['wall_s']:.1f} s")

    results: dict[str, dict[str, list[dict]]] = {s: {"previous": [], "current": []} for s in ("one_changed", "up_to_date")}
    price = 0
    for rep in range(args.reps):
        flows = ("previous", "current") if rep % 2 == 0 else ("current", "previous")
        for flow in flows:
            price += 1
            set_price(feed, CHANGED_PRODUCT, PRICES[price % 2])
            for scenario in ("one_changed", "up_to_date"):
                figures = run_demo(env, timings, previous=flow == "previous")
                if scenario == "one_changed":
                    figures["product_stage_s"] = changed_stage_seconds(Path(env["DAGSTER_HOME"]))
                results[scenario][flow].append(figures)
                print(f"  rep {rep + 1} {flow:<8} {scenario:<11} {figures['wall_s']:6.1f} s"
                      + (f" (product stages {figures['product_stage_s']:.1f} s)" if "product_stage_s" in figures else ""),
                      flush=True)

    setup_s = checks["make setup (both)"]
    summary: dict[str, dict] = {}
    for scenario, flows in results.items():
        summary[scenario] = {}
        for flow, runs in flows.items():
            step_names = list(dict.fromkeys(name for run in runs for name in run["steps"]))
            summary[scenario][flow] = {
                "make_demo_s": setup_s + statistics.median(r["wall_s"] for r in runs),
                "runs_s": [round(r["wall_s"], 2) for r in runs],
                "steps_s": {name: statistics.median(r["steps"].get(name, 0.0) for r in runs) for name in step_names},
                "product_stage_s": statistics.median(r.get("product_stage_s", 0.0) for r in runs),
                "started_dagster": any(r["started_dagster"] for r in runs),
            }

    for scenario in ("up_to_date", "one_changed"):
        print(f"\n{scenario}: median seconds per step (previous -> current)")
        prev, cur = summary[scenario]["previous"], summary[scenario]["current"]
        for name in dict.fromkeys([*prev["steps_s"], *cur["steps_s"]]):
            print(f"  {name:<50} {prev['steps_s'].get(name, 0.0):7.2f} -> {cur['steps_s'].get(name, 0.0):7.2f}")
        ratio = prev["make_demo_s"] / cur["make_demo_s"] if cur["make_demo_s"] else 0.0
        print(f"  {'make demo in all (setup checks + demo)':<50} {prev['make_demo_s']:7.2f} -> {cur['make_demo_s']:7.2f}"
              f"  ({ratio:.1f}x)")

    cur_up, cur_one = summary["up_to_date"]["current"], summary["one_changed"]["current"]
    targets_met = {
        "up_to_date_within_20_s": cur_up["make_demo_s"] <= TARGET_UP_TO_DATE_S and not cur_up["started_dagster"],
        "one_changed_within_40_s_plus_its_stages": cur_one["make_demo_s"] <= TARGET_ONE_CHANGED_S + cur_one["product_stage_s"],
        "setup_checks_under_half_a_second": all(s <= TARGET_SETUP_CHECK_S for s in checks.values()),
    }
    document = {"setup_checks_s": checks, "first_run_s": first["wall_s"], "scenarios": summary,
                "targets_met": targets_met, "reps": args.reps, "cores": os.cpu_count(),
                "load_average": os.getloadavg()}
    (out / "results.json").write_text(json.dumps(document, indent=1))
    print()
    print(json.dumps({"up_to_date_s": round(cur_up["make_demo_s"], 2),
                      "up_to_date_previous_s": round(summary["up_to_date"]["previous"]["make_demo_s"], 2),
                      "one_changed_s": round(cur_one["make_demo_s"], 2),
                      "one_changed_previous_s": round(summary["one_changed"]["previous"]["make_demo_s"], 2),
                      "one_changed_product_stage_s": round(cur_one["product_stage_s"], 2),
                      "targets_met": targets_met, "load_average": [round(x, 1) for x in os.getloadavg()]}))
    print(f"results: {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
