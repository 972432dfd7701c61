"""Orchestration overhead of a real batch, per deployment profile side by side (the second half of `make bench-batch`).

Generates a feed of N products (default 10); then for each profile (default
`local`, `default` and `cluster`, see deploy/) starts `dagster dev` (webserver + daemon)
and the profile's Celery run workers on a fresh instance under .bench/profiles/
(the cluster profile on its own PostgreSQL, Redis and S3 server, started by the
project's scripts, with two worker "hosts" with separate data folders), runs one
batch over the six-stage chain and prints the figures `scripts/bench_batch.py`
prints (see there), with orchestration overhead = run slots x batch wall time -
sum of stage times, as a share of the slots' time (one slot: the batch wall time).

Profiles: `local` (deploy/local: one Celery run worker, embedded broker), `default`
(the same instance with Dagster's DefaultRunLauncher, a cold process per run: the
alternative the local profile was chosen against), `cluster` (deploy/cluster:
PostgreSQL, Redis, an S3 server and two run workers with separate data folders).

Options: --count N, --preset NAME (default tiktok, real size), --provider
(default espeak, offline), --profiles (default local,default,cluster),
--keep (leave .bench/profiles for inspection).
Figures vary with machine load; compare runs made one after another.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.bench_batch import bench_env, bench_parser, gap_parts, import_seconds, make_feed, print_batch, run_batch  # noqa: E402


# Profiles measured side by side: the instance settings, and how many run worker slots they get.
PROFILES = {
    "local": "deploy/local/dagster.yaml",
    "cluster": "deploy/cluster/dagster.yaml",
}


def default_launcher_yaml(out: Path) -> Path:
    """The local profile with Dagster's DefaultRunLauncher (a fresh process per run) instead of Celery workers."""
    import yaml

    config = yaml.safe_load((ROOT / PROFILES["local"]).read_text())
    config.pop("run_launcher", None)
    path = out / "default-launcher.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def bench_profile(name: str, instance_yaml: Path, out: Path, feed: Path, args, services) -> dict:
    """One batch over the feed on a fresh instance of this profile; its figures."""
    from scripts.local_dagster import LocalDagster, RunWorker

    root = out / name
    env = bench_env(root, feed, args)
    workers = None
    if name == "cluster":
        env.update(services.profile_env(f"bench_{os.getpid()}"))
        # Two hosts, each with its own data folder: stage outputs pass through the object store only.
        workers = [RunWorker(host, {"BATCH_VIDEO_DATA_DIR": str(root / f"data-{host}")}) for host in ("host-a", "host-b")]
    os.environ.update(env)
    home = root / "dagster_home"
    os.environ["DAGSTER_HOME"] = str(home)
    # A generous start-up ceiling: the machine may be loaded; start-up is not what is measured.
    server = LocalDagster(home, env=env, instance_yaml=instance_yaml, workers=workers, startup_timeout_s=900)
    slots = max(len(server.workers), 1)
    print(f"\n== profile {name} ({instance_yaml.name if name not in PROFILES else PROFILES[name]}, "
          f"{len(server.workers) or 'no'} run workers)")
    started = time.monotonic()
    with server as client:
        print(f"dagster dev up in {time.monotonic() - started:.1f} s at {client.url}")
        import dagster as dg

        with dg.DagsterInstance.get() as instance:
            figures, rows = run_batch(client, instance, feed, args.timeout, slots=slots)
    figures.update({"profile": name, "instance_yaml": str(instance_yaml)})
    print_batch(figures, rows)
    worker, gaps = figures["per_run_worker_overhead_s"], figures["gap_between_runs_s"]
    print(f"orchestration overhead: {figures['overhead_pct']:.1f}% of the run slots' time; per run: worker overhead "
          f"{worker['mean']:.2f} s mean ({worker['min']:.2f}-{worker['max']:.2f}), gap between runs {gaps['mean']:.2f} s mean"
          f"{gap_parts(figures)}")
    if not args.keep:
        for folder in root.glob("data*"):
            shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(root / "output", ignore_errors=True)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__, count=10, out=ROOT / ".bench" / "profiles")
    parser.add_argument("--profiles", default="local,default,cluster",
                        help="comma-separated: local, cluster, default (the local profile with Dagster's default "
                             "launcher), or NAME=PATH for any instance yaml")
    args = parser.parse_args(argv)

    from scripts.cluster_services import ClusterServices

    out = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    feed = make_feed(out / "feed", args.count)
    chosen: dict[str, Path] = {}
    for item in filter(None, (p.strip() for p in args.profiles.split(","))):
        name, _, path = item.partition("=")
        if path:
            chosen[name] = Path(path).resolve()
        elif name == "default":
            chosen[name] = default_launcher_yaml(out)
        elif name in PROFILES:
            chosen[name] = ROOT / PROFILES[name]
        else:
            parser.error(f"unknown profile {name!r}")

    print(f"bench-batch: {args.count} products, preset {args.preset}, voice {args.provider}, {os.cpu_count()} cores, "
          f"profiles {', '.join(chosen)}; load average {os.getloadavg()[0]:.1f}")
    definitions_import_s = import_seconds("dagster_project.definitions")
    dagster_import_s = import_seconds("dagster")
    print(f"import dagster: {dagster_import_s:.2f} s; import dagster_project.definitions: {definitions_import_s:.2f} s (fresh interpreter, median of 3)")

    results: dict[str, dict] = {}
    with ClusterServices(out / "services") if "cluster" in chosen else contextlib.nullcontext() as services:
        for name, instance_yaml in chosen.items():
            results[name] = bench_profile(name, instance_yaml, out, feed, args, services)
    summary = {
        "products": args.count, "preset": args.preset, "provider": args.provider, "cores": os.cpu_count(),
        "import_dagster_s": dagster_import_s, "import_definitions_s": definitions_import_s, "profiles": results,
    }
    (out / "results.json").write_text(json.dumps(summary, indent=1))

    print()
    print(f"{'profile':<10} {'slots':>5} {'wall s':>8} {'stages s':>9} {'overhead':>9} {'worker s/run':>12} {'gap s':>6} {'first start s':>13}")
    for name, f in results.items():
        print(f"{name:<10} {f['run_worker_slots']:>5} {f['wall_s']:>8.1f} {f['steps_s']:>9.1f} {f['overhead_pct']:>8.1f}% "
              f"{f['per_run_worker_overhead_s']['mean']:>12.2f} {f['gap_between_runs_s']['mean']:>6.2f} {f['launch_to_first_start_s']:>13.1f}")
    names = list(results)
    for other in names[1:]:
        print(f"overhead {other} - {names[0]}: {results[other]['overhead_pct'] - results[names[0]]['overhead_pct']:+.1f} points")
    print(f"results: {out / 'results.json'} (target: overhead <= 15%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
