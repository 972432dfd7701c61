"""A local Dagster (webserver, daemon, code server) for the demo, the benchmarks and the end-to-end tests.

Not part of the code location nor of the console. By default it is `dagster dev`,
as `make dev` runs it. With `daemon_after_launch=True` the same three parts start
as the separate public commands `dagster dev` combines (`dagster api grpc`,
`dagster-webserver`, `dagster-daemon run`) and the daemon runs only when
`start_daemon()` is called: a batch launched before that is taken by the backfill
daemon's first pass at once, instead of at its next pass, up to 30 s later
(Dagster's backfill loop interval, which no setting changes: dagster-io/dagster#11649).
That daemon's process starts with the others and imports Dagster while they load
(scripts/cued_daemon.py); `start_daemon()` tells it to run.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from batch_video.errors import BatchVideoError
from dagster_project.console.client import DagsterApiError, DagsterClient

ROOT = Path(__file__).resolve().parents[1]
LOCAL_YAML = "deploy/local/dagster.yaml"
CLUSTER_YAML = "deploy/cluster/dagster.yaml"
# The code location's name when `workspace.yaml` loads it (a python_module entry is named after its module).
LOCATION_NAME = "dagster_project.definitions"

WORKSPACE_STATUS = """
query { workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""
RELOAD_LOCATION = """
mutation Reload($name: String!) { reloadRepositoryLocation(repositoryLocationName: $name) { __typename } }
"""


def interrupts_back_on() -> Callable[[], None] | None:
    """For a child, when this process ignores SIGINT (started in the background by a shell without job control,
    as `make demo &` in a script is): give the child SIGINT back. Dagster's processes answer SIGTERM with their
    SIGINT handler, so a code server that inherited the ignored SIGINT ignores SIGTERM too and is only stopped by
    SIGKILL, 30 s later. Each child leads its own session, so no terminal's Ctrl-C reaches it either way."""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        return None
    return lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def code_location_loaded(client: DagsterClient) -> bool:
    """True once every code location has loaded; a load error is raised, not waited on."""
    try:
        result = client.query(WORKSPACE_STATUS)["workspaceOrError"]
    except BatchVideoError:
        return False
    entries = result.get("locationEntries") or []
    for entry in entries:
        error = entry.get("locationOrLoadError") or {}
        if error.get("__typename") == "PythonError":
            raise DagsterApiError(f"code location {entry['name']} failed to load: {error.get('message', '')[:2000]}")
    return bool(entries) and all(e["loadStatus"] == "LOADED" for e in entries)


@dataclass(frozen=True)
class RunWorker:
    """A Celery run worker, as if on its own host: its own name, env and data folder."""

    name: str
    env: Mapping[str, str] = ()  # type: ignore[assignment]
    concurrency: int = 1

    def argv(self, python: str) -> list[str]:
        return [python, "-m", "celery", "-A", "dagster_project.run_worker", "worker", "-n", f"{self.name}@%h",
                "-Q", "dagster", "--concurrency", str(self.concurrency), "--loglevel", "INFO",
                # No chatter between workers at start-up: each one stands alone, like on its own host.
                "--without-gossip", "--without-mingle"]


def uses_run_workers(instance_yaml: str) -> bool:
    """Whether an instance's runs are executed by Celery run workers (which someone must start)."""
    import yaml

    launcher = (yaml.safe_load(instance_yaml) or {}).get("run_launcher") or {}
    return launcher.get("module") == "dagster_project.run_launcher"


class LocalDagster:
    """Webserver, daemon and code server on loopback with their own DAGSTER_HOME, and the profile's run workers.

    Use as a context manager; every process (and its process group) is stopped on exit.
    `workers` are Celery run workers (default: one, when the profile's launcher is Celery);
    each runs in its own session, so killing it with what it started is like losing that host.
    """

    def __init__(
        self,
        home: "os.PathLike[str] | str",
        *,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        instance_yaml: "os.PathLike[str] | str | None" = None,
        startup_timeout_s: float = 180.0,
        daemon_after_launch: bool = False,
        workers: Sequence[RunWorker] | None = None,
    ) -> None:
        self.root = ROOT
        self.home = Path(home)
        self.port = port or free_port()
        self.env = dict(env or {})
        self.instance_yaml = Path(instance_yaml) if instance_yaml else self.root / LOCAL_YAML
        self.startup_timeout_s = startup_timeout_s
        self.daemon_after_launch = daemon_after_launch
        self.client = DagsterClient(f"http://127.0.0.1:{self.port}")
        self.log_path = self.home / "dagster-dev.log"
        self.process: Any = None  # `dagster dev`, or the code server
        self.processes: list[subprocess.Popen] = []
        # A `daemon_after_launch` start's daemon: waiting for its cue, or running once `daemon_cued`.
        self.daemon: subprocess.Popen | None = None
        self.daemon_cued = False
        self.stopping = False  # every process has been told to stop (begin_stop)
        self.workspace = self.root / "workspace.yaml"
        self.workers = list(workers) if workers is not None else (
            [RunWorker("local")] if uses_run_workers(self.instance_yaml.read_text()) else [])
        self.worker_processes: dict[str, subprocess.Popen] = {}

    def start_worker(self, worker: RunWorker) -> subprocess.Popen:
        env = {**os.environ, **self.env, "DAGSTER_HOME": str(self.home), **dict(worker.env or {}),
               "BATCH_VIDEO_WORKER_NAME": worker.name}
        with open(self.home / f"worker-{worker.name}.log", "ab") as log:
            process = subprocess.Popen(worker.argv(sys.executable), cwd=self.root, env=env, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        self.worker_processes[worker.name] = process
        return process

    def kill_worker(self, name: str) -> None:
        """SIGKILL a run worker and everything it started, runs included: as if its host died."""
        from dagster_project.process_tree import kill_tree

        process = self.worker_processes[name]
        if process.poll() is None:
            kill_tree(process.pid)
        process.wait()

    def _spawn(self, argv: Sequence[str], stdin: int | None = None) -> subprocess.Popen:
        env = {**os.environ, **self.env, "DAGSTER_HOME": str(self.home)}
        with open(self.log_path, "ab") as log:
            process = subprocess.Popen(
                list(argv), cwd=self.root, env=env, stdin=stdin, stdout=log, stderr=subprocess.STDOUT,
                # A process group each: stopping it stops its children (code servers, run workers) too.
                start_new_session=True, preexec_fn=interrupts_back_on(),
            )
        if self.process is None:
            self.process = process
        self.processes.append(process)
        return process

    @staticmethod
    def _bin(name: str) -> str:
        return str(Path(sys.executable).with_name(name))

    def start(self) -> DagsterClient:
        """Start everything and wait until the code location has loaded; on any failure (a load error included)
        stop what was started before raising, so nothing keeps running behind a failed start."""
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> DagsterClient:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "dagster.yaml").write_text(self.instance_yaml.read_text())
        # Create the instance's storage once, here, before any process starts: processes starting on a fresh
        # DAGSTER_HOME at the same time would each create it (the run workers open the instance as they start, beside
        # `dagster dev` or the cued daemon), and two creating it at once leave two alembic heads, after which no
        # Dagster process can open the instance ("Version table 'alembic_version' has more than one head present").
        # `dagster dev` avoids it for its own children the same way. Imported here: the demo reaches this module
        # before anything else needs dagster's import time.
        import dagster as dg

        dg.DagsterInstance.from_config(str(self.home)).dispose()
        for worker in self.workers:
            self.start_worker(worker)
        host = ["-h", "127.0.0.1"]
        if not self.daemon_after_launch:
            self._spawn([self._bin("dagster"), "dev", "-w", str(self.workspace), *host, "-p", str(self.port)])
            self._wait_until(lambda: self.client.is_up() and code_location_loaded(self.client), "dagster dev")
            return self.client
        grpc_port = free_port()
        self.workspace = self.home / "workspace-grpc.yaml"
        self.workspace.write_text(
            f"load_from:\n  - grpc_server:\n      host: 127.0.0.1\n      port: {grpc_port}\n"
            f"      location_name: {LOCATION_NAME}\n"
        )
        # Both load at once, as under `dagster dev`; a webserver up before the code server has
        # recorded a load error, so it is asked to load the location again once the server listens.
        self._spawn([self._bin("dagster"), "api", "grpc", "-m", LOCATION_NAME, "-d", str(self.root), *host,
                     "-p", str(grpc_port), "--location-name", LOCATION_NAME])
        self._spawn([self._bin("dagster-webserver"), "-w", str(self.workspace), *host, "-p", str(self.port)])
        self._spawn_daemon()
        self._wait_until(lambda: listening(grpc_port) and self.client.is_up(), "the code server and webserver")
        self._wait_until(self._location_loaded_or_reloaded, "the code location")
        return self.client

    def _location_loaded_or_reloaded(self) -> bool:
        try:
            return code_location_loaded(self.client)
        except DagsterApiError:
            self.client.query(RELOAD_LOCATION, {"name": LOCATION_NAME})
            return False

    def _spawn_daemon(self) -> None:
        """Start the daemon's process, which imports Dagster and waits for `start_daemon()` to run the daemon."""
        self.daemon = self._spawn([sys.executable, str(self.root / "scripts" / "cued_daemon.py"), "run",
                                   "-w", str(self.workspace)], stdin=subprocess.PIPE)
        self.daemon_cued = False

    def start_daemon(self) -> None:
        """Run the daemon (backfills, run queue, sensors) after a `daemon_after_launch` start."""
        if not self.daemon_after_launch or self.daemon_cued:
            return
        if self.daemon is None:
            self._spawn_daemon()
        assert self.daemon is not None and self.daemon.stdin is not None
        self.daemon.stdin.write(b"run\n")
        self.daemon.stdin.flush()
        self.daemon_cued = True

    def stop_daemon(self, timeout_s: float = 30.0) -> None:
        """Stop the daemon alone (a `daemon_after_launch` start), leaving the webserver and code server up; the
        next daemon's process starts at once, so the next `start_daemon()` finds it ready as the first did."""
        if not self.daemon_after_launch or not self.daemon_cued or self.daemon is None:
            return
        self.processes.remove(self.daemon)
        stop_groups([self.daemon], timeout_s)
        self._spawn_daemon()

    def _wait_until(self, ready: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            for process in [*self.processes, *self.worker_processes.values()]:
                if process.poll() is not None:
                    raise DagsterApiError(f"{process.args[0]} exited early ({process.returncode}); see {self.log_path}")
            if ready():
                return
            time.sleep(0.5)
        raise DagsterApiError(f"{what} did not come up within {self.startup_timeout_s:.0f} s; see {self.log_path}")

    def begin_stop(self) -> None:
        """Kill the run workers and tell every other process to stop, without waiting for them (Dagster's take
        seconds to shut down, which a caller may spend on its own work); `stop()` waits."""
        # The workers first, runs included (each run's process leads its own group): nothing left rendering.
        for name in list(self.worker_processes):
            self.kill_worker(name)
        if not self.stopping:
            signal_groups(self.processes, signal.SIGTERM)
            self.stopping = True

    def stop(self, timeout_s: float = 30.0) -> None:
        self.begin_stop()
        stop_groups(self.processes, timeout_s, signalled=True)
        self.process = None
        self.processes = []
        self.daemon = None
        self.daemon_cued = False
        self.stopping = False

    def __enter__(self) -> DagsterClient:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def signal_groups(processes: Sequence[subprocess.Popen], signum: int) -> None:
    for process in processes:
        try:
            os.killpg(process.pid, signum)
        except ProcessLookupError:
            pass


def stop_groups(processes: Sequence[subprocess.Popen], timeout_s: float, *, signalled: bool = False) -> None:
    """SIGTERM each process's group at once (unless `signalled` already), wait, then SIGKILL what is left
    (children may outlive them)."""
    if not signalled:
        signal_groups(processes, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    signal_groups(processes, signal.SIGKILL)
    for process in processes:
        process.wait()
        if process.stdin:
            process.stdin.close()
