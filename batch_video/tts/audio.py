"""Small audio helpers: ffmpeg conversion to WAV, WAV facts, atomic file moves."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

from batch_video.errors import FFmpegError

WAV_SAMPLE_RATE = 24_000


def to_wav_argv(source: Path, dest: Path, *, sample_rate: int = WAV_SAMPLE_RATE, ffmpeg: str = "ffmpeg") -> list[str]:
    """ffmpeg arguments that decode any audio file to mono 16-bit PCM WAV."""
    return [
        ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-i", str(source),
        "-vn", "-ac", "1", "-ar", str(sample_rate), "-c:a", "pcm_s16le",
        "-f", "wav", str(dest),
    ]  # fmt: skip


def run_ffmpeg(argv: list[str], *, timeout_s: float = 120.0, product_id: str | None = None) -> None:
    try:
        completed = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
    except FileNotFoundError:
        raise FFmpegError(f"{argv[0]} is not installed", argv=argv, product_id=product_id, stage="voiceover") from None
    except subprocess.TimeoutExpired as exc:
        raise FFmpegError(
            f"ffmpeg took longer than {timeout_s:.0f}s", argv=argv, stderr=str(exc.stderr or ""),
            product_id=product_id, stage="voiceover",
        ) from None  # fmt: skip
    if completed.returncode != 0:
        raise FFmpegError(
            f"ffmpeg exited with {completed.returncode} while converting audio to WAV",
            argv=argv, stderr=completed.stderr, product_id=product_id, stage="voiceover",
        )  # fmt: skip


def convert_to_wav(source: Path, dest: Path, *, product_id: str | None = None) -> None:
    run_ffmpeg(to_wav_argv(source, dest), product_id=product_id)


def wav_duration(path: Path) -> float:
    """Duration measured from the audio itself (frames / rate)."""
    with wave.open(str(path), "rb") as wav:
        rate = wav.getframerate()
        return wav.getnframes() / float(rate) if rate else 0.0


def read_wav_mono(path: Path) -> tuple[np.ndarray, int]:
    """Samples as float32 in [-1, 1] (channels averaged) and the sample rate."""
    with wave.open(str(path), "rb") as wav:
        rate = wav.getframerate()
        width = wav.getsampwidth()
        channels = wav.getnchannels()
        raw = wav.readframes(wav.getnframes())
    if width != 2:
        raise ValueError(f"{path}: expected 16-bit PCM WAV, got {8 * width}-bit")
    samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    return samples, rate


def write_wav_mono(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    pcm = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes((pcm * 32767.0).astype("<i2").tobytes())


def atomic_copy(source: Path, dest: Path) -> None:
    """Copy so that readers of `dest` see the old file or the whole new one, never a part."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(handle)
    try:
        shutil.copyfile(source, tmp_name)
        os.replace(tmp_name, dest)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def temp_path_beside(dest: Path, suffix: str) -> Path:
    """A fresh, unused path in `dest`'s folder (same filesystem, so os.replace is atomic)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=suffix, dir=dest.parent)
    os.close(handle)
    return Path(tmp_name)
