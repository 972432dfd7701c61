"""Atomic writes: a reader sees the old file or the whole new one, whatever happens to the writer."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from batch_video import files

REPO = Path(__file__).resolve().parents[2]


def hidden_leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_write_json_text_bytes_and_copy_replace_the_target(tmp_path):
    target = tmp_path / "deep" / "data.json"
    files.write_json(target, {"title": "Cană țărănească"}, indent=1)
    assert json.loads(target.read_text(encoding="utf-8")) == {"title": "Cană țărănească"}
    assert "Cană" in target.read_text(encoding="utf-8")  # kept readable, not \u-escaped
    files.write_text(target, "new")
    assert target.read_text() == "new"
    files.write_bytes(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    source = tmp_path / "source.bin"
    source.write_bytes(os.urandom(3 * files.COPY_CHUNK_BYTES + 7))
    files.copy_file(source, target)
    assert target.read_bytes() == source.read_bytes()
    assert hidden_leftovers(target.parent) == []


def test_new_files_get_the_permissions_of_a_plain_open(tmp_path):
    old = os.umask(0o022)
    try:
        files.write_text(tmp_path / "a.txt", "x")
        plain = tmp_path / "b.txt"
        plain.write_text("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == stat.S_IMODE(plain.stat().st_mode) == 0o644


@pytest.mark.parametrize("error", [ValueError("bad data"), KeyboardInterrupt()])
def test_an_error_while_writing_keeps_the_old_file_and_removes_the_temp(tmp_path, error):
    target = tmp_path / "video.json"
    target.write_text("old")
    with pytest.raises(type(error)):
        with files.atomic_open(target, "w", encoding="utf-8") as handle:
            handle.write("half of the new")
            raise error
    assert target.read_text() == "old"
    assert hidden_leftovers(tmp_path) == []


def test_a_program_writes_the_atomic_path_and_the_target_appears_only_when_it_is_done(tmp_path):
    target = tmp_path / "out.wav"
    with files.atomic_path(target, suffix=".wav") as temp:
        assert temp.parent == tmp_path and temp.name.startswith(".out.wav.") and temp.suffix == ".wav"
        subprocess.run([sys.executable, "-c", f"open({str(temp)!r}, 'wb').write(b'RIFF')"], check=True)
        assert not target.exists()
    assert target.read_bytes() == b"RIFF"
    with pytest.raises(subprocess.CalledProcessError):
        with files.atomic_path(target, suffix=".wav") as temp:
            subprocess.run([sys.executable, "-c", f"open({str(temp)!r}, 'wb').write(b'XX'); raise SystemExit(1)"],
                           check=True)
    assert target.read_bytes() == b"RIFF"
    assert hidden_leftovers(tmp_path) == []


def test_a_writer_killed_mid_write_leaves_the_old_file_whole(tmp_path):
    target = tmp_path / "product.json"
    target.write_text('{"old": true}')
    child = textwrap.dedent(f"""
        import os, signal
        from batch_video import files
        with files.atomic_open({str(target)!r}, "w", encoding="utf-8") as handle:
            handle.write('{{"new": ')
            handle.flush()
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    completed = subprocess.run([sys.executable, "-c", child], cwd=REPO)
    assert completed.returncode == -signal.SIGKILL
    assert json.loads(target.read_text()) == {"old": True}
    # What the killed writer left is hidden and names its process.
    (leftover,) = hidden_leftovers(tmp_path)
    assert leftover.startswith(".product.json.") and leftover.endswith(".tmp")


def test_atomic_open_refuses_append_and_read_modes(tmp_path):
    with pytest.raises(ValueError):
        with files.atomic_open(tmp_path / "x", "a"):
            pass
