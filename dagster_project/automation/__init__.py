"""What starts and stops runs without an operator: the feed sensor and schedule, and the canceled-batch stopper."""

from dagster_project.automation.cancel import stop_canceled_batches
from dagster_project.automation.feed_sync import product_feed_schedule, product_feed_sensor

__all__ = ["product_feed_schedule", "product_feed_sensor", "stop_canceled_batches"]
