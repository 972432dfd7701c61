"""Running ffmpeg/ffprobe: piped frames, `-progress` parsing, timeouts, errors with stderr."""

from __future__ import annotations

import collections
import fcntl
import json
import logging
import queue
import re
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from batch_video.errors import FFmpegError

logger = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]
STDERR_TAIL_LINES = 60
_F_SETPIPE_SZ = 1031  # Linux: larger pipe = fewer context switches per 3 MB frame


class FFmpegTimeoutError(FFmpegError):
    """ffmpeg took longer than allowed; a busy machine may manage on a retry."""

    retryable = True


class _StderrTail:
    def __init__(self, stream) -> None:
        self.lines: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream) -> None:
        for raw in iter(stream.readline, b""):
            self.lines.append(raw.decode("utf-8", "replace").rstrip())

    def text(self) -> str:
        self.thread.join(timeout=2)
        return "\n".join(self.lines)


class _ProgressReader:
    """Parses `-progress pipe:1` key=value blocks; keeps the latest encoded frame count."""

    def __init__(self, stream) -> None:
        self.frame = 0
        self.ended = False
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream) -> None:
        for raw in iter(stream.readline, b""):
            key, _, value = raw.decode("ascii", "replace").strip().partition("=")
            if key == "frame" and value.isdigit():
                self.frame = int(value)
            elif key == "progress" and value == "end":
                self.ended = True


@contextmanager
def _started(argv: list[str], *, stdin: int | None) -> Iterator[subprocess.Popen]:
    """Start the command; kill it if the caller leaves early (error, timeout, a canceled run's interrupt)."""
    try:
        proc = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except FileNotFoundError as exc:
        raise FFmpegError(f"{argv[0]} is not installed: {exc}", argv=argv, stage="render") from exc
    try:
        yield proc
    except BaseException:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        raise


def run_ffmpeg(argv: list[str], *, timeout_s: float | None = None, total_frames: int = 0,
               progress: ProgressFn | None = None) -> str:
    """Run a command that reads nothing from us; -> stderr text. Raises FFmpegError."""
    with _started(argv, stdin=subprocess.DEVNULL) as proc:
        tail = _StderrTail(proc.stderr)
        reader = _ProgressReader(proc.stdout) if "-progress" in argv else None
        out_chunks: list[bytes] = []
        if reader is None:
            threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()), daemon=True).start()
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        last = -1
        while True:
            try:
                proc.wait(timeout=0.1)
                break
            except subprocess.TimeoutExpired:
                pass
            if reader is not None and progress is not None and reader.frame != last:
                last = reader.frame
                progress(min(last, total_frames or last), total_frames)
            if deadline is not None and time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise FFmpegTimeoutError(f"{Path(argv[0]).name} timed out after {timeout_s:.0f}s",
                                         argv=argv, stderr=tail.text(), stage="render")
        stderr = tail.text()
        if proc.returncode != 0:
            raise FFmpegError(f"{Path(argv[0]).name} failed with exit code {proc.returncode}",
                              argv=argv, stderr=stderr, stage="render")
        return stderr


