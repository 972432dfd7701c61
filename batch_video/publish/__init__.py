"""Publishing a rendered video: a local folder (default) or Supabase Storage, and its record.

Both backends follow one rule: what is live changes in one step, last. Files and
objects are named after the sha256 of the video's bytes and never change once
written; the new ones are written beside the old, then one commit point is
switched (the product's entry in the local folder, the `product_videos` row for
apps), and only then are the replaced files removed. A run older than the one
whose video is live can neither replace nor delete it.

Modules: `common` (checks, generations, the publish both backends share), `snapshot` (the bytes a publish sends),
`local` (folder), `supabase` (Storage), `flow` (`publish_video`).
"""

from batch_video.publish.common import (
    POSTER_CONTENT_TYPE,
    STAGE,
    VIDEO_CONTENT_TYPE,
    Generation,
    Storage,
    Superseded,
    check_partition_key,
    check_poster_file,
    check_video_file,
    checked_inputs,
)
from batch_video.publish.flow import publish_video
from batch_video.publish.local import LocalStorage
from batch_video.publish.supabase import DEFAULT_SIGNED_URL_EXPIRY_S, SupabaseStorage

__all__ = [
    "DEFAULT_SIGNED_URL_EXPIRY_S",
    "POSTER_CONTENT_TYPE",
    "STAGE",
    "VIDEO_CONTENT_TYPE",
    "Generation",
    "LocalStorage",
    "Storage",
    "SupabaseStorage",
    "Superseded",
    "check_partition_key",
    "check_poster_file",
    "check_video_file",
    "checked_inputs",
    "publish_video",
]
