"""synthesize_voiceover: providers, auto fallback, cache, concurrency, errors."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import wave
from decimal import Decimal
from pathlib import Path

import edge_tts.communicate
import numpy as np
import pytest

from batch_video import pipeline
from batch_video.errors import ConfigError, ProductDataError
from batch_video.links import LinkPolicy
from batch_video.models import Product
from batch_video.settings import BatchSettings
from batch_video.tts import (
    EdgeOutage,
    EdgeProvider,
    EspeakProvider,
    Prosody,
    RetryPolicy,
    VoiceoverCache,
    cache_key,
    synthesize_voiceover,
)
from batch_video.tts.audio import wav_duration, write_wav_mono
from batch_video.tts.espeak import espeak_argv

REPO = Path(__file__).resolve().parents[2]
TEXT = "Căști wireless Sony. Preț: o mie de lei."


class CountingProvider:
    """Wraps a real provider and counts the syntheses it is asked for."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.calls = 0

    def validate(self, voice, prosody):
        self.inner.validate(voice, prosody)

    def synthesize(self, text, out_wav, *, voice, prosody):
        self.calls += 1
        return self.inner.synthesize(text, out_wav, voice=voice, prosody=prosody)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens here once the socket closes


@pytest.fixture
def edge_unreachable(monkeypatch):
    """Edge's endpoint refuses connections, as when the machine is offline."""
    monkeypatch.setattr(edge_tts.communicate, "WSS_URL", f"ws://127.0.0.1:{closed_port()}/edge/v1?x=1")


def offline_edge(sleeps: list[float] | None = None) -> EdgeProvider:
    return EdgeProvider(
        retry=RetryPolicy(attempts=3, base_delay_s=0.01, max_delay_s=0.05),
        sleep=sleeps.append if sleeps is not None else (lambda _s: None),
        connect_timeout_s=2,
        receive_timeout_s=2,
    )


def test_espeak_argv_maps_prosody_and_reads_text_from_a_file(tmp_path):
    argv = espeak_argv(tmp_path / "t.txt", tmp_path / "o.wav", voice="ro", prosody=Prosody("+20%", "+10Hz", "-50%"))
    assert argv[:3] == ["espeak-ng", "-v", "ro"]
    assert argv[argv.index("-s") + 1] == "210"  # 175 wpm * 1.2
    assert argv[argv.index("-p") + 1] == "55"
    assert argv[argv.index("-a") + 1] == "50"
    assert argv[-2:] == ["-f", str(tmp_path / "t.txt")]


def test_espeak_voiceover_is_wav_with_estimated_word_timings(tmp_path):
    settings = BatchSettings(tts_provider="espeak")
    out = tmp_path / "work" / "voiceover.wav"
    voiceover = synthesize_voiceover(TEXT, out, settings, product_id="p1")
    assert voiceover.provider == "espeak" and voiceover.voice == "ro" and voiceover.requested_provider == "espeak"
    assert voiceover.timings_estimated is True and voiceover.fallback_reason is None
    with wave.open(str(out)) as wav:
        assert wav.getnchannels() == 1 and wav.getsampwidth() == 2
        measured = wav.getnframes() / wav.getframerate()
    assert voiceover.duration_s == pytest.approx(measured)
    assert [w.word for w in voiceover.words] == ["Căști", "wireless", "Sony", "Preț", "o", "mie", "de", "lei"]
    starts = [w.start for w in voiceover.words]
    assert starts == sorted(starts) and voiceover.words[-1].end <= measured + 0.01
    assert sorted(p.name for p in out.parent.iterdir()) == ["voiceover.wav"]  # no temp files left


