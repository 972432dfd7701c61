"""The publishing resources (one per backend): env-only configuration, clear startup errors, keys never shown."""

from __future__ import annotations


import dagster as dg
import pytest

from batch_video.errors import ConfigError
from batch_video.publish import LocalStorage, SupabaseStorage
from batch_video.records import SQLiteRecords, SupabaseRecords
from dagster_project.resources.publishing import (
    LocalPublishingResource,
    PublishingResource,
    SupabasePublishingResource,
    SupabaseResource,
    publishing_from_env,
)

SECRET = "eyJhbGciOiJIUzI1NiJ9.very-secret-service-role.sig"
PROFILE = "6f1c2a34-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
SUPABASE_VARS = ("SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_KEY", "SUPABASE_BUCKET", "SUPABASE_STORAGE_PREFIX",
                 "SUPABASE_SIGNED_URL_EXPIRY_S", "SUPABASE_PUBLIC_URLS")


@pytest.fixture(autouse=True)
def no_supabase_env(monkeypatch):
    for name in SUPABASE_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def supabase_env(monkeypatch):
    monkeypatch.setenv("BATCH_VIDEO_PUBLISH_BACKEND", "supabase")
    monkeypatch.setenv("SUPABASE_URL", "https://shopproj.supabase.co")
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", SECRET)
    monkeypatch.setenv("SUPABASE_BUCKET", "product-videos")
    monkeypatch.setenv("BATCH_VIDEO_PROFILE_ID", PROFILE)


def test_default_is_the_local_folder_and_sqlite(tmp_path, monkeypatch):
    monkeypatch.setenv("BATCH_VIDEO_OUTPUT_DIR", str(tmp_path / "out"))
    resource = publishing_from_env()
    assert isinstance(resource, LocalPublishingResource)
    resource.check_config()
    storage, records = resource.storage(), resource.records()
    assert isinstance(storage, LocalStorage) and storage.root == tmp_path / "out"
    assert isinstance(records, SQLiteRecords) and records.path == tmp_path / "out" / "records.sqlite"
    assert resource.describe()["backend"] == "local"


def test_supabase_from_env_builds_the_supabase_implementations(supabase_env, monkeypatch):
    monkeypatch.setenv("SUPABASE_STORAGE_PREFIX", "shop-a")
    monkeypatch.setenv("SUPABASE_SIGNED_URL_EXPIRY_S", "3600")
    resource = publishing_from_env()
    assert isinstance(resource, SupabasePublishingResource)
    assert isinstance(resource.supabase.key, dg.EnvVar)  # resolved by Dagster at run time, never stored
    storage, records = resource.storage(), resource.records()
    assert isinstance(storage, SupabaseStorage) and isinstance(records, SupabaseRecords)
    assert (storage.bucket, storage.prefix, storage.profile_id, storage.signed_url_expiry_s) == ("product-videos", "shop-a", PROFILE, 3600)
    assert storage.client is records.client  # one client for both
    assert storage.client.supabase_url.host == "shopproj.supabase.co"


def test_supabase_key_falls_back_to_SUPABASE_KEY(supabase_env, monkeypatch):
    monkeypatch.delenv("SUPABASE_SERVICE_ROLE_KEY")
    monkeypatch.setenv("SUPABASE_KEY", SECRET)
    resource = publishing_from_env()
    assert resource.supabase.key.env_var_name == "SUPABASE_KEY"
    resource.check_config()


@pytest.mark.parametrize("missing", ["SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_BUCKET", "BATCH_VIDEO_PROFILE_ID"])
def test_missing_supabase_setting_is_named_at_startup(supabase_env, monkeypatch, missing):
    monkeypatch.delenv(missing)
    resource = publishing_from_env()
    with dg.build_init_resource_context() as context, pytest.raises(ConfigError) as info:
        resource.setup_for_execution(context)
    assert info.value.field == missing
    assert f"{missing}" in str(info.value) and "is not set" in str(info.value)
    with pytest.raises(ConfigError):
        resource.storage()


def test_every_missing_setting_is_listed_at_once(monkeypatch):
    monkeypatch.setenv("BATCH_VIDEO_PUBLISH_BACKEND", "supabase")
    with pytest.raises(ConfigError) as info:
        publishing_from_env().check_config()
    for var in ("SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY (or SUPABASE_KEY)", "SUPABASE_BUCKET", "BATCH_VIDEO_PROFILE_ID"):
        assert var in str(info.value)


