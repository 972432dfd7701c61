"""The music bed: audible before and after the voice, ducked at least 12 LU under it, the whole mix at -14 LUFS."""

from __future__ import annotations

import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image

from batch_video import media, music
from batch_video.errors import ConfigError
from batch_video.models import PreparedImage, Product, WordTiming
from batch_video.render import render_video
from batch_video.render.spec import validate_settings
from batch_video.sample import MUSIC_DIR
from batch_video.settings import BatchSettings
from batch_video.tts import synthesize_voiceover

TEXT = "Rucsac urban din piele, coniac. Preț: o sută patruzeci și nouă de lei. Comandă acum!"


@pytest.fixture(scope="module")
def spoken(tmp_path_factory):
    folder = tmp_path_factory.mktemp("music")
    return synthesize_voiceover(TEXT, folder / "voice.wav", BatchSettings(tts_provider="espeak"))


def segment_lufs(path: Path, start: float, end: float) -> float:
    """Integrated loudness (EBU R128) of [start, end) seconds of `path`."""
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-ss", f"{start:.3f}", "-t", f"{end - start:.3f}",
            "-i", str(path), "-af", "ebur128", "-f", "null", "-"]
    stderr = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True).stderr
    value = media.parse_ebur128(stderr).integrated_lufs
    assert value is not None
    return value


def test_voice_spans_join_words_across_short_pauses():
    words = [WordTiming("a", 0.0, 0.3), WordTiming("b", 0.5, 0.9), WordTiming("c", 2.0, 2.4)]
    assert music.voice_spans(words, offset_s=1.0) == ((1.0, 1.9), (3.0, 3.4))
    assert music.voice_spans([]) == ()


def test_pick_track_is_stable_per_product_and_spreads_over_a_folder(tmp_path):
    for name in ("a.m4a", "b.mp3", "c.wav", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    picks = {music.pick_track(tmp_path, f"product-{i}").name for i in range(40)}
    assert picks == {"a.m4a", "b.mp3", "c.wav"}
    assert music.pick_track(tmp_path, "product-7") == music.pick_track(tmp_path, "product-7")
    assert music.pick_track(tmp_path / "a.m4a", "anything") == tmp_path / "a.m4a"


def test_music_settings_are_checked_and_the_track_is_part_of_the_settings_hash(tmp_path):
    with pytest.raises(ConfigError, match="music file or folder not found"):
        validate_settings(BatchSettings(music_path=str(tmp_path / "none.mp3")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="holds no audio files"):
        validate_settings(BatchSettings(music_path=str(tmp_path / "empty")))
    track = tmp_path / "bed.m4a"
    shutil.copy(MUSIC_DIR / "bed-calm.m4a", track)
    with pytest.raises(ConfigError, match="at least 12 LU under the voice") as info:
        validate_settings(BatchSettings(music_path=str(track), music_duck_lu=-6))
    assert info.value.field == "music_duck_lu"
    with_music = BatchSettings(music_path=str(track))
    before = with_music.settings_hash()
    assert before != BatchSettings().settings_hash()
    shutil.copy(MUSIC_DIR / "bed-bright.m4a", track)  # another track under the same name
    assert with_music.settings_hash() != before


def test_the_bed_is_ducked_under_the_voice_and_audible_around_it(spoken, tmp_path):
    lead, outro = 1.0, 2.0
    duration = lead + spoken.duration_s + outro
    stem = tmp_path / "stem.wav"
    result = music.mix_voice_and_music(spoken.audio_path, spoken.words, MUSIC_DIR / "bed-calm.m4a",
                                       tmp_path / "mix.wav", duration_s=duration, lead_s=lead, stem_out=stem)
    assert abs(float(media.probe(result.path)["format"]["duration"]) - duration) < 0.05
    first, last = result.spans[0][0], result.spans[-1][1]
    assert abs(first - (lead + spoken.words[0].start)) < 1e-3
    voice_only = tmp_path / "voice-delayed.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(spoken.audio_path), "-af",
                    f"adelay={int(lead * 1000)}:all=1", str(voice_only)], check=True, timeout=120)

    music_under_voice = segment_lufs(stem, first, last)
    voice = segment_lufs(voice_only, first, last)
    music_before = segment_lufs(stem, 0.0, first - music.ATTACK_S)
    music_after = segment_lufs(stem, last + music.RELEASE_S, duration - music.FADE_OUT_S)
    print(f"voice {voice:.1f}, music under it {music_under_voice:.1f}, before {music_before:.1f}, "
          f"after {music_after:.1f} LUFS")
    assert voice - music_under_voice >= 12  # intelligible
    assert music_before >= music_under_voice + 8 and music_after >= music_under_voice + 8  # ducked, not just quiet
    assert music_before > voice - 14 and music_after > voice - 14  # clearly audible on its own


