"""Run tags: the names Dagster and batch-video put on runs, and batch settings carried as tags.

Batch settings chosen on the command line travel as backfill tags
(`batch_video/setting/<field>=<value>`); Dagster copies a backfill's tags onto
each of its runs, and the assets merge them over the env/config defaults, so a
backfill launched from the UI without tags still uses those defaults.

Both sides use this module: the code location (assets read a run's settings,
sensors tag the runs they request) and the console (launch tags a backfill,
status finds runs by tag). It imports no dagster, so the console's GraphQL
commands start without loading Dagster.
"""

from __future__ import annotations

from typing import Any, Mapping

from batch_video.errors import ConfigError
from batch_video.settings import BatchSettings, as_strings

# Set by Dagster itself on every run of a partition / of a backfill / that a schedule or sensor tick requested.
PARTITION_TAG = "dagster/partition"
BACKFILL_TAG = "dagster/backfill"
TICK_TAG = "dagster/tick"

# Dagster's run monitoring (enabled in dagster.yaml) cancels a run still going this many seconds after it started.
MAX_RUNTIME_TAG = "dagster/max_runtime"
# One product's whole chain. Every stage has its own deadline (downloads, speech, loudness, a render's derived from
# its frame count, the checks); this backstop catches anything between them, so a stuck run cannot hold the only run
# slot for the night. The longest render the default limits allow (60 s of 1080x1920 at 30 fps) may take about
# 2,000 s before its own deadline stops it; twice the whole chain's worst case, rounded up.
RUN_MAX_RUNTIME_S = 7200

# Ours.
SETTING_TAG_PREFIX = "batch_video/setting/"
TRIGGER_TAG = "batch_video/trigger"  # which automation requested the run (feed_sensor, feed_schedule)
CONTENT_HASH_TAG = "batch_video/content_hash"  # the feed content the run was requested for
# On a batch launched by the CLI (and so on each of its runs): what it renders and how long it should take.
PLAN_TAG = "batch_video/plan"  # e.g. "9000 new, 100 changed, 3 failed, 897 unchanged"
ESTIMATE_TAG = "batch_video/estimate"  # e.g. "~20 h 33 min (7.4 s per product, 1 at a time)"


def run_limit_tags() -> dict[str, str]:
    """The time limit every product run carries (the job's tags, the CLI's backfills; dagster.yaml for the UI's)."""
    return {MAX_RUNTIME_TAG: str(RUN_MAX_RUNTIME_S)}


def settings_tags(overrides: Mapping[str, Any]) -> dict[str, str]:
    """Backfill tags carrying batch-setting overrides, checked first: each value by BatchSettings, a template
    file parsed and validated (ConfigError names the problem, before anything is launched)."""
    from batch_video.render.spec import validate_settings  # the renderer's modules, only when a launch checks

    validate_settings(BatchSettings().merged(overrides))
    return {SETTING_TAG_PREFIX + name: value for name, value in as_strings(overrides).items()}


def overrides_from_tags(tags: Mapping[str, str]) -> dict[str, str]:
    return {k[len(SETTING_TAG_PREFIX):]: v for k, v in tags.items() if k.startswith(SETTING_TAG_PREFIX)}


def settings_for_run(defaults: BatchSettings, tags: Mapping[str, str]) -> BatchSettings:
    """The settings a run uses: env/config defaults with the backfill's tagged overrides on top."""
    overrides = overrides_from_tags(tags)
    if not overrides:
        return defaults
    try:
        return defaults.merged(overrides)
    except ConfigError as err:
        raise ConfigError(f"backfill tag {SETTING_TAG_PREFIX}{err.field}: {err.message}", field=err.field, stage="settings") from None
