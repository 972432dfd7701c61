"""A local Dagster (webserver, daemon, code server) for the demo, the benchmarks and the end-to-end tests.

Not part of the code location nor of the console: it starts `dagster dev` on
loopback with its own DAGSTER_HOME and stops its whole process group.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Mapping

from batch_video.errors import BatchVideoError
from dagster_project.console.client import DagsterApiError, DagsterClient

ROOT = Path(__file__).resolve().parents[1]

WORKSPACE_STATUS = """
query { workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


class LocalDagster:
    """`dagster dev` (webserver, daemon, code server) on loopback with its own DAGSTER_HOME.

    Use as a context manager; the whole process group is stopped on exit.
    """

    def __init__(
        self,
        home: "os.PathLike[str] | str",
        *,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        instance_yaml: "os.PathLike[str] | str | None" = None,
        startup_timeout_s: float = 180.0,
    ) -> None:
        self.root = ROOT
        self.home = Path(home)
        self.port = port or free_port()
        self.env = dict(env or {})
        self.instance_yaml = Path(instance_yaml) if instance_yaml else self.root / "dagster.yaml"
        self.startup_timeout_s = startup_timeout_s
        self.client = DagsterClient(f"http://127.0.0.1:{self.port}")
        self.log_path = self.home / "dagster-dev.log"
        self.process: Any = None

    def start(self) -> DagsterClient:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "dagster.yaml").write_text(self.instance_yaml.read_text())
        env = {**os.environ, **self.env, "DAGSTER_HOME": str(self.home)}
        dagster = Path(sys.executable).with_name("dagster")
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [str(dagster), "dev", "-w", str(self.root / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(self.port)],
            cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # one process group: stopping it stops the daemon and code server too
        )
        log.close()
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DagsterApiError(f"dagster dev exited early ({self.process.returncode}); see {self.log_path}")
            if self.client.is_up() and code_location_loaded(self.client):
                return self.client
            time.sleep(0.5)
        self.stop()
        raise DagsterApiError(f"dagster dev did not come up within {self.startup_timeout_s:.0f} s; see {self.log_path}")

    def stop(self, timeout_s: float = 30.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass
        # Children (code server, run workers) may outlive the dev process itself.
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def __enter__(self) -> DagsterClient:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