def test_a_video_with_music_lands_at_minus_14_lufs_with_the_music_before_and_after_the_voice(spoken, tmp_path):
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (800, 800), (180, 90, 60)).save(photo)
    product = Product(id="R-1", key="r-1", title="Rucsac urban", price=Decimal("149"), currency="RON", image_link="x")
    settings = BatchSettings(preset="preview", music_path=str(MUSIC_DIR))
    video = render_video(product, PreparedImage(photo, 800, 800, 800, 800, "JPEG"), spoken, tmp_path / "v.mp4",
                         tmp_path / "p.jpg", settings)
    expected = settings.music_lead_s + spoken.duration_s + settings.tail_s + settings.music_outro_s
    assert abs(video.duration_s - expected) < 0.05
    assert video.extra["music"]["track"] == music.pick_track(MUSIC_DIR, "r-1").name
    assert abs(segment_lufs(video.video_path, 0.0, video.duration_s) - (-14.0)) <= 1.0
    # Something is heard before the first word and after the last one: the bed.
    start = settings.music_lead_s + spoken.words[0].start
    end = settings.music_lead_s + spoken.words[-1].end
    assert segment_lufs(video.video_path, 0.0, start - 0.2) > -40
    assert segment_lufs(video.video_path, end + 0.4, video.duration_s - 0.5) > -40


def test_with_music_the_voice_and_everything_timed_by_it_start_after_the_intro(tmp_path):
    from batch_video.models import CaptionCue, Voiceover
    from batch_video.render import build_spec

    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (400, 400), (60, 90, 180)).save(photo)
    words = (WordTiming("Rucsac", 0.1, 0.5), WordTiming("urban", 0.6, 1.0))
    spoken = Voiceover(tmp_path / "voice.wav", 1.2, "espeak", "ro", words=words)
    product = Product(id="R-1", key="r-1", title="Rucsac", price=Decimal("149"), currency="RON", image_link="x")
    image = PreparedImage(photo, 400, 400, 400, 400, "JPEG")
    cues = (CaptionCue(0.1, 1.0, words),)
    plain = build_spec(product, image, spoken, BatchSettings(preset="preview", duration_min_s=1), cues=cues)
    with_music = build_spec(product, image, spoken,
                            BatchSettings(preset="preview", duration_min_s=1, music_path=str(MUSIC_DIR)), cues=cues)
    assert plain.captions.cues[0].start == pytest.approx(0.1)
    assert with_music.captions.cues[0].start == pytest.approx(1.1)
    assert with_music.captions.cues[0].words[1].end == pytest.approx(2.0)
    assert with_music.duration_s == pytest.approx(plain.duration_s + 2.0, abs=0.05)  # the intro and the outro
    assert with_music.audio.lead_s == 1.0 and plain.audio.lead_s == 0.0


def test_a_track_shorter_than_the_video_is_looped_with_crossfades(spoken, tmp_path):
    short = tmp_path / "short.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=220:duration=3",
                    "-af", "volume=0.3", str(short)], check=True, timeout=120)
    duration = spoken.duration_s + 8.0  # about three copies of the track
    stem = tmp_path / "stem.wav"
    result = music.mix_voice_and_music(spoken.audio_path, spoken.words, short, tmp_path / "mix.wav",
                                       duration_s=duration, lead_s=1.0, stem_out=stem)
    assert abs(float(media.probe(result.path)["format"]["duration"]) - duration) < 0.05
    # Still playing near the end, well past the track's own 3 s: the loop, not padding with silence.
    assert segment_lufs(stem, duration - 3.0, duration - music.FADE_OUT_S) > -40
