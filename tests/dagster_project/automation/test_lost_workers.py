"""Which started runs count as lost: a task no live worker has (the end to end case is in test_cluster_e2e)."""

from __future__ import annotations

from dagster_project.automation.lost_workers import is_missing

REPLIES = {"host-a@box": [{"id": "task-1"}], "host-b@box": []}


def test_a_task_its_worker_lists_is_not_missing():
    assert not is_missing("task-1", "host-a@box", REPLIES)
    assert not is_missing("task-1", None, REPLIES)  # worker unknown: any answering worker listing it will do


def test_a_task_whose_worker_did_not_answer_is_missing_even_if_others_did():
    assert is_missing("task-2", "host-c@box", REPLIES)


def test_a_task_its_worker_no_longer_lists_is_missing():
    assert is_missing("task-1", "host-b@box", REPLIES)
    assert is_missing("task-2", None, REPLIES)
