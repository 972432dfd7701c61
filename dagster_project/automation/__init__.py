"""What runs without an operator: the feed sensor and schedule, failure records for apps, the canceled-batch stopper,
the lost-worker check of the cluster profile, the batch reports, and the nightly prune of the data folder."""

from dagster_project.automation.cancel import stop_canceled_batches
from dagster_project.automation.failure_records import record_product_failures
from dagster_project.automation.feed_sync import product_feed_schedule, product_feed_sensor
from dagster_project.automation.lost_workers import fail_runs_of_lost_workers
from dagster_project.automation.prune import prune_data_job, prune_data_schedule
from dagster_project.automation.reports import batch_report, batch_reports

__all__ = [
    "batch_report",
    "batch_reports",
    "fail_runs_of_lost_workers",
    "product_feed_schedule",
    "product_feed_sensor",
    "prune_data_job",
    "prune_data_schedule",
    "record_product_failures",
    "stop_canceled_batches",
]
