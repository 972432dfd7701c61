"""The workspace resource in the cluster profile: stage outputs in object storage, read back on another host."""

from __future__ import annotations

import dagster as dg
import pytest

from batch_video.feed import slugify_key
from batch_video.publish import LocalStorage
from dagster_project.assets import product_video_assets
from dagster_project.resources import WorkspaceResource
from tests.dagster_project.conftest import chain_resources
from tests.dagster_project.test_product_chain import materializations

GOOD = slugify_key("CANA 1")


def test_from_env_reads_the_store_and_keeps_secrets_as_env_vars(monkeypatch):
    monkeypatch.setenv("BATCH_VIDEO_WORK_STORE", "s3://videos/work")
    monkeypatch.setenv("BATCH_VIDEO_S3_ENDPOINT_URL", "http://127.0.0.1:9000")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key-id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "very-secret")
    resource = WorkspaceResource.from_env("/tmp/data")
    assert resource.store_url == "s3://videos/work" and resource.s3_endpoint_url == "http://127.0.0.1:9000"
    assert isinstance(resource.s3_secret_access_key, dg.EnvVar) and isinstance(resource.s3_access_key_id, dg.EnvVar)
    assert "very-secret" not in repr(resource)
    assert resource.object_store().describe() == "s3://videos/work"


def test_without_a_store_the_local_folders_are_the_only_copy():
    resource = WorkspaceResource.from_env("/tmp/data", environ={})
    assert resource.object_store() is None and resource.for_key("k").store is None


@pytest.mark.slow
def test_a_stage_re_executed_on_another_host_finds_its_inputs_in_the_store(tiny_feed, tmp_path, s3_endpoint, s3_bucket):
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("products", [GOOD])
    store = dict(store_url=f"s3://{s3_bucket}/work", s3_endpoint_url=s3_endpoint,
                 s3_access_key_id="test", s3_secret_access_key="test")
    host_a = {**chain_resources(tiny_feed, tmp_path / "a"),
              "workspace": WorkspaceResource(data_dir=str(tmp_path / "a" / "data"), **store)}
    host_b = {**chain_resources(tiny_feed, tmp_path / "b"),
              "workspace": WorkspaceResource(data_dir=str(tmp_path / "b" / "data"), **store)}
    host_b["publishing"] = host_a["publishing"]  # the publishing destination is shared; the work folders are not

    first, rest = product_video_assets[:4], product_video_assets[4:]
    assert dg.materialize(first, partition_key=GOOD, resources=host_a, instance=instance).success
    assert not (tmp_path / "b" / "data").exists()

    result = dg.materialize(rest, partition_key=GOOD, resources=host_b, instance=instance)
    assert result.success
    work_b = tmp_path / "b" / "data" / "work" / GOOD
    assert {"voiceover.wav", "image.jpg", "product.json", "video.mp4"} <= {p.name for p in work_b.iterdir()}
    assert LocalStorage(tmp_path / "a" / "output").live_video(GOOD).exists()
    assert materializations(result)["rendered_video"].metadata["reused"].value is False

    # Host A re-executes the render: the video host B made is in the store, so it is reused, not rendered again.
    again = dg.materialize(rest[:1], partition_key=GOOD, resources=host_a, instance=instance)
    assert materializations(again)["rendered_video"].metadata["reused"].value is True
