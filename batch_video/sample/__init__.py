"""The bundled demo catalog: a Google Merchant feed, the same products as a CSV
export, and their photos. Regenerate with `python scripts/make_sample_catalog.py`.

One item (`PARF-TRANDAFIR-50`) deliberately links a photo that does not exist,
so a demo run shows how a bad product fails on its own.
"""

from __future__ import annotations

from pathlib import Path

SAMPLE_DIR = Path(__file__).resolve().parent
FEED_PATH = SAMPLE_DIR / "feed.xml"
CSV_PATH = SAMPLE_DIR / "products.csv"
IMAGES_DIR = SAMPLE_DIR / "images"
BROKEN_PRODUCT_ID = "PARF-TRANDAFIR-50"
# The demo's music beds, synthesized by scripts/make_sample_music.py (no third-party audio).
MUSIC_DIR = SAMPLE_DIR / "music"
