"""A music bed under the voiceover: picked per product, fitted to the video, ducked while the voice speaks.

The bed is mixed into one WAV before the render's own loudness pass, so the
final video is normalized as a whole (-14 LUFS) exactly as a voice-only one.
Its level is set from measurements, not guessed: the voice and the track are
measured (EBU R128) in one ffmpeg pass, then the track is placed `bed_lu`
below the voice where nobody speaks and `duck_lu` below it while the voice
speaks (volume automation from the word timings, with short ramps), so the
voice stays intelligible whatever the shop's track's own loudness. A track
shorter than the video is looped with crossfades; the bed fades in and out.

Pure functions build the ffmpeg graphs (with ffmpeg-python); `mix_voice_and_music`
runs them through `batch_video.runner`.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import ffmpeg

from batch_video import media, runner
from batch_video.errors import ConfigError, ProgramError
from batch_video.hashing import file_sha256
from batch_video.models import WordTiming

logger = logging.getLogger(__name__)

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".m4a", ".aac", ".ogg", ".opus")
# Words closer than this are one spoken span (the music does not swell between words).
SPAN_GAP_S = 0.6
ATTACK_S = 0.2  # the music is down before the first word of a span...
RELEASE_S = 0.3  # ...and comes back up after its last word
FADE_IN_S = 0.3
FADE_OUT_S = 1.0
LOOP_CROSSFADE_S = 1.0
MIX_RATE = 48000
MEASURE_TIMEOUT_S = 120.0
MIX_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class MusicLevels:
    """Where the bed sits, in LU relative to the voice's integrated loudness."""

    bed_lu: float = -8.0  # before and after the voice: clearly audible
    duck_lu: float = -20.0  # while the voice speaks (at least 12 LU under it)


@dataclass(frozen=True)
class MixResult:
    path: Path
    track: Path
    voice_lufs: float
    track_lufs: float
    bed_gain_db: float  # the track's gain where nobody speaks
    duck_db: float  # extra gain while the voice speaks
    spans: tuple[tuple[float, float], ...]


def list_tracks(music_path: str | os.PathLike) -> list[Path]:
    """The audio files `music_path` names: the file itself, or a folder's audio files in name order."""
    path = Path(music_path)
    if path.is_file():
        return [path]
    if path.is_dir():
        tracks = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
        if tracks:
            return tracks
        raise ConfigError(f"music folder {path} holds no audio files ({', '.join(AUDIO_EXTENSIONS)})",
                          field="music_path")
    raise ConfigError(f"music file or folder not found: {path}", field="music_path")


def pick_track(music_path: str | os.PathLike, key: str) -> Path:
    """One track per product, the same one every time for the same key (and spread over the folder)."""
    tracks = list_tracks(music_path)
    index = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:4], "big") % len(tracks)
    return tracks[index]


def music_fingerprint(music_path: str) -> str:
    """What the music setting contains (every track's bytes): part of the settings hash, so a new track re-renders."""
    if not music_path:
        return ""
    try:
        tracks = list_tracks(music_path)
    except ConfigError:
        return f"{music_path}:missing"
    return f"{music_path}:" + ",".join(_cached_sha256(str(t), *_stat(t)) for t in tracks)