def test_auto_falls_back_to_espeak_and_records_why(edge_unreachable, tmp_path):
    sleeps: list[float] = []
    edge = CountingProvider(offline_edge(sleeps))
    espeak = CountingProvider(EspeakProvider())
    voiceover = synthesize_voiceover(
        TEXT, tmp_path / "v.wav", BatchSettings(tts_provider="auto"), product_id="p1",
        cache_dir=tmp_path / "cache", providers={"edge": edge, "espeak": espeak},
    )  # fmt: skip
    assert voiceover.provider == "espeak" and voiceover.requested_provider == "auto"
    assert voiceover.fallback_reason.startswith("edge failed: ")
    assert "after 3 attempts" in voiceover.fallback_reason and "cannot connect" in voiceover.fallback_reason
    assert voiceover.timings_estimated and len(voiceover.words) == 8
    assert len(sleeps) == 2  # edge did retry before giving up
    assert (edge.calls, espeak.calls) == (1, 1)

    # the next product in the same batch does not wait through Edge's retries again
    again = synthesize_voiceover(
        TEXT + " Comandă acum!", tmp_path / "w.wav", BatchSettings(tts_provider="auto"), product_id="p2",
        cache_dir=tmp_path / "cache", providers={"edge": edge, "espeak": espeak},
    )  # fmt: skip
    assert again.provider == "espeak" and again.fallback_reason.startswith("edge skipped: it failed recently")
    assert (edge.calls, espeak.calls) == (1, 2)


def test_auto_with_no_working_provider_names_both_failures(edge_unreachable, tmp_path):
    from batch_video.errors import TransientError

    missing_espeak = EspeakProvider(binary="espeak-ng-not-installed")
    with pytest.raises(TransientError) as caught:
        synthesize_voiceover(TEXT, tmp_path / "v.wav", BatchSettings(tts_provider="auto"), product_id="p7",
                             providers={"edge": offline_edge(), "espeak": missing_espeak})  # fmt: skip
    message = str(caught.value)
    assert message.startswith("product p7") and "edge failed" in message and "espeak-ng-not-installed" in message
    assert not (tmp_path / "v.wav").exists()


def test_auto_tries_edge_again_once_the_outage_cools_down(edge_unreachable, tmp_path):
    edge = CountingProvider(offline_edge())
    providers = {"edge": edge, "espeak": EspeakProvider()}
    for name in ("a", "b"):
        synthesize_voiceover(TEXT + name, tmp_path / f"{name}.wav", BatchSettings(), cache_dir=tmp_path / "c",
                             providers=providers, edge_cooldown_s=0.0)  # fmt: skip
    assert edge.calls == 2
    assert EdgeOutage(tmp_path / "c").current() is None


def test_second_materialization_and_identical_scripts_do_no_synthesis(tmp_path):
    espeak = CountingProvider(EspeakProvider())
    providers = {"edge": offline_edge(), "espeak": espeak}
    settings = BatchSettings(tts_provider="espeak")
    first = synthesize_voiceover(TEXT, tmp_path / "p1" / "v.wav", settings, cache_dir=tmp_path / "c",
                                 product_id="p1", providers=providers)  # fmt: skip
    second = synthesize_voiceover(TEXT, tmp_path / "p1" / "v.wav", settings, cache_dir=tmp_path / "c",
                                  product_id="p1", providers=providers)  # fmt: skip
    # another product whose script differs only in spacing and cedilla letters
    other = synthesize_voiceover(" Căști  wireless Sony.\nPreţ: o mie de lei. ", tmp_path / "p2" / "v.wav", settings,
                                 cache_dir=tmp_path / "c", product_id="p2", providers=providers)  # fmt: skip
    assert espeak.calls == 1
    assert (first.cache_hit, second.cache_hit, other.cache_hit) == (False, True, True)
    assert first.cache_key == second.cache_key == other.cache_key
    assert second.words == first.words and other.duration_s == pytest.approx(first.duration_s)
    assert (tmp_path / "p2" / "v.wav").read_bytes() == (tmp_path / "p1" / "v.wav").read_bytes()


def test_auto_rematerialization_offline_is_a_cache_hit(edge_unreachable, tmp_path):
    edge = CountingProvider(offline_edge())
    espeak = CountingProvider(EspeakProvider())
    providers = {"edge": edge, "espeak": espeak}
    synthesize_voiceover(TEXT, tmp_path / "v.wav", BatchSettings(), cache_dir=tmp_path / "c", providers=providers)
    again = synthesize_voiceover(TEXT, tmp_path / "v.wav", BatchSettings(), cache_dir=tmp_path / "c", providers=providers)
    assert (edge.calls, espeak.calls) == (1, 1)
    assert again.cache_hit and again.provider == "espeak" and again.fallback_reason.startswith("edge skipped")


