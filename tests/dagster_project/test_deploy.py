"""The deployment profiles (deploy/) load through Dagster's own config schemas, as the daemon would load them."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import dagster as dg
import pytest
import yaml

from dagster_project.run_launcher import BatchCeleryRunLauncher
from dagster_project.run_worker import MAX_RUNS_PER_POOL_PROCESS, WORKER_SETTINGS
from tests.conftest import REPO, service_url

LOCAL, CLUSTER = REPO / "deploy" / "local" / "dagster.yaml", REPO / "deploy" / "cluster" / "dagster.yaml"
VALUES = REPO / "deploy" / "kubernetes" / "values.yaml"
# Everything a run goes through between the queue and the run worker.
RUN_LAUNCHING_PATH = ["dagster_project/run_launcher.py", "dagster_project/run_worker.py", "dagster_project/process_tree.py",
                      "dagster_project/automation/lost_workers.py", "scripts/local_dagster.py"]


def instance_from(tmp_path: Path, config: dict | str) -> dg.DagsterInstance:
    home = tmp_path / f"home-{uuid.uuid4().hex[:6]}"
    home.mkdir()
    (home / "dagster.yaml").write_text(config if isinstance(config, str) else yaml.safe_dump(config))
    return dg.DagsterInstance.from_config(str(home))


def test_the_local_profile_needs_no_server(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    with instance_from(tmp_path, LOCAL.read_text()) as instance:
        launcher = instance.run_launcher
        assert isinstance(launcher, BatchCeleryRunLauncher)
        assert launcher.broker == "batchfs://" and launcher.backend.startswith("file://")
        folders = launcher.config_source["broker_transport_options"]
        assert Path(folders["data_folder_in"]).is_dir() and Path(folders["control_folder"]).is_dir()
        assert instance.run_coordinator.get_run_queue_config().max_concurrent_runs == 1
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"


def test_the_cluster_profile_is_postgres_celery_and_one_run_per_product(tmp_path, monkeypatch):
    dsn = service_url("BATCH_VIDEO_TEST_PG_DSN", "scripts/start_test_postgres.sh")
    import psycopg

    name = f"deploy_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    monkeypatch.setenv("BATCH_VIDEO_DAGSTER_PG_URL", re.sub(r"^postgresql://", "postgresql+psycopg2://", dsn.rsplit("/", 1)[0]) + f"/{name}")
    monkeypatch.setenv("BATCH_VIDEO_CELERY_BROKER", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("BATCH_VIDEO_CELERY_BACKEND", "redis://127.0.0.1:1/1")
    with instance_from(tmp_path, CLUSTER.read_text()) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        launcher = instance.run_launcher
        assert isinstance(launcher, BatchCeleryRunLauncher)
        assert (launcher.broker, launcher.backend) == ("redis://127.0.0.1:1/0", "redis://127.0.0.1:1/1")
        limits = instance.run_coordinator.get_run_queue_config().tag_concurrency_limits
        assert {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits


@pytest.mark.parametrize("profile", [LOCAL, CLUSTER], ids=["local", "cluster"])
def test_the_launcher_and_the_workers_agree_on_celery_settings(profile):
    config_source = yaml.safe_load(profile.read_text())["run_launcher"]["config"]["config_source"]
    assert config_source.items() <= WORKER_SETTINGS.items()
    # Each run forks a process of its own (FreshProcessTask); the pool process that forks them is replaced now and then.
    assert config_source["worker_max_tasks_per_child"] == MAX_RUNS_PER_POOL_PROCESS > 1


def k8s_launcher_config(values: dict) -> dict:
    """The run_launcher block the Helm chart renders into the instance's dagster.yaml from these values."""
    k8s = values["runLauncher"]["config"]["k8sRunLauncher"]
    return {
        "module": "dagster_k8s",
        "class": "K8sRunLauncher",
        "config": {
            # What the chart itself adds:
            "dagster_home": "/opt/dagster/dagster_home",
            "instance_config_map": "batch-video-dagster-instance",
            "postgres_password_secret": "batch-video-postgresql-secret",
            "service_account_name": values["global"]["serviceAccountName"],
            # What the values say (camelCase in the chart, snake_case in the instance):
            "image_pull_policy": k8s["imagePullPolicy"],
            "load_incluster_config": k8s["loadInclusterConfig"],
            "env_secrets": [secret["name"] for secret in k8s["envSecrets"]],
            "env_vars": k8s["envVars"],
            "run_k8s_config": {
                "container_config": k8s["runK8sConfig"]["containerConfig"],
                "job_spec_config": {"ttl_seconds_after_finished": k8s["runK8sConfig"]["jobSpecConfig"]["ttlSecondsAfterFinished"]},
            },
        },
    }


def test_the_kubernetes_values_make_a_valid_k8s_run_launcher(tmp_path, monkeypatch):
    from dagster_k8s import K8sRunLauncher  # a test dependency (pyproject [test])

    values = yaml.safe_load(VALUES.read_text())
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    launcher_config = k8s_launcher_config(values)
    # Outside a cluster the launcher reads a kubeconfig; an empty one is enough to build it (nothing is contacted).
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "test", "cluster": {"server": "https://127.0.0.1:1"}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}],
        "users": [{"name": "test", "user": {"token": "test"}}],
    }))
    launcher_config["config"].update(load_incluster_config=False, kubeconfig_file=str(kubeconfig))
    with instance_from(tmp_path, {"run_launcher": launcher_config}) as instance:
        launcher = instance.run_launcher
        assert isinstance(launcher, K8sRunLauncher)
        assert launcher.env_secrets == ["batch-video-s3", "batch-video-supabase"]
        assert "BATCH_VIDEO_WORK_STORE=s3://batch-video/work" in launcher.env_vars
    # The chart's run queue carries the same one-run-per-product limit as the cluster profile.
    limits = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]["tagConcurrencyLimits"]
    assert {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits


def test_the_dockerfile_installs_the_cluster_extra_and_serves_the_code_location():
    dockerfile = (REPO / "Dockerfile").read_text()
    assert '".[cluster]"' in dockerfile and "dagster-k8s==0.29.27" in dockerfile
    assert "dagster_project.definitions" in dockerfile and "ffmpeg espeak-ng" in dockerfile


@pytest.mark.parametrize("path", RUN_LAUNCHING_PATH)
def test_the_run_launching_path_uses_no_private_dagster_api(path):
    source = (REPO / path).read_text()
    assert not re.search(r"^\s*(from|import) dagster\._", source, re.MULTILINE), path
    assert "dagster._" not in source, path
