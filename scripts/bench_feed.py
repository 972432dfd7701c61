"""Feed benchmark (`make bench-feed`): parse 10,000-item feeds and diff them against a busy instance.

Generates a 10,000-item Google Merchant RSS feed and the same products as a
10,000-row CSV export, a WooCommerce product export, a Shopify product export
(two rows per handle: the variant and a second photo) and an XLSX workbook,
prepares a Dagster instance (SQLite, as `dagster dev` uses) already holding
9,000 of the keys with their recorded content hashes (100 of them stale, so
they count as changed), then measures, each phase in a fresh subprocess so its
peak RSS is its own:

- the parse alone, in a process without dagster (the reader's own footprint);
- parse + diff of each feed (read_feed, recorded hashes, plan_sync);
- a full sensor tick on the RSS feed (fingerprint, parse, diff, run selection);
- adding the 1,000 missing keys to the instance (RSS and CSV).

The Shopify export names products by handle (`sku-000001`), so its products
hash differently from the others' (`SKU-000001`) and count as changed: the
timing is what it is for.

Targets on 2 cores: each parse + diff <= 5 s and <= 300 MB; adding 1,000 keys <= 5 s.
Usage: python scripts/bench_feed.py [--items 10000] [--workdir .bench/feed]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 5.0
TARGET_RSS_MB = 300.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


# --------------------------------------------------------------------------- feed generation


def product_rows(count: int):
    brands = ["Ariete", "Bumbăcel", "Lanaria", "Urbano", "Casa Verde"]
    for i in range(count):
        price = f"{(i * 37) % 4000 + 19},99"
        sale = f"{(i * 37) % 4000 + 9},49" if i % 4 == 0 else ""
        yield {
            "id": f"SKU-{i:06d}",
            "title": f"Produs de test nr. {i} – ediție „specială”",
            "description": f"Descriere pentru produsul {i}: material rezistent, livrare rapidă în toată țara. " * 3,
            "brand": brands[i % len(brands)],
            "price": price,
            "sale": sale,
            "image": f"https://cdn.example.ro/images/{i}.jpg",
        }


def write_rss(path: Path, count: int) -> None:
    from xml.sax.saxutils import escape

    with open(path, "w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" xmlns:g="http://base.google.com/ns/1.0">\n<channel>\n')
        out.write("<title>Magazin benchmark</title><link>https://shop.example.ro</link><description>bench</description>\n")
        for row in product_rows(count):
            sale = f"<g:sale_price>{row['sale']} RON</g:sale_price>" if row["sale"] else ""
            out.write(
                f"<item><g:id>{row['id']}</g:id><g:title>{escape(row['title'])}</g:title>"
                f"<g:description><![CDATA[<p>{row['description']}</p>]]></g:description>"
                f"<g:link>https://shop.example.ro/p/{row['id']}</g:link><g:image_link>{row['image']}</g:image_link>"
                f"<g:availability>in stock</g:availability><g:price>{row['price']} RON</g:price>{sale}"
                f"<g:brand>{escape(row['brand'])}</g:brand><g:condition>new</g:condition></item>\n"
            )
        out.write("</channel>\n</rss>\n")


def write_csv(path: Path, count: int) -> None:
    import csv

    with open(path, "w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(["Cod", "Denumire", "Descriere", "Marca", "Preț", "Preț redus", "Imagine", "Disponibilitate"])
        for row in product_rows(count):
            writer.writerow([row["id"], row["title"], row["description"], row["brand"], row["price"], row["sale"], row["image"], "în stoc"])


WOO_HEADERS = ["ID", "Type", "SKU", "Name", "Published", "Visibility in catalog", "Short description", "Description",
               "In stock?", "Stock", "Sale price", "Regular price", "Categories", "Images", "Parent", "Brands"]
SHOPIFY_HEADERS = ["Handle", "Title", "Body (HTML)", "Vendor", "Type", "Published", "Option1 Name", "Option1 Value",
                   "Variant SKU", "Variant Inventory Tracker", "Variant Inventory Qty", "Variant Inventory Policy",
                   "Variant Price", "Variant Compare At Price", "Image Src", "Image Position", "Variant Image", "Status"]


def write_woocommerce(path: Path, count: int) -> None:
    """The same products as WooCommerce's exporter writes them (simple products, `, `-joined images)."""
    import csv

    with open(path, "w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(WOO_HEADERS)
        for n, row in enumerate(product_rows(count), start=100):
            writer.writerow([n, "simple", row["id"], row["title"], 1, "visible", "", f"<p>{row['description']}</p>", 1, 10,
                             row["sale"], row["price"], "", row["image"], "", row["brand"]])


def write_shopify(path: Path, count: int) -> None:
    """The same products as Shopify's export writes them: a variant row, then a second photo's row."""
    import csv

    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(SHOPIFY_HEADERS)
        for row in product_rows(count):
            price, sale = row["price"].replace(",", "."), row["sale"].replace(",", ".")
            variant_price, compare_at = (sale, price) if sale else (price, "")
            handle = row["id"].lower()
            writer.writerow([handle, row["title"], f"<p>{row['description']}</p>", row["brand"], "", "true", "Title",
                             "Default Title", row["id"], "shopify", 10, "deny", variant_price, compare_at, row["image"], 1, "", "active"])
            writer.writerow([handle, *[""] * 13, row["image"].replace(".jpg", "-2.jpg"), 2, "", ""])


def write_xlsx(path: Path, count: int) -> None:
    """The CSV export's products as an Excel workbook (prices as the text the shop typed)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Produse")
    sheet.append(["Cod", "Denumire", "Descriere", "Marca", "Preț", "Preț redus", "Imagine", "Disponibilitate"])
    for row in product_rows(count):
        sheet.append([row["id"], row["title"], row["description"], row["brand"], row["price"], row["sale"], row["image"], "în stoc"])
    workbook.save(path)


# --------------------------------------------------------------------------- phases (run in subprocesses)


def open_instance(home: Path):
    os.environ["DAGSTER_HOME"] = str(home)
    import dagster as dg

    return dg.DagsterInstance.get()


def phase_prepare(args) -> dict:
    """Fill the instance with 9,000 of the feed's keys and their recorded hashes (not timed as a target)."""
    import dagster as dg
    from dagster_project.dagster_internals import DATA_VERSION_TAG

    from batch_video.feed import read_feed
    from dagster_project.assets import product_record
    from dagster_project.partitions import products_partitions

    instance = open_instance(Path(args.home))
    products = read_feed(args.feed).products
    held = products[: len(products) * 9 // 10]
    started = time.perf_counter()
    instance.add_dynamic_partitions(products_partitions.name, [p.key for p in held])
    for index, product in enumerate(held):
        digest = product.content_hash if index % 90 else "stale-hash"  # every 90th counts as changed
        instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key=product_record.key, partition=product.key, tags={DATA_VERSION_TAG: digest})
        )
    return {"held_keys": len(held), "seconds": time.perf_counter() - started}


