"""ffprobe and the one EBU R128 log parser shared by the renderer and the quality checks."""

from __future__ import annotations

import subprocess

import pytest

from batch_video import media
from batch_video.errors import ProgramError

LOG = """[Parsed_ebur128_2 @ 0x54] Summary:

  Integrated loudness:
    I:         -70.0 LUFS
    Threshold:   0.0 LUFS

  Sample peak:
    Peak:       -inf dBFS
Stream mapping:
  Stream #0:0 (pcm_s16le) -> apad:default
[Parsed_ebur128_2 @ 0x55] t: 0.1  TARGET:-23 LUFS    M:-120.7 S:-120.7     I: -70.0 LUFS
[Parsed_ebur128_2 @ 0x55] t: 7.4  TARGET:-23 LUFS    M: -15.1 S: -15.9     I: -20.6 LUFS
[Parsed_ebur128_2 @ 0x55] Summary:

  Integrated loudness:
    I:         -20.7 LUFS
    Threshold: -30.7 LUFS

  Sample peak:
    Peak:       -0.3 dBFS
[ebur128@g1 @ 0x66] t: 2.5  TARGET:-23 LUFS    M: -15.1 S: -15.9     I: -14.0 LUFS
[ebur128@g1 @ 0x66] Summary:

  Integrated loudness:
    I:         -14.3 LUFS
[out#0/null @ 0x77] video:0kB audio:1kB
"""


def test_the_first_meter_its_last_summary_its_peak_and_its_last_frame():
    # A complex graph may be configured twice: the first summary (nothing heard) is not the measurement.
    assert media.parse_ebur128(LOG) == media.EbuR128(-20.7, -0.3, 7.4)


def test_a_named_meter_is_read_alone():
    assert media.parse_ebur128(LOG, "g1") == media.EbuR128(-14.3, None, 2.5)
    assert media.parse_ebur128(LOG, "g7") == media.EbuR128(None, None, None)


def test_silence_and_missing_logs():
    silent = media.parse_ebur128("[Parsed_ebur128_0 @ 0x1] Summary:\n I:  -inf LUFS")
    assert silent.integrated_lufs == float("-inf") and silent.is_silent
    assert media.parse_ebur128("nothing here") == media.EbuR128(None, None, None)
    assert media.EbuR128(media.SILENCE_LUFS, None, None).is_silent
    assert not media.EbuR128(media.LOUDNESS_TARGET_LUFS, None, None).is_silent


def test_probe_reads_streams_and_refuses_a_non_video(tmp_path):
    video = tmp_path / "-odd name.mp4"  # a name that would read as an option without the file: prefix
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "color=red:s=32x32:d=0.5:r=10",
                    "-pix_fmt", "yuv420p", "file:" + str(video)], check=True)
    info = media.probe(video)
    assert info["streams"][0]["codec_type"] == "video" and float(info["format"]["duration"]) == pytest.approx(0.5, abs=0.1)
    bad = tmp_path / "x.mp4"
    bad.write_text("nope")
    with pytest.raises(ProgramError) as err:
        media.probe(bad)
    assert err.value.field == "video" and "ffprobe cannot read" in str(err.value)
