"""What runs without an operator: the feed sensor and schedule, failure records for apps, the canceled-batch stopper,
the lost-worker check of the cluster profile, the batch reports, and the nightly prune of the data folder.

Nothing is imported here: a caller of one module (the demo and the CLI use `feed_sync`) does not pay for the others;
the code location imports each from its own module.
"""
