"""The instance the project's frequent sensors read, opened once per code server process.

Dagster's `context.instance` opens a new instance from the tick's instance reference at every evaluation
(its storages, their engines and schema checks): ~70 ms of CPU a tick here, and py-spy put 2 of the code
server's 6.6 CPU-s during a 6-product batch there. The cancel sensor ticks every 5 s and the lost-workers one
every 10 s, beside renders that use both cores; they reuse one instance instead (README, "Where the rest goes").
"""

from __future__ import annotations

import threading

import dagster as dg

_instances: dict[str, dg.DagsterInstance] = {}
_lock = threading.Lock()  # the code server evaluates sensors in a thread pool


def sensor_instance(context: dg.SensorEvaluationContext) -> dg.DagsterInstance:
    """The tick's instance, opened at this process's first tick for it and reused after.

    A context built around an instance (`build_sensor_context(instance=...)`, in tests) has no reference: its own
    instance is used."""
    ref = context.instance_ref
    if ref is None:
        return context.instance
    key = dg.serialize_value(ref)
    with _lock:
        instance = _instances.get(key)
        if instance is None:
            instance = _instances[key] = dg.DagsterInstance.from_ref(ref)
        return instance