def test_cache_key_covers_provider_voice_prosody_and_text():
    base = cache_key("espeak", "ro", Prosody(), TEXT)
    assert base == cache_key("espeak", "ro", Prosody(), "  " + TEXT.replace("ț", "ţ") + "\n")
    variants = [
        cache_key("edge", "ro", Prosody(), TEXT),
        cache_key("espeak", "en", Prosody(), TEXT),
        cache_key("espeak", "ro", Prosody(rate="+10%"), TEXT),
        cache_key("espeak", "ro", Prosody(pitch="+5Hz"), TEXT),
        cache_key("espeak", "ro", Prosody(volume="-5%"), TEXT),
        cache_key("espeak", "ro", Prosody(), TEXT + "!"),
    ]
    assert len({base, *variants}) == 7


def _write_tone(path: Path, seconds: float, frequency: float) -> None:
    t = np.arange(int(16000 * seconds)) / 16000.0
    write_wav_mono(path, 0.3 * np.sin(2 * np.pi * frequency * t), 16000)


def _racing_writer(root: str, key: str, index: int, barrier) -> None:
    source = Path(root) / f"src-{index}.wav"
    _write_tone(source, 0.5 + 0.1 * index, 220.0 * (index + 1))
    barrier.wait()
    VoiceoverCache(Path(root) / "cache").put(
        key, source, provider="espeak", voice=f"v{index}", words=(), timings_estimated=True, text=f"text {index}"
    )


def test_concurrent_writers_of_one_key_leave_one_valid_entry(tmp_path):
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(4)
    key = "ab" + "0" * 62
    workers = [context.Process(target=_racing_writer, args=(str(tmp_path), key, i, barrier)) for i in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    folder = tmp_path / "cache" / "ab"
    assert sorted(p.name for p in folder.iterdir()) == [key]  # no staging folders left behind
    entry = VoiceoverCache(tmp_path / "cache").get(key)
    assert entry is not None
    meta = json.loads((folder / key / "meta.json").read_text())
    winner = int(meta["voice"][1:])
    # the audio is the winner's own, whole
    assert entry.audio_path.read_bytes() == (tmp_path / f"src-{winner}.wav").read_bytes()
    assert wav_duration(entry.audio_path) == pytest.approx(0.5 + 0.1 * winner)


def _synthesize_in_process(root: str, barrier, results) -> None:
    espeak = CountingProvider(EspeakProvider())
    barrier.wait()
    voiceover = synthesize_voiceover(
        TEXT, Path(root) / f"out-{os.getpid()}.wav", BatchSettings(tts_provider="espeak"),
        cache_dir=Path(root) / "cache", providers={"espeak": espeak},
    )  # fmt: skip
    results.put((espeak.calls, voiceover.cache_hit))


def test_concurrent_runs_with_one_script_synthesize_once(tmp_path):
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(3), context.Queue()
    workers = [context.Process(target=_synthesize_in_process, args=(str(tmp_path), barrier, results)) for _ in range(3)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=600) for _ in workers]  # generous ceilings, for a loaded machine
    for worker in workers:
        worker.join(600)
    assert sum(calls for calls, _ in outcomes) == 1
    assert sorted(hit for _, hit in outcomes) == [False, True, True]


