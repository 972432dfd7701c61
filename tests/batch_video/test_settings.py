import pytest

from batch_video.errors import ConfigError
from batch_video.settings import BatchSettings


def test_env_overrides_are_typed():
    settings = BatchSettings.from_env(
        {"BATCH_VIDEO_PRESET": "reels", "BATCH_VIDEO_CAPTIONS": "off", "BATCH_VIDEO_TAIL_S": "0.5", "UNRELATED": "x"}
    )
    assert settings.preset == "reels"
    assert settings.captions is False
    assert settings.tail_s == 0.5


def test_hash_changes_with_any_setting_and_is_stable():
    base = BatchSettings()
    assert base.settings_hash() == BatchSettings().settings_hash()
    assert base.merged({"cta_text": "Cumpără acum!"}).settings_hash() != base.settings_hash()


@pytest.mark.parametrize("overrides", [{"no_such_setting": 1}, {"captions": "maybe"}, {"tail_s": "soon"}])
def test_bad_settings_name_the_field(overrides):
    with pytest.raises(ConfigError) as info:
        BatchSettings().merged(overrides)
    assert next(iter(overrides)) in str(info.value)


def test_whole_number_settings_are_typed():
    assert BatchSettings.from_env({"BATCH_VIDEO_MAX_EXTRA_PHOTOS": "2"}).max_extra_photos == 2
    with pytest.raises(ConfigError, match="max_extra_photos"):
        BatchSettings().merged({"max_extra_photos": "two"})
    with pytest.raises(ConfigError, match="max_extra_photos"):
        BatchSettings().merged({"max_extra_photos": 2.5})
