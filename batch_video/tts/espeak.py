"""espeak-ng: offline speech in Romanian and ~100 other languages.

The command line gives audio only, so word timings are estimated from the
audio (`alignment.estimate_word_timings`) and marked estimated.
"""

from __future__ import annotations

import functools
import logging
import shutil
from pathlib import Path

from batch_video import runner
from batch_video.errors import ConfigError, ProgramError, TransientError
from batch_video.tts.alignment import estimate_word_timings
from batch_video.tts.audio import read_wav_mono
from batch_video.tts.base import Prosody, SpeechResult

logger = logging.getLogger(__name__)

DEFAULT_WPM = 175  # espeak-ng's own default speed
DEFAULT_PITCH = 50  # 0..99
PITCH_UNITS_PER_HZ = 0.5  # Edge pitch offsets are in Hz; espeak's scale is 0..99
VOICES_TIMEOUT_S = 30.0


def espeak_argv(
    text_file: Path, out_wav: Path, *, voice: str, prosody: Prosody, binary: str = "espeak-ng"
) -> list[str]:
    """espeak-ng arguments; the text is read from a UTF-8 file, never from a shell."""
    speed = int(round(min(max(DEFAULT_WPM * prosody.rate_factor, 80), 450)))
    pitch = int(round(min(max(DEFAULT_PITCH + prosody.pitch_hz * PITCH_UNITS_PER_HZ, 0), 99)))
    amplitude = int(round(min(max(100 * prosody.volume_factor, 0), 200)))
    return [
        binary, "-v", voice, "-s", str(speed), "-p", str(pitch), "-a", str(amplitude),
        "-b", "1", "-w", str(out_wav), "-f", str(text_file),
    ]  # fmt: skip


@functools.lru_cache(maxsize=4)
def _voices_of(binary: str) -> frozenset[str]:
    completed = runner.run([binary, "--voices"], timeout_s=VOICES_TIMEOUT_S, check=False)
    names: set[str] = set()
    for line in completed.stdout.decode("utf-8", "replace").splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 5:
            names.add(parts[1])  # language code, e.g. "ro"
            names.add(parts[3])  # voice name, e.g. "Romanian"
            names.add(parts[4].rsplit("/", 1)[-1])  # file, e.g. "ro"
    return frozenset(names)


class EspeakProvider:
    name = "espeak"

    def __init__(self, *, binary: str = "espeak-ng", timeout_s: float = 120.0) -> None:
        self.binary = binary
        self.timeout_s = timeout_s

    def available_voices(self) -> frozenset[str]:
        """Voice and language names espeak-ng accepts (`espeak-ng --voices`)."""
        return _voices_of(self.binary)

    def validate(self, voice: str, prosody: Prosody) -> None:
        if shutil.which(self.binary) is None:
            raise ConfigError(f"{self.binary} is not installed (needed for the espeak voice)", field="tts_provider")
        for field, reason in prosody.problems():
            raise ConfigError(reason, field=field)
        base = voice.split("+", 1)[0]  # "ro+f3" selects a variant of "ro"
        if base not in self.available_voices():
            raise ConfigError(f"espeak-ng has no voice {voice!r} (try 'ro' or 'en')", field="espeak_voice")

    def synthesize(self, text: str, out_wav: Path, *, voice: str, prosody: Prosody) -> SpeechResult:
        text_file = out_wav.with_name(out_wav.name + ".txt")
        text_file.write_text(text, encoding="utf-8")
        argv = espeak_argv(text_file, out_wav, voice=voice, prosody=prosody, binary=self.binary)
        try:
            completed = runner.run(argv, timeout_s=self.timeout_s, check=False, stage="voiceover")
        except ProgramError as exc:  # missing, or killed at its deadline: another try (or provider) may do
            raise TransientError(f"espeak-ng could not speak: {exc.message}", stage="voiceover") from exc
        finally:
            text_file.unlink(missing_ok=True)
        if completed.returncode != 0 or not out_wav.exists() or out_wav.stat().st_size <= 44:
            raise TransientError(
                f"espeak-ng failed (exit {completed.returncode}): {completed.stderr.strip()[-500:]}", stage="voiceover"
            )
        samples, rate = read_wav_mono(out_wav)
        words = estimate_word_timings(samples, rate, text)
        logger.debug("espeak-ng spoke %d words in %.2fs", len(words), len(samples) / rate)
        return SpeechResult(audio_path=out_wav, words=words, timings_estimated=True, voice=voice)
