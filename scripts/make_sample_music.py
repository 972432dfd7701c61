#!/usr/bin/env python
"""Synthesize the demo's music bed (batch_video/sample/music/bed-*.m4a): no third-party audio.

Two calm four-bar loops (10.7 s) at 90 bpm: soft pad chords (I-V-vi-IV), a plucked
arpeggio and a light pulse, made with numpy and encoded to AAC by ffmpeg. The
committed files come from this script; run it again only to change them.

Usage: .venv/bin/python scripts/make_sample_music.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "batch_video" / "sample" / "music"
RATE = 44100
BPM = 90
BEAT = 60 / BPM

# (name, chords as MIDI notes, arpeggio pattern), one chord per bar of 4 beats.
TRACKS = {
    "bed-calm": ([[48, 55, 60, 64], [43, 55, 59, 62], [45, 57, 60, 64], [41, 53, 57, 60]], [0, 2, 1, 3, 2, 1, 3, 2]),
    "bed-bright": ([[50, 57, 62, 66], [45, 57, 61, 64], [47, 59, 62, 66], [43, 55, 59, 62]], [3, 1, 2, 0, 2, 3, 1, 2]),
}


def hz(note: int) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def tone(freq: float, t: np.ndarray, harmonics=(1.0, 0.35, 0.12)) -> np.ndarray:
    return sum(a * np.sin(2 * np.pi * freq * (k + 1) * t) for k, a in enumerate(harmonics))


def track(chords: list[list[int]], pattern: list[int]) -> np.ndarray:
    bar = 4 * BEAT
    n = int(round(bar * len(chords) * RATE))
    t = np.arange(n) / RATE
    left, right = np.zeros(n), np.zeros(n)
    for i, chord in enumerate(chords):
        start, end = int(i * bar * RATE), int((i + 1) * bar * RATE)
        tt = t[start:end] - t[start]
        # The pad swells in and out within its bar so that the loop point is seamless.
        env = np.sin(np.pi * np.clip(tt / bar, 0, 1)) ** 0.6
        for j, note in enumerate(chord):
            pad = tone(hz(note) * (1 + 0.0015 * (j - 1.5)), tt, (1.0, 0.2)) * env * 0.10
            left[start:end] += pad * (0.6 + 0.1 * j)
            right[start:end] += pad * (0.9 - 0.1 * j)
        # Eighth-note plucks over the chord, an octave up, decaying.
        eighth = BEAT / 2
        for k in range(8):
            note = chord[pattern[k % len(pattern)]] + 12
            s = start + int(k * eighth * RATE)
            e = min(end, s + int(eighth * 1.8 * RATE))
            tp = t[s:e] - t[s]
            pluck = tone(hz(note), tp, (1.0, 0.5, 0.25)) * np.exp(-tp * 6.0) * (1 - np.exp(-tp * 400)) * 0.09
            pan = 0.35 + 0.3 * (k % 2)
            left[s:e] += pluck * (1 - pan)
            right[s:e] += pluck * pan
        # A soft kick-like pulse on each beat.
        for b in range(4):
            s = start + int(b * BEAT * RATE)
            e = min(end, s + int(0.25 * RATE))
            tp = t[s:e] - t[s]
            kick = np.sin(2 * np.pi * (55 + 60 * np.exp(-tp * 30)) * tp) * np.exp(-tp * 14) * 0.22
            left[s:e] += kick
            right[s:e] += kick
    stereo = np.stack([left, right], axis=1)
    return (stereo / np.abs(stereo).max() * 0.7).astype(np.float32)


def main() -> int:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, (chords, pattern) in TRACKS.items():
        samples = track(chords, pattern)
        out = OUT_DIR / f"{name}.m4a"
        argv = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "f32le", "-ar", str(RATE), "-ac", "2",
                "-i", "pipe:0", "-c:a", "aac", "-b:a", "96k", "-movflags", "+faststart", str(out)]
        subprocess.run(argv, input=samples.tobytes(), check=True)
        print(f"{out.relative_to(ROOT)}: {len(samples) / RATE:.1f} s, {out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
