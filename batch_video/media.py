"""What ffprobe and ffmpeg's EBU R128 loudness meter say about a media file.

One ffprobe command and one parser of the `ebur128` filter's log, shared by the
renderer (it measures the voiceover before normalizing it) and the quality
checks (they measure the finished video). The loudness constants live here
because both sides must agree on them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from batch_video import runner
from batch_video.errors import ProgramError

# What videos are normalized to: the short-video platforms play at about -14 LUFS.
LOUDNESS_TARGET_LUFS = -14.0
# Quieter than this is silence or hiss: amplifying it to the target would only make noise, and a video
# whose audio is this quiet has no voiceover (ebur128 reports -70 LUFS, its absolute gate, for digital silence).
SILENCE_LUFS = -60.0
PROBE_TIMEOUT_S = 60.0


def probe_argv(path: Path | str) -> list[str]:
    """ffprobe's JSON description of every stream and the container (`file:` so a name never reads as an option)."""
    return ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format",
            "file:" + str(Path(path).resolve())]


def probe(path: Path | str, *, timeout_s: float = PROBE_TIMEOUT_S, stage: str | None = None) -> dict:
    """ffprobe's JSON for the file's streams and format; ProgramError when ffprobe cannot read it."""
    argv = probe_argv(path)
    completed = runner.run(argv, timeout_s=timeout_s, check=False, stage=stage)
    if completed.returncode != 0:
        raise ProgramError(f"ffprobe cannot read {path}", argv=argv, stderr=completed.stderr, field="video", stage=stage)
    try:
        return json.loads(completed.stdout.decode("utf-8") or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProgramError(f"ffprobe gave unreadable output for {path}: {exc}", argv=argv, field="video",
                           stage=stage) from exc


@dataclass(frozen=True)
class EbuR128:
    """One `ebur128` filter's measurement; None where its log did not say."""

    integrated_lufs: float | None  # -inf for digital silence
    sample_peak_dbfs: float | None  # only with ebur128=peak=sample
    measured_s: float | None  # time of the last 100 ms frame it measured (with framelog): how much audio decoded

    @property
    def is_silent(self) -> bool:
        return self.integrated_lufs is None or self.integrated_lufs <= SILENCE_LUFS


_NUMBER = r"(-?(?:\d+(?:\.\d+)?|inf))"


def parse_ebur128(stderr: str, instance: str = "") -> EbuR128:
    """Read one ebur128 meter's summary (and its frame log, when on) from ffmpeg's stderr.

    `instance` picks a named meter (`ebur128@name`) when several ran in one
    command; otherwise the first meter in the log is read. Its last summary counts.
    """
    if instance:
        meter = f"ebur128@{instance}"
    else:
        first = re.search(r"\[(Parsed_ebur128_\d+|ebur128@\w+) @ ", stderr)
        meter = first.group(1) if first else "Parsed_ebur128_0"
    marker = re.escape(meter)
    # The last summary: ffmpeg may configure a complex graph twice, and the first meter then reports nothing heard.
    summaries = re.findall(r"\[%s @ [^\]]*\] Summary:(.*?)(?=\n\[|\nStream mapping|\Z)" % marker, stderr, flags=re.S)
    integrated = peak = None
    if summaries:
        body = summaries[-1]
        found = re.search(r"I:\s+%s LUFS" % _NUMBER, body)
        integrated = float(found.group(1)) if found else None
        found = re.search(r"Sample peak:\s*\n\s*Peak:\s+%s dBFS" % _NUMBER, body)
        peak = float(found.group(1)) if found else None
    times = re.findall(r"\[%s @ [^\]]*\] t:\s*(\d+(?:\.\d+)?)\s" % marker, stderr)
    return EbuR128(integrated, peak, float(times[-1]) if times else None)
