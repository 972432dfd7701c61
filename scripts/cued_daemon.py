"""`dagster-daemon run`, started before it is needed and run when told: LocalDagster's daemon after a launch.

Started with the code server and webserver, it imports the `dagster-daemon` command and opens the instance once
(which imports the storage's modules) while they load; then it waits for a line on stdin and only then runs
`dagster-daemon` with its own arguments, in this same process. The backfill daemon's first pass still comes right
after the launch, without the seconds a cold process spends importing Dagster first (most of a daemon's start on a
loaded machine). Stdin closing without a line (whoever started it is gone) ends it without running the daemon.

    python scripts/cued_daemon.py run -w WORKSPACE   # DAGSTER_HOME set; then write a line to its stdin
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points


def main(argv: list[str]) -> int:
    # The console script `dagster-daemon` runs: the same entry point, loaded (imported) ahead of the cue.
    (command,) = entry_points(group="console_scripts", name="dagster-daemon")
    daemon = command.load()
    import dagster as dg

    dg.DagsterInstance.get().dispose()
    if not sys.stdin.readline():
        return 0
    sys.argv = ["dagster-daemon", *argv]
    return daemon()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