def run_piped(
    argv: list[str],
    produce: Callable[[int, np.ndarray], None],
    buffers: Iterable[np.ndarray],
    total_frames: int,
    *,
    progress: ProgressFn | None = None,
    timeout_s: float | None = None,
) -> dict:
    """Feed `total_frames` frames to ffmpeg's stdin while they are being produced.

    `produce(n, buf)` draws frame n into a buffer from the pool; a writer thread
    sends finished buffers while the next frame is drawn (warping and pipe
    writes both release the GIL, so the two overlap). Returns timing figures.
    """
    pool: queue.Queue = queue.Queue()
    for buf in buffers:
        pool.put(buf)
    ready: queue.Queue = queue.Queue()
    with _started(argv, stdin=subprocess.PIPE) as proc:
        try:
            fcntl.fcntl(proc.stdin.fileno(), _F_SETPIPE_SZ, 1 << 20)
        except OSError:
            pass
        tail = _StderrTail(proc.stderr)
        reader = _ProgressReader(proc.stdout)
        write_error: list[BaseException] = []

        def writer() -> None:
            while True:
                item = ready.get()
                if item is None:
                    break
                try:
                    if not write_error:
                        proc.stdin.write(memoryview(item))
                except (BrokenPipeError, OSError, ValueError) as exc:
                    write_error.append(exc)
                pool.put(item)
            try:
                proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass

        thread = threading.Thread(target=writer, name="ffmpeg-stdin", daemon=True)
        thread.start()
        started = time.monotonic()
        deadline = None if timeout_s is None else started + timeout_s
        produce_s = 0.0
        last_reported = -1

        def fail_timeout() -> None:
            proc.kill()
            ready.put(None)
            proc.wait()
            raise FFmpegTimeoutError(f"render timed out after {timeout_s:.0f}s", argv=argv,
                                     stderr=tail.text(), stage="render")

        try:
            for n in range(total_frames):
                if write_error or proc.poll() is not None:
                    break
                while True:
                    try:
                        buf = pool.get(timeout=0.5)
                        break
                    except queue.Empty:
                        if deadline is not None and time.monotonic() > deadline:
                            fail_timeout()
                        if proc.poll() is not None:
                            buf = None
                            break
                if buf is None:
                    break
                t0 = time.perf_counter()
                produce(n, buf)
                produce_s += time.perf_counter() - t0
                ready.put(buf)
                if progress is not None and reader.frame != last_reported:
                    last_reported = reader.frame
                    progress(last_reported, total_frames)
                if deadline is not None and time.monotonic() > deadline:
                    fail_timeout()
            ready.put(None)
            while True:
                try:
                    proc.wait(timeout=0.1)
                    break
                except subprocess.TimeoutExpired:
                    if progress is not None and reader.frame != last_reported:
                        last_reported = reader.frame
                        progress(last_reported, total_frames)
                    if deadline is not None and time.monotonic() > deadline:
                        fail_timeout()
        except BaseException:
            ready.put(None)  # the writer thread stops; `_started` kills ffmpeg
            raise
        thread.join(timeout=5)
        reader.thread.join(timeout=2)
        stderr = tail.text()
        if proc.returncode != 0:
            raise FFmpegError(f"ffmpeg failed with exit code {proc.returncode}", argv=argv, stderr=stderr, stage="render")
        if write_error:
            raise FFmpegError(f"ffmpeg stopped reading frames: {write_error[0]}", argv=argv, stderr=stderr,
                              stage="render")
        if progress is not None:
            progress(total_frames, total_frames)
        return {"wall_s": time.monotonic() - started, "produce_s": produce_s, "stderr": stderr}


def probe(path: str | Path, *, timeout_s: float = 30.0) -> dict:
    """ffprobe's JSON for the file's streams and format."""
    argv = ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format",
            "file:" + str(Path(path).resolve())]
    with _started(argv, stdin=subprocess.DEVNULL) as proc:
        try:
            out, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise FFmpegTimeoutError(f"ffprobe timed out on {path}", argv=argv, stderr=err.decode("utf-8", "replace"))
    if proc.returncode != 0:
        raise FFmpegError(f"ffprobe failed on {path}", argv=argv, stderr=err.decode("utf-8", "replace"))
    return json.loads(out.decode("utf-8"))


def parse_ebur128_summary(stderr: str, instance: str = "") -> tuple[float, float | None]:
    """(integrated LUFS, sample peak dBFS or None) from an ebur128 filter's summary.

    `instance` picks one named filter (`ebur128@name`) when several ran.
    """
    marker = re.escape(f"ebur128@{instance}") if instance else r"Parsed_ebur128_\d+|ebur128@\w+"
    match = re.search(r"\[(?:%s) @ [^\]]*\] Summary:(.*?)(?=\n\[|\Z)" % marker, stderr, flags=re.S)
    if match is None:
        raise ValueError("no ebur128 summary in ffmpeg output")
    body = match.group(1)
    integrated = re.search(r"I:\s+(-?(?:[\d.]+|inf)) LUFS", body)
    if integrated is None:
        raise ValueError("no integrated loudness in the ebur128 summary")
    peak = re.search(r"Sample peak:\s*\n\s*Peak:\s+(-?(?:[\d.]+|inf)) dBFS", body)
    return float(integrated.group(1)), (float(peak.group(1)) if peak else None)
