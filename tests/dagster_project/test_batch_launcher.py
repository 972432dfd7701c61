"""The warm-worker launcher's pieces that run without a daemon (bench-batch runs it for real)."""

from __future__ import annotations

from dagster_project.batch_launcher import WORKER_CODE, WarmWorkerRunLauncher, worker_argv


def test_worker_code_compiles_with_the_preload_list():
    argv = worker_argv(["dagster_project.definitions"], python="/usr/bin/python3")
    assert argv[:2] == ["/usr/bin/python3", "-c"]
    compile(argv[2], "<warm worker>", "exec")
    assert "'dagster_project.definitions'" in argv[2]


def test_config_reads_preload_modules():
    launcher = WarmWorkerRunLauncher.from_config_value(None, {"preload_modules": ["a.b"]})
    assert launcher.preload_modules == ["a.b"] and launcher.supports_check_run_worker_health
    assert "preload_modules" in WarmWorkerRunLauncher.config_type()
    assert "{preload!r}" in WORKER_CODE
