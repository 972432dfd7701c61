"""The `cluster` profile's services on this machine: PostgreSQL, Redis and an S3 server (demo, benchmarks, tests).

The services themselves are started by the project's scripts (scripts/start_test_*.sh);
this module runs them, and prepares a fresh database, Redis databases and bucket for one cluster.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from dagster_project.console.client import DagsterApiError

ROOT = Path(__file__).resolve().parents[1]


def cluster_env(pg_dsn: str, redis_url: str, s3_endpoint: str, name: str) -> dict[str, str]:
    """The `cluster` profile's environment over running services: a fresh database `name`, bucket and Redis dbs.

    `pg_dsn`: postgresql://user@host:port/any-db; `redis_url`: redis://host:port/N; `s3_endpoint`: http://host:port.
    """
    import boto3
    import redis

    dagster_pg = fresh_database(pg_dsn, name)
    broker, backend = redis_url.rsplit("/", 1)[0] + "/0", redis_url.rsplit("/", 1)[0] + "/1"
    for url in (broker, backend):
        redis.Redis.from_url(url).flushdb()  # no task or result left over from an earlier cluster
    credentials = {"AWS_ACCESS_KEY_ID": "batch-video", "AWS_SECRET_ACCESS_KEY": "batch-video-secret"}
    bucket = name.lower().replace("_", "-")  # S3 bucket names allow no underscores
    boto3.session.Session().client(
        "s3", endpoint_url=s3_endpoint, region_name="us-east-1",
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"], aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
    ).create_bucket(Bucket=bucket)
    return {
        "BATCH_VIDEO_DAGSTER_PG_URL": dagster_pg,
        "BATCH_VIDEO_CELERY_BROKER": broker,
        "BATCH_VIDEO_CELERY_BACKEND": backend,
        "BATCH_VIDEO_WORK_STORE": f"s3://{bucket}/work",
        "BATCH_VIDEO_S3_ENDPOINT_URL": s3_endpoint,
        **credentials,
    }


def fresh_database(pg_dsn: str, name: str) -> str:
    """An empty database `name` on the server of `pg_dsn` (postgresql://user@host:port/any-db): its URL for Dagster."""
    import psycopg

    parts = urlsplit(pg_dsn)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    # SQLAlchemy 2.1 would pick psycopg 3 for a bare postgresql:// URL; dagster-postgres 0.29.27 needs psycopg2.
    return urlunsplit(parts._replace(scheme="postgresql+psycopg2", path=f"/{name}"))


class ClusterServices:
    """PostgreSQL, Redis and an S3 server started by the project's scripts, stopped on exit (demo, benchmarks).

    Each runs from a state folder under `state_dir`, on loopback, on a free port.
    """

    SCRIPTS = {
        "start_test_postgres.sh": ("BATCH_VIDEO_TEST_PG_DIR", "BATCH_VIDEO_TEST_PG_DSN"),
        "start_test_redis.sh": ("BATCH_VIDEO_TEST_REDIS_DIR", "BATCH_VIDEO_TEST_REDIS_URL"),
        "start_test_s3.sh": ("BATCH_VIDEO_TEST_S3_DIR", "BATCH_VIDEO_TEST_S3_ENDPOINT"),
    }

    def __init__(self, state_dir: "os.PathLike[str] | str", scripts: "tuple[str, ...] | None" = None) -> None:
        self.root = ROOT
        self.state_dir = Path(state_dir)
        self.scripts = scripts or tuple(self.SCRIPTS)  # e.g. ("start_test_postgres.sh",) for PostgreSQL alone
        self.urls: dict[str, str] = {}
        self.started: list[str] = []

    def _env(self, script: str) -> dict[str, str]:
        state_var, _ = self.SCRIPTS[script]
        return {**os.environ, state_var: str(self.state_dir / script.removeprefix("start_test_").removesuffix(".sh"))}

    def __enter__(self) -> "ClusterServices":
        try:
            for script in self.scripts:
                var = self.SCRIPTS[script][1]
                out = subprocess.run([str(self.root / "scripts" / script)], env=self._env(script), check=True,
                                     capture_output=True, text=True)
                self.started.append(script)
                line = next(l for l in out.stdout.splitlines() if l.startswith(f"export {var}="))
                self.urls[var] = line.split("=", 1)[1]
        except subprocess.CalledProcessError as err:
            self.__exit__()
            raise DagsterApiError(f"{err.cmd[0]} failed ({err.returncode}): {err.stderr[-2000:]}") from err
        return self

    def profile_env(self, name: str) -> dict[str, str]:
        return cluster_env(self.urls["BATCH_VIDEO_TEST_PG_DSN"], self.urls["BATCH_VIDEO_TEST_REDIS_URL"],
                           self.urls["BATCH_VIDEO_TEST_S3_ENDPOINT"], name)

    def __exit__(self, *exc: object) -> None:
        for script in reversed(self.started):
            subprocess.run([str(self.root / "scripts" / script), "--stop"], env=self._env(script),
                           capture_output=True, check=False)
        self.started.clear()
