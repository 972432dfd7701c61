"""What runs without an operator: the feed sensor and schedule, failure records for apps, the canceled-batch stopper."""

from dagster_project.automation.cancel import stop_canceled_batches
from dagster_project.automation.failure_records import record_product_failures
from dagster_project.automation.feed_sync import product_feed_schedule, product_feed_sensor

__all__ = ["product_feed_schedule", "product_feed_sensor", "record_product_failures", "stop_canceled_batches"]