def test_prune_drops_old_then_least_recently_used_entries(tmp_path):
    cache = VoiceoverCache(tmp_path / "cache")
    source = tmp_path / "tone.wav"
    _write_tone(source, 0.5, 440.0)
    keys = [f"{i:02d}" + "f" * 62 for i in range(4)]
    for age, key in zip((4000, 3000, 2000, 1000), keys):
        cache.put(key, source, provider="espeak", voice="ro", words=(), timings_estimated=True, text=key)
        meta = tmp_path / "cache" / key[:2] / key / "meta.json"
        os.utime(meta, (meta.stat().st_atime, meta.stat().st_mtime - age))
    assert cache.get(keys[1]) is not None  # a hit makes keys[1] the most recently used
    entry_size = sum(p.stat().st_size for p in (tmp_path / "cache" / keys[1][:2] / keys[1]).iterdir())

    assert cache.prune(older_than_s=3500) == 1  # keys[0], unused for 4000 s
    # room for two entries (their meta.json sizes differ by a few bytes)
    assert cache.prune(max_bytes=2 * entry_size + 64) == 1  # keys[2] is now the least recently used
    assert [cache.get(k) is not None for k in keys] == [False, True, False, True]


def test_damaged_cache_entry_is_discarded_and_remade(tmp_path):
    espeak = CountingProvider(EspeakProvider())
    providers = {"espeak": espeak}
    settings = BatchSettings(tts_provider="espeak")
    first = synthesize_voiceover(TEXT, tmp_path / "v.wav", settings, cache_dir=tmp_path / "c", providers=providers)
    entry = tmp_path / "c" / "voiceovers" / first.cache_key[:2] / first.cache_key
    (entry / "audio.wav").write_bytes(b"RIFF")  # truncated by a crash or a full disk
    again = synthesize_voiceover(TEXT, tmp_path / "v.wav", settings, cache_dir=tmp_path / "c", providers=providers)
    assert espeak.calls == 2 and not again.cache_hit
    assert wav_duration(tmp_path / "v.wav") == pytest.approx(first.duration_s)


