"""supabase/config.toml declares a bucket that accepts what the pipeline uploads."""

from __future__ import annotations

import tomllib
from pathlib import Path

from batch_video.publish import POSTER_CONTENT_TYPE, VIDEO_CONTENT_TYPE

CONFIG = Path(__file__).resolve().parents[2] / "supabase" / "config.toml"


def test_local_stack_bucket_accepts_videos_and_posters():
    config = tomllib.loads(CONFIG.read_text())
    bucket = config["storage"]["buckets"]["product-videos"]
    assert {VIDEO_CONTENT_TYPE, POSTER_CONTENT_TYPE} <= set(bucket["allowed_mime_types"])
    assert bucket["file_size_limit"].endswith("MiB") and int(bucket["file_size_limit"][:-3]) >= 50