def phase_parse_diff(args) -> dict:
    from batch_video import sync
    from batch_video.feed import read_feed
    from dagster_project.automation.feed_sync import recorded_hashes
    from dagster_project.partitions import products_partitions

    instance = open_instance(Path(args.home))
    baseline = peak_rss_mb()
    started = time.perf_counter()
    result = read_feed(args.feed)
    parsed = time.perf_counter()
    plan = sync.plan_sync(result, instance.get_dynamic_partitions(products_partitions.name), recorded_hashes(instance))
    done = time.perf_counter()
    return {
        "products": len(result.products),
        "problems": len(result.problems),
        "parse_s": parsed - started,
        "diff_s": done - parsed,
        "seconds": done - started,
        "rss_before_mb": baseline,
        "counts": plan.counts(),
    }


def phase_parse_only(args) -> dict:
    """The parse alone, in a process that never imports dagster: the feed reader's own footprint."""
    from batch_video.feed import read_feed

    baseline = peak_rss_mb()
    started = time.perf_counter()
    result = read_feed(args.feed)
    return {"seconds": time.perf_counter() - started, "products": len(result.products), "rss_before_mb": baseline}


def phase_sensor_tick(args) -> dict:
    import dagster as dg

    from dagster_project.resources import CatalogResource, LocalPublishingResource
    from dagster_project.automation.feed_sync import SyncOptions, build_feed_sync_sensor

    instance = open_instance(Path(args.home))
    sensor = build_feed_sync_sensor(name="bench_feed_sensor", options=SyncOptions(max_runs_per_tick=200))
    catalog = CatalogResource(feed_url=args.feed, cache_dir=str(Path(args.home) / "feed-cache"))
    baseline = peak_rss_mb()
    started = time.perf_counter()
    publishing = LocalPublishingResource(local_root=str(Path(args.home) / "output"))  # the tick reads the published videos' records
    with dg.build_sensor_context(instance=instance, resources={"catalog": catalog, "publishing": publishing}) as context:
        result = sensor(context)
    seconds = time.perf_counter() - started
    cursor_bytes = len(result.cursor or "")
    return {
        "seconds": seconds,
        "run_requests": len(result.run_requests),
        "added_keys": sum(len(r.partition_keys) for r in result.dynamic_partitions_requests),
        "cursor_bytes": cursor_bytes,
        "rss_before_mb": baseline,
    }


