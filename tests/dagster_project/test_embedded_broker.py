"""The local profile's embedded broker never hands a worker a half-written message."""

from __future__ import annotations

import pytest
from celery import Celery

from dagster_project.run_launcher import EMBEDDED_BROKER, embedded_broker_options


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    app = Celery("test", broker=EMBEDDED_BROKER)
    app.conf.update(embedded_broker_options(EMBEDDED_BROKER))
    return app


def test_a_message_being_written_is_not_read_and_a_complete_one_is(app, tmp_path):
    queue_folder = tmp_path / "celery" / "queue"
    with app.connection_for_write() as conn:
        queue = conn.SimpleQueue("dagster")
        (queue_folder / "1_0000.dagster.msg.part").write_bytes(b"")  # a writer in the middle of its write
        with pytest.raises(queue.Empty):
            queue.get(timeout=0.5)
        queue.put({"run": 1})
        assert not list(queue_folder.glob("*.part"))[1:], "the writer leaves no partial file of its own"
        message = queue.get(timeout=5)
        assert message.payload == {"run": 1}
        message.ack()
        queue.close()
