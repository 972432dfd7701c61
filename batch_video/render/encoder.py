"""Feeding the encoder: frames drawn in this process are piped to ffmpeg's stdin while the next ones are drawn.

Starting, watching, timing out and killing the command is the one runner's job
(`batch_video.runner`); this module only adds the frame pipe.
"""

from __future__ import annotations

import fcntl
import logging
import queue
import subprocess
import threading
import time
from typing import Callable, Iterable

import numpy as np

from batch_video import runner
from batch_video.errors import ProgramError

logger = logging.getLogger(__name__)

ProgressFn = runner.ProgressFn
_F_SETPIPE_SZ = 1031  # Linux: larger pipe = fewer context switches per 3 MB frame
STAGE = "render"


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
    deadline = runner.Deadline(timeout_s)
    with runner.started(argv, feed_stdin=True, stage=STAGE) as proc:
        try:
            fcntl.fcntl(proc.stdin.fileno(), _F_SETPIPE_SZ, 1 << 20)
        except OSError:
            pass
        stderr = runner.StderrReader(proc.stderr)
        reader = runner.ProgressReader(proc.stdout)
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
        produce_s = 0.0
        last_reported = -1

        def check_deadline() -> None:
            if deadline.passed():
                ready.put(None)
                raise runner.timed_out(proc, argv, deadline, stderr, stage=STAGE, what="render")

        def report() -> None:
            nonlocal last_reported
            if progress is not None and reader.frame != last_reported:
                last_reported = reader.frame
                progress(last_reported, total_frames)

        try:
            for n in range(total_frames):
                if write_error or proc.poll() is not None:
                    break
                while True:
                    try:
                        buf = pool.get(timeout=0.5)
                        break
                    except queue.Empty:
                        check_deadline()
                        if proc.poll() is not None:
                            buf = None
                            break
                if buf is None:
                    break
                t0 = time.perf_counter()
                produce(n, buf)
                produce_s += time.perf_counter() - t0
                ready.put(buf)
                report()
                check_deadline()
            ready.put(None)
            while True:
                try:
                    proc.wait(timeout=runner.POLL_S)
                    break
                except subprocess.TimeoutExpired:
                    report()
                    check_deadline()
        except BaseException:
            ready.put(None)  # the writer thread stops; `runner.started` kills ffmpeg
            raise
        thread.join(timeout=5)
        reader.wait()
        text = stderr.text()
        if proc.returncode != 0:
            raise ProgramError(f"ffmpeg failed with exit code {proc.returncode}", argv=argv, stderr=text, stage=STAGE)
        if write_error:
            raise ProgramError(f"ffmpeg stopped reading frames: {write_error[0]}", argv=argv, stderr=text, stage=STAGE)
        if progress is not None:
            progress(total_frames, total_frames)
        return {"wall_s": time.monotonic() - started, "produce_s": produce_s, "stderr": text}