def phase_add_keys(args) -> dict:
    from batch_video.feed import read_feed
    from dagster_project.partitions import products_partitions

    instance = open_instance(Path(args.home))
    existing = set(instance.get_dynamic_partitions(products_partitions.name))
    new_keys = [p.key for p in read_feed(args.feed).products if p.key not in existing]
    started = time.perf_counter()
    instance.add_dynamic_partitions(products_partitions.name, new_keys)
    seconds = time.perf_counter() - started
    total = len(instance.get_dynamic_partitions(products_partitions.name))
    return {"added": len(new_keys), "seconds": seconds, "total_keys": total}


PHASES = {"prepare": phase_prepare, "parse-only": phase_parse_only, "parse-diff": phase_parse_diff, "sensor-tick": phase_sensor_tick, "add-keys": phase_add_keys}


def run_phase(name: str, feed: Path, home: Path) -> dict:
    """One phase in a fresh interpreter: its own peak RSS, no warm caches from the others."""
    completed = subprocess.run(
        [sys.executable, __file__, "--phase", name, "--feed", str(feed), "--home", str(home)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if completed.returncode != 0:
        sys.stderr.write(completed.stderr)
        raise SystemExit(f"phase {name} failed")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def fresh_home(workdir: Path, name: str) -> Path:
    home = workdir / name
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return home


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--workdir", default=str(ROOT / ".bench" / "feed"))
    parser.add_argument("--phase", choices=sorted(PHASES))
    parser.add_argument("--feed")
    parser.add_argument("--home")
    args = parser.parse_args()

    if args.phase:
        figures = PHASES[args.phase](args)
        figures["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(figures))
        return 0

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    feeds = {
        "rss": workdir / "feed.xml",
        "csv": workdir / "feed.csv",
        "woocommerce": workdir / "wc-product-export.csv",
        "shopify": workdir / "products_export.csv",
        "xlsx": workdir / "catalog.xlsx",
    }
    for kind, write in (("rss", write_rss), ("csv", write_csv), ("woocommerce", write_woocommerce), ("shopify", write_shopify), ("xlsx", write_xlsx)):
        write(feeds[kind], args.items)
    print(f"{args.items} items: " + ", ".join(f"{kind} {path.stat().st_size / 1e6:.1f} MB" for kind, path in feeds.items()))

    # Recording 9,000 materializations one by one costs ~10-50 ms each in SQLite (a real
    # instance gathers them over many runs), so it is done once per feed content, on tmpfs
    # when there is one, kept under the workdir and copied for each feed (both feeds hold
    # the same products, so the same keys and hashes).
    from batch_video.hashing import file_sha256

    template = workdir / f"instance-template-{file_sha256(feeds['rss'])[:12]}"
    if not (template / "prepared.json").exists():
        scratch = Path("/dev/shm") if Path("/dev/shm").is_dir() else workdir
        building = fresh_home(Path(tempfile.mkdtemp(prefix="bench-feed-", dir=scratch)), "instance")
        prepared = run_phase("prepare", feeds["rss"], building)
        (building / "prepared.json").write_text(json.dumps(prepared))
        for stale in workdir.glob("instance-template-*"):
            shutil.rmtree(stale, ignore_errors=True)
        shutil.copytree(building, template)
        shutil.rmtree(building.parent, ignore_errors=True)
        print(f"instance prepared: {prepared['held_keys']} keys with recorded hashes ({prepared['seconds']:.0f} s, not a target)")
    else:
        print(f"instance reused from {template.name}")

    ok = True
    rows = []
    for kind, feed in feeds.items():
        home = workdir / f"instance-{kind}"
        shutil.rmtree(home, ignore_errors=True)
        shutil.copytree(template, home)
        alone = run_phase("parse-only", feed, home)
        rows.append((f"{kind} parse alone", alone["seconds"], alone["peak_rss_mb"], None))
        print(f"[{kind}] parse alone (no dagster imported): {alone['seconds']:.2f} s, peak RSS {alone['peak_rss_mb']:.0f} MB (after imports {alone['rss_before_mb']:.0f} MB)")
        figures = run_phase("parse-diff", feed, home)
        meets = figures["seconds"] <= TARGET_SECONDS and figures["peak_rss_mb"] <= TARGET_RSS_MB
        ok &= meets
        rows.append((f"{kind} parse + diff", figures["seconds"], figures["peak_rss_mb"], meets))
        print(
            f"[{kind}] parse {figures['parse_s']:.2f} s + diff {figures['diff_s']:.2f} s = {figures['seconds']:.2f} s, "
            f"peak RSS {figures['peak_rss_mb']:.0f} MB (after imports {figures['rss_before_mb']:.0f} MB); {figures['counts']}"
        )
        if kind == "rss":
            tick = run_phase("sensor-tick", feed, home)
            rows.append(("rss sensor tick", tick["seconds"], tick["peak_rss_mb"], None))
            print(
                f"[{kind}] first sensor tick {tick['seconds']:.2f} s, peak RSS {tick['peak_rss_mb']:.0f} MB: "
                f"{tick['run_requests']} runs requested, {tick['added_keys']} keys to add, cursor {tick['cursor_bytes']} bytes"
            )
        if kind not in ("rss", "csv"):
            continue  # the same keys as the CSV: adding them measures nothing new
        added = run_phase("add-keys", feed, home)
        meets = added["seconds"] <= TARGET_SECONDS
        ok &= meets
        rows.append((f"{kind} add {added['added']} keys", added["seconds"], added["peak_rss_mb"], meets))
        print(f"[{kind}] added {added['added']} keys in {added['seconds']:.2f} s (instance now holds {added['total_keys']})")

    print("\nphase                         seconds  peak RSS MB  target")
    for name, seconds, rss, meets in rows:
        verdict = "-" if meets is None else ("ok" if meets else "MISSED")
        print(f"{name:<29} {seconds:>7.2f}  {rss:>11.0f}  {verdict}")
    print(f"targets: parse + diff <= {TARGET_SECONDS:.0f} s and <= {TARGET_RSS_MB:.0f} MB; adding 1,000 keys <= {TARGET_SECONDS:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
