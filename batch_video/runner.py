"""One runner for the external programs batch_video uses: ffmpeg, ffprobe and espeak-ng.

Commands are built elsewhere by pure functions (argv lists, testable without
running anything); this module runs them, the same way for every caller:

- with a minimal environment (`child_environment`): PATH, locale, HOME, TMPDIR
  and the few variables the programs read; never the process's secrets
  (`SUPABASE_*` keys, database URLs) nor Dagster's or our own settings;
- with a deadline: a command still running when it passes is killed and
  `ProgramTimeout` (retryable: a busy machine may manage on a retry) is raised;
- killed whenever the caller leaves early (an error, or a canceled run's
  interrupt arriving while we wait), so no orphan keeps a core busy; and
  killed by the kernel when the process that started it dies without a
  chance to clean up (`kill -9`, the OOM killer): PR_SET_PDEATHSIG on Linux;
- with its stderr kept (the tail goes into the error) and its stdout either
  captured or read as ffmpeg's `-progress` stream.

`run` covers commands that read nothing from us; `started` + `StderrReader` +
`Deadline` are the pieces for a caller that feeds a command's stdin itself
(the renderer's frame pipe).
"""

from __future__ import annotations

import collections
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

from batch_video.errors import ProgramError, ProgramTimeout

logger = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]

# What a child may inherit: enough to find programs, fonts, voices and a temp folder, and to speak UTF-8.
CHILD_ENV_NAMES = frozenset({
    "PATH", "HOME", "TMPDIR", "TZ", "LANG", "LANGUAGE",
    "ESPEAK_DATA_PATH", "FONTCONFIG_FILE", "FONTCONFIG_PATH", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR",
})
CHILD_ENV_PREFIXES = ("LC_",)
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
# stderr kept per command; ffmpeg's loudness log is ~10 short lines a second of audio.
STDERR_MAX_CHARS = 2_000_000
POLL_S = 0.1
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def child_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a child program gets: an allow-list, so a new secret never leaks by default."""
    environ = os.environ if environ is None else environ
    env = {k: v for k, v in environ.items() if k in CHILD_ENV_NAMES or k.startswith(CHILD_ENV_PREFIXES)}
    env.setdefault("PATH", DEFAULT_PATH)
    return env


def _dies_with(parent_pid: int) -> Callable[[], None] | None:
    """What a child runs before exec so that the kernel SIGKILLs it when its parent dies (None off Linux).

    Runs between fork and exec, so it only calls prctl: no import, no lock. The parent
    may have died before the call; then the child is already an orphan and exits.
    """
    if _LIBC is None:
        return None

    def set_death_signal() -> None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent_pid:
            os._exit(1)

    return set_death_signal


def program_name(argv: Sequence[str]) -> str:
    return Path(argv[0]).name if argv else "?"


class Deadline:
    """A point in time a command must finish by; `None` seconds means no limit."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.at = None if seconds is None else time.monotonic() + seconds

    def passed(self) -> bool:
        return self.at is not None and time.monotonic() > self.at

    def remaining(self) -> float | None:
        return None if self.at is None else max(0.0, self.at - time.monotonic())


class StderrReader:
    """Reads a command's stderr on a thread (so it never fills the pipe); keeps the last STDERR_MAX_CHARS."""

    def __init__(self, stream) -> None:
        self._lines: collections.deque[str] = collections.deque()
        self._chars = 0
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self._lines.append(line)
            self._chars += len(line) + 1
            while self._chars > STDERR_MAX_CHARS and len(self._lines) > 1:
                self._chars -= len(self._lines.popleft()) + 1

    def text(self) -> str:
        self._thread.join(timeout=2)
        return "\n".join(self._lines)


class ProgressReader:
    """Parses ffmpeg's `-progress pipe:1` key=value blocks; keeps the latest frame count."""

    def __init__(self, stream) -> None:
        self.frame = 0
        self.ended = False
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for raw in iter(stream.readline, b""):
            key, _, value = raw.decode("ascii", "replace").strip().partition("=")
            if key == "frame" and value.isdigit():
                self.frame = int(value)
            elif key == "progress" and value == "end":
                self.ended = True

    def wait(self) -> int:
        """The last frame count, once the stream is read to its end (2 s at most after the command exits)."""
        self._thread.join(timeout=2)
        return self.frame


class _OutputReader:
    def __init__(self, stream) -> None:
        self.chunks: list[bytes] = []
        self.thread = threading.Thread(target=lambda: self.chunks.append(stream.read()), daemon=True)
        self.thread.start()

    def data(self) -> bytes:
        self.thread.join(timeout=5)
        return b"".join(self.chunks)