def test_cache_entry_damaged_in_place_is_not_served(tmp_path):
    espeak = CountingProvider(EspeakProvider())
    settings = BatchSettings(tts_provider="espeak")
    first = synthesize_voiceover(TEXT, tmp_path / "v.wav", settings, cache_dir=tmp_path / "c", providers={"espeak": espeak})
    audio = tmp_path / "c" / "voiceovers" / first.cache_key[:2] / first.cache_key / "audio.wav"
    damaged = bytearray(audio.read_bytes())
    damaged[len(damaged) // 2 :] = bytes(len(damaged) - len(damaged) // 2)  # silence over the second half, same size
    audio.write_bytes(bytes(damaged))
    again = synthesize_voiceover(TEXT, tmp_path / "v.wav", settings, cache_dir=tmp_path / "c", providers={"espeak": espeak})
    assert espeak.calls == 2 and not again.cache_hit
    assert pipeline.voiceover_digest(again) == pipeline.voiceover_digest(first)


def test_errors_name_the_product_and_setting(tmp_path):
    with pytest.raises(ProductDataError) as empty:
        synthesize_voiceover("  \n ", tmp_path / "v.wav", BatchSettings(), product_id="SKU-1")
    assert empty.value.product_id == "SKU-1" and empty.value.field == "script"
    with pytest.raises(ConfigError) as provider:
        synthesize_voiceover(TEXT, tmp_path / "v.wav", BatchSettings(tts_provider="polly"), product_id="SKU-1")
    assert provider.value.field == "tts_provider" and "SKU-1" in str(provider.value)
    with pytest.raises(ConfigError) as voice:
        synthesize_voiceover(TEXT, tmp_path / "v.wav", BatchSettings(tts_provider="espeak", espeak_voice="xx-nope"),
                             product_id="SKU-1")  # fmt: skip
    assert voice.value.field == "espeak_voice"
    with pytest.raises(ConfigError) as typo:
        synthesize_voiceover(TEXT, tmp_path / "v.wav", BatchSettings(tts_provider="auto", voice="ro-RO-EmillNeural"),
                             product_id="SKU-1", providers={"edge": offline_edge(), "espeak": EspeakProvider()})  # fmt: skip
    assert typo.value.field == "voice" and "ro-RO-EmilNeural" in str(typo.value)  # a typo never silently falls back


@pytest.mark.slow
def test_auto_fallback_voiceover_still_renders(edge_unreachable, tmp_path):
    from batch_video import captions, images, media, render

    product = Product(
        id="SKU-9", key="sku-9", title="Căști over-ear", price=Decimal("1249.99"), currency="RON",
        image_link=str(REPO / "batch_video" / "sample" / "images" / "casti-over-ear-anc.jpg"),
    )  # fmt: skip
    settings = BatchSettings(tts_provider="auto", preset="preview", duration_min_s=1.0, tail_s=0.2)
    voiceover = synthesize_voiceover(
        "Căști over-ear.", tmp_path / "v.wav", settings, product_id=product.id, cache_dir=tmp_path / "c",
        providers={"edge": offline_edge(), "espeak": EspeakProvider()},
    )  # fmt: skip
    assert voiceover.provider == "espeak" and voiceover.fallback_reason
    image = images.prepare_image(product, tmp_path / "img", policy=LinkPolicy(local_roots=(REPO / "batch_video" / "sample",)))
    cues = captions.build_caption_cues(voiceover.words)
    video = render.render_video(product, image, voiceover, tmp_path / "v.mp4", tmp_path / "p.jpg", settings, cues=cues)
    probe = media.probe(video.video_path)
    kinds = sorted(s["codec_type"] for s in probe["streams"])
    assert kinds == ["audio", "video"]
    assert video.duration_s == pytest.approx(voiceover.duration_s + settings.tail_s, abs=0.1)


def test_cut_point_prefers_a_pause_then_a_word_end():
    from batch_video.models import WordTiming as W
    from batch_video.tts.fit import cut_point

    words = [W("a", 0.0, 1.0), W("b", 1.0, 2.0), W("c", 2.6, 3.4), W("d", 3.4, 4.3), W("e", 4.3, 5.0)]
    assert cut_point(words, 5.2, 6.0) is None
    # the pause after "b" (0.6 s) ends speech if it keeps enough of the allowed time
    assert cut_point(words, 5.2, 3.2).words_kept == 2 and cut_point(words, 5.2, 3.2).at_s == pytest.approx(2.15)
    # too early a pause: end after the last whole word instead
    late = cut_point(words, 5.2, 4.5)
    assert late.words_kept == 4 and 4.3 <= late.at_s <= 4.5
    # no word fits at all: hard cut at the limit
    assert cut_point(words, 5.2, 0.5).words_kept == 0 and cut_point(words, 5.2, 0.5).at_s == 0.5


def test_voiceover_longer_than_the_video_allows_is_cut_after_a_word(tmp_path):
    long_text = " ".join(["Această propoziție este destul de lungă pentru a depăși limita."] * 4)
    settings = BatchSettings(tts_provider="espeak", duration_max_s=6.0, tail_s=1.0)
    espeak = CountingProvider(EspeakProvider())
    voiceover = synthesize_voiceover(long_text, tmp_path / "v.wav", settings, cache_dir=tmp_path / "c",
                                     providers={"espeak": espeak})  # fmt: skip
    assert voiceover.duration_s <= 5.0 and voiceover.duration_s == pytest.approx(wav_duration(tmp_path / "v.wav"))
    assert 0 < len(voiceover.words) < 40 and voiceover.words[-1].end <= voiceover.duration_s
    # the cache keeps the full audio: a longer limit gets more words without a new synthesis
    roomy = synthesize_voiceover(long_text, tmp_path / "w.wav", settings.merged({"duration_max_s": 60}),
                                 cache_dir=tmp_path / "c", providers={"espeak": espeak})  # fmt: skip
    assert espeak.calls == 1 and roomy.cache_hit and len(roomy.words) == 40 and roomy.duration_s > 10
    # one synthesis (one cache key), two different voiceovers: their data versions differ
    assert roomy.cache_key == voiceover.cache_key
    assert pipeline.voiceover_digest(roomy) != pipeline.voiceover_digest(voiceover)
    again = synthesize_voiceover(long_text, tmp_path / "x.wav", settings, cache_dir=tmp_path / "c",
                                 providers={"espeak": espeak})  # fmt: skip
    assert pipeline.voiceover_digest(again) == pipeline.voiceover_digest(voiceover)
