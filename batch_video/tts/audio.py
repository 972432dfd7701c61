"""Small audio helpers: ffmpeg conversion to WAV and WAV facts."""

from __future__ import annotations

import wave
from pathlib import Path

import ffmpeg
import numpy as np

from batch_video import runner

WAV_SAMPLE_RATE = 24_000
CONVERT_TIMEOUT_S = 120.0


def to_wav_argv(source: Path, dest: Path, *, sample_rate: int = WAV_SAMPLE_RATE, binary: str = "ffmpeg") -> list[str]:
    """ffmpeg arguments that decode any audio file to mono 16-bit PCM WAV."""
    stream = ffmpeg.input("file:" + str(source)).output(
        "file:" + str(dest), vn=None, ac=1, ar=sample_rate, acodec="pcm_s16le", f="wav"
    )
    return stream.global_args("-hide_banner", "-nostdin", "-loglevel", "error").overwrite_output().compile(cmd=binary)


def convert_to_wav(source: Path, dest: Path) -> None:
    runner.run(to_wav_argv(source, dest), timeout_s=CONVERT_TIMEOUT_S, stage="voiceover")


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