class _HeldInterrupt:
    """Holds back SIGINT while a child starts, so that the child is always held for killing first.

    A canceled run's SIGINT raises in the main thread wherever it is; landing inside `Popen` after the fork (or
    just after it returns) it would raise before anyone holds the child, which would then run on, orphaned.
    Held, it is delivered by `release()`, once the caller is ready to kill the child. Only a handler installed
    from Python is held (Python's default one raising KeyboardInterrupt, or Dagster's); an ignored SIGINT
    stays ignored.
    """

    def __init__(self) -> None:
        self.previous = None
        self.pending = False
        self.frame = None
        if threading.current_thread() is not threading.main_thread():
            return  # Python runs signal handlers in the main thread only: no interrupt lands here
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler):
            signal.signal(signal.SIGINT, self._hold)
            self.previous = handler

    def _hold(self, signum, frame) -> None:
        self.pending, self.frame = True, frame

    def release(self) -> None:
        """Put the handler back; if an interrupt came meanwhile, deliver it now (usually: raise)."""
        previous, self.previous = self.previous, None
        if previous is None:
            return
        signal.signal(signal.SIGINT, previous)
        if self.pending:
            previous(signal.SIGINT, self.frame)


@contextmanager
def started(argv: Sequence[str], *, feed_stdin: bool = False, stage: str | None = None) -> Iterator[subprocess.Popen]:
    """Start a command (stdout and stderr piped); kill it if the caller leaves the block early.

    An interrupt arriving while the command starts is held until the child can be killed (`_HeldInterrupt`).
    """
    argv = [str(a) for a in argv]
    held = _HeldInterrupt()
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if feed_stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_environment(),
            # The signal follows the starting thread: every caller waits for its child in the thread that started it.
            preexec_fn=_dies_with(os.getpid()),
        )
    except FileNotFoundError as exc:
        held.release()
        raise ProgramError(f"{program_name(argv)} is not installed: {exc}", argv=argv, stage=stage) from exc
    except BaseException:
        held.release()
        raise
    try:
        held.release()
        yield proc
    except BaseException:
        kill(proc)
        raise


def kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def timed_out(proc: subprocess.Popen, argv: Sequence[str], deadline: Deadline, stderr: StderrReader,
              *, stage: str | None = None, what: str = "") -> ProgramTimeout:
    """Kill the command and return the error to raise."""
    kill(proc)
    return ProgramTimeout(f"{what or program_name(argv)} timed out after {deadline.seconds:.0f}s",
                          argv=list(argv), stderr=stderr.text(), stage=stage)


@dataclass(frozen=True)
class Completed:
    argv: list[str]
    returncode: int
    stdout: bytes
    stderr: str


def run(
    argv: Sequence[str],
    *,
    timeout_s: float | None,
    check: bool = True,
    progress: ProgressFn | None = None,
    total_frames: int = 0,
    stage: str | None = None,
) -> Completed:
    """Run a command that reads nothing from us, within `timeout_s`.

    With `-progress pipe:1` in argv, stdout is ffmpeg's progress stream and
    `progress(frame, total_frames)` is called as frames are encoded; otherwise
    stdout is captured whole. `check`: a non-zero exit raises ProgramError.
    """
    argv = [str(a) for a in argv]
    deadline = Deadline(timeout_s)
    with started(argv, stage=stage) as proc:
        stderr = StderrReader(proc.stderr)
        reader = ProgressReader(proc.stdout) if "-progress" in argv else None
        output = _OutputReader(proc.stdout) if reader is None else None
        last = -1
        while True:
            try:
                proc.wait(timeout=POLL_S)
                break
            except subprocess.TimeoutExpired:
                pass
            if reader is not None and progress is not None and reader.frame != last:
                last = reader.frame
                progress(min(last, total_frames or last), total_frames)
            if deadline.passed():
                raise timed_out(proc, argv, deadline, stderr, stage=stage)
        if reader is not None and progress is not None:
            # An encode shorter than one poll is never seen above: its last frame count is reported once it is read.
            final = reader.wait()
            if final != last:
                progress(min(final, total_frames or final), total_frames)
        completed = Completed(argv, proc.returncode, output.data() if output else b"", stderr.text())
    if check and completed.returncode != 0:
        raise ProgramError(f"{program_name(argv)} failed with exit code {completed.returncode}",
                           argv=argv, stderr=completed.stderr, stage=stage)
    return completed