@pytest.mark.parametrize(
    "env, words",
    [
        ({"BATCH_VIDEO_PUBLISH_BACKEND": "s3"}, ["BATCH_VIDEO_PUBLISH_BACKEND='s3'", "local, supabase"]),
        ({"SUPABASE_URL": "shopproj.supabase.co"}, ["must start with https://"]),
        # The service-role key would cross the network in clear.
        ({"SUPABASE_URL": "http://shopproj.supabase.co"}, ["must start with https://"]),
        ({"SUPABASE_URL": "http://10.0.0.5:8000"}, ["must start with https://"]),
        ({"SUPABASE_SIGNED_URL_EXPIRY_S": "-5"}, ["SUPABASE_SIGNED_URL_EXPIRY_S"]),
        ({"SUPABASE_SIGNED_URL_EXPIRY_S": "0"}, ["SUPABASE_SIGNED_URL_EXPIRY_S", "SUPABASE_PUBLIC_URLS=true"]),
    ],
)
def test_invalid_settings_are_explained(supabase_env, monkeypatch, env, words):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        publishing_from_env().check_config()
    for word in words:
        assert word in str(info.value)


def test_the_key_is_never_in_repr_describe_or_errors(supabase_env, monkeypatch):
    literal = SupabasePublishingResource(supabase=SupabaseResource(url="https://x.supabase.co", key=SECRET))
    assert SECRET not in repr(literal) and SECRET not in str(literal)
    assert SECRET not in repr(literal.describe())
    with pytest.raises(ConfigError) as info:
        literal.check_config()
    assert SECRET not in str(info.value)
    resource = publishing_from_env()
    assert SECRET not in repr(resource) + repr(resource.storage()) + repr(resource.records()) + repr(resource.describe())


def test_dagster_run_resolves_the_key_and_never_records_it(supabase_env, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    (tmp_path / "dagster.yaml").write_text("")

    @dg.asset
    def probe(context, publishing: PublishingResource) -> dg.MaterializeResult:
        storage = publishing.storage()
        context.log.info(f"publishing with {storage!r}, {publishing.records()!r}, {publishing!r}")
        return dg.MaterializeResult(metadata=publishing.describe())

    with dg.instance_for_test() as instance:
        result = dg.materialize([probe], resources={"publishing": publishing_from_env()}, instance=instance)
        assert result.success
        text = "\n".join(repr(record) for record in instance.all_logs(result.run_id))
        run_config = repr(instance.get_run_by_id(result.run_id).run_config)
    assert "product-videos" in text  # the metadata made it in...
    assert SECRET not in text and SECRET not in run_config  # ...the key did not


def test_dagster_run_fails_at_startup_when_supabase_is_incomplete(monkeypatch):
    monkeypatch.setenv("BATCH_VIDEO_PUBLISH_BACKEND", "supabase")
    monkeypatch.setenv("SUPABASE_URL", "https://shopproj.supabase.co")

    @dg.asset
    def needs_publishing(publishing: PublishingResource) -> None:
        raise AssertionError("must not run")

    with dg.instance_for_test() as instance:
        result = dg.materialize([needs_publishing], resources={"publishing": publishing_from_env()}, instance=instance,
                                raise_on_error=False)
        assert not result.success
        messages = "\n".join(str(record.dagster_event.event_specific_data) for record in instance.all_logs(result.run_id)
                             if record.dagster_event and record.dagster_event.is_failure)
    assert "SUPABASE_SERVICE_ROLE_KEY (or SUPABASE_KEY) is not set" in messages
    assert "SUPABASE_BUCKET is not set" in messages


@pytest.mark.parametrize("url", ["http://127.0.0.1:54321", "http://localhost:54321", "http://[::1]:54321"])
def test_plain_http_is_accepted_only_for_a_local_stack_on_loopback(supabase_env, monkeypatch, url):
    monkeypatch.setenv("SUPABASE_URL", url)
    publishing_from_env().check_config()


def test_the_bucket_is_private_with_signed_urls_unless_public_is_chosen(supabase_env, monkeypatch):
    private = publishing_from_env()
    assert (private.public_urls, private.signed_url_expiry_s) == (False, 7 * 24 * 3600)
    assert private.describe()["urls"] == "signed, 604800s"
    assert private.storage().public_urls is False
    monkeypatch.setenv("SUPABASE_PUBLIC_URLS", "true")
    monkeypatch.setenv("SUPABASE_SIGNED_URL_EXPIRY_S", "0")
    public = publishing_from_env()
    public.check_config()
    assert public.describe()["urls"] == "public" and public.storage().public_urls is True