def _stat(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


@lru_cache(maxsize=256)
def _cached_sha256(path: str, size: int, mtime_ns: int) -> str:
    return file_sha256(Path(path))[:16]


def voice_spans(words: Sequence[WordTiming], *, offset_s: float = 0.0, gap_s: float = SPAN_GAP_S) -> tuple[tuple[float, float], ...]:
    """The stretches where the voice speaks: word timings joined across short pauses, shifted by `offset_s`."""
    spans: list[list[float]] = []
    for word in sorted(words, key=lambda w: w.start):
        start, end = word.start + offset_s, max(word.end, word.start) + offset_s
        if spans and start - spans[-1][1] <= gap_s:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    return tuple((round(s, 3), round(e, 3)) for s, e in spans)


def duck_expression(spans: Sequence[tuple[float, float]], duck_db: float) -> str:
    """A `volume` expression of t: 1 where nobody speaks, `duck_db` down during each span, linear ramps between."""
    if not spans:
        return "1"
    down = 10 ** (duck_db / 20)
    # d(t) in [0, 1]: how far ducked; the largest over all spans.
    terms = [
        f"clip(min((t-{s - ATTACK_S:.3f})/{ATTACK_S},({e + RELEASE_S:.3f}-t)/{RELEASE_S}),0,1)"
        for s, e in spans
    ]
    ducked = terms[0]
    for term in terms[1:]:
        ducked = f"max({ducked},{term})"
    return f"1-{1 - down:.6f}*{ducked}"


def _input(path: Path):
    return ffmpeg.input("file:" + str(Path(path).resolve()))


def measure_argv(voice: Path, track: Path) -> list[str]:
    """One pass: the voice's and the track's integrated loudness (meters `ebur128@voice` and `ebur128@track`)."""
    outputs = [
        _input(path).audio.filter("aresample", MIX_RATE).filter(f"ebur128@{name}").output("-", f="null")
        for name, path in (("voice", voice), ("track", track))
    ]
    return ffmpeg.merge_outputs(*outputs).global_args("-hide_banner", "-nostdin").compile()


def _fitted_music(track: Path, track_s: float, duration_s: float):
    """The track looped with crossfades as often as the video needs, trimmed, faded in and out."""
    copies = 1
    if track_s > 0:
        while track_s * copies - LOOP_CROSSFADE_S * (copies - 1) < duration_s and copies < 64:
            copies += 1
    def copy(index: int):
        # One decoder per copy: ffmpeg-python merges identical inputs into one node, and an `asplit` feeding a
        # chain of acrossfades yields only its first copy; a distinct (never reached) duration limit keeps them apart.
        source = ffmpeg.input("file:" + str(Path(track).resolve()), t=86400 + index)
        return source.audio.filter("aresample", MIX_RATE).filter("aformat", channel_layouts="stereo")

    stream = copy(0)
    for index in range(1, copies):
        stream = ffmpeg.filter([stream, copy(index)], "acrossfade", d=LOOP_CROSSFADE_S)
    stream = stream.filter("apad").filter("atrim", 0, f"{duration_s:.6f}")
    stream = stream.filter("afade", t="in", st=0, d=FADE_IN_S)
    return stream.filter("afade", t="out", st=f"{max(0.0, duration_s - FADE_OUT_S):.6f}", d=FADE_OUT_S)


def music_stem(track: Path, track_s: float, duration_s: float, bed_gain_db: float, duck_db: float,
               spans: Sequence[tuple[float, float]]):
    """The bed as it sounds in the mix: fitted, at its level, ducked under the spans."""
    stream = _fitted_music(track, track_s, duration_s).filter("volume", f"{bed_gain_db:.3f}dB")
    return stream.filter("volume", duck_expression(spans, duck_db), eval="frame")


def mix_argv(voice: Path, track: Path, out: Path, *, track_s: float, duration_s: float, lead_s: float,
             bed_gain_db: float, duck_db: float, spans: Sequence[tuple[float, float]],
             stem_out: Path | None = None) -> list[str]:
    """Voice (delayed by `lead_s`) + ducked bed -> a stereo WAV of exactly `duration_s`.

    With `stem_out`, the bed alone is written there too (tests measure it).
    """
    music = music_stem(track, track_s, duration_s, bed_gain_db, duck_db, spans)
    delay_ms = int(round(lead_s * 1000))
    vocal = (_input(voice).audio.filter("aresample", MIX_RATE).filter("aformat", channel_layouts="stereo")
             .filter("adelay", f"{delay_ms}|{delay_ms}").filter("apad").filter("atrim", 0, f"{duration_s:.6f}"))
    if stem_out is not None:
        split = music.filter_multi_output("asplit", 2)
        music, stem = split.stream(0), split.stream(1)
    mixed = ffmpeg.filter([vocal, music], "amix", inputs=2, duration="first", normalize=0)
    outputs = [mixed.output("file:" + str(out), acodec="pcm_s16le", ar=MIX_RATE)]
    if stem_out is not None:
        outputs.append(stem.output("file:" + str(stem_out), acodec="pcm_s16le", ar=MIX_RATE))
    return ffmpeg.merge_outputs(*outputs).global_args("-hide_banner", "-nostdin", "-loglevel", "error").overwrite_output().compile()


def mix_voice_and_music(
    voice: Path,
    words: Sequence[WordTiming],
    track: Path,
    out: Path,
    *,
    duration_s: float,
    lead_s: float = 0.0,
    levels: MusicLevels = MusicLevels(),
    stem_out: Path | None = None,
) -> MixResult:
    """Mix the voiceover over the bed into `out` (a WAV of `duration_s`); the voice starts at `lead_s`."""
    stderr = runner.run(measure_argv(voice, track), timeout_s=MEASURE_TIMEOUT_S, stage="render").stderr
    voice_lufs = media.parse_ebur128(stderr, "voice").integrated_lufs
    track_lufs = media.parse_ebur128(stderr, "track").integrated_lufs
    if track_lufs is None or not math.isfinite(track_lufs) or track_lufs < -70:
        raise ConfigError(f"music track {track} is silent or unreadable", field="music_path")
    if voice_lufs is None or not math.isfinite(voice_lufs) or voice_lufs < -70:
        voice_lufs = -23.0  # a silent voiceover: the bed at a broadcast-like level, normalized later anyway
    track_s = float(media.probe(track, stage="render").get("format", {}).get("duration") or 0.0)
    if track_s <= LOOP_CROSSFADE_S:
        raise ConfigError(f"music track {track} is too short ({track_s:.2f} s) to loop", field="music_path")
    bed_gain = voice_lufs + levels.bed_lu - track_lufs
    duck = levels.duck_lu - levels.bed_lu
    spans = voice_spans(words, offset_s=lead_s)
    argv = mix_argv(voice, track, out, track_s=track_s, duration_s=duration_s, lead_s=lead_s,
                    bed_gain_db=bed_gain, duck_db=duck, spans=spans, stem_out=stem_out)
    completed = runner.run(argv, timeout_s=MIX_TIMEOUT_S, stage="render", check=False)
    if completed.returncode != 0 or not out.is_file():
        raise ProgramError(f"could not mix the music bed {track.name} under the voice", argv=argv,
                           stderr=completed.stderr, stage="render")
    logger.info("music %s: voice %.1f LUFS, track %.1f LUFS, bed gain %.1f dB, ducked %.1f dB over %d spans",
                track.name, voice_lufs, track_lufs, bed_gain, duck, len(spans))
    return MixResult(out, track, voice_lufs, track_lufs, round(bed_gain, 2), round(duck, 2), spans)
