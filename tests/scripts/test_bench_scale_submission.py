"""bench-scale's submission figures come from the runs' own creation times, not from its polls."""

from __future__ import annotations

import pytest

from scripts.bench_scale import submission_figures

LAUNCH = 1_000.0


def test_a_batch_queued_between_two_polls_still_has_a_submission_rate():
    # 20 runs created 0.2 s apart, all between the poll at 30 s (none) and the one at 32 s (all 20):
    # the polls alone see no time pass between the first run and the last.
    created = [LAUNCH + 30.1 + 0.2 * i for i in range(20)]
    figures = submission_figures(created, [(30.0, 0), (32.0, 20)], LAUNCH, 20, window_s=60)
    assert figures["submission_rate_runs_per_s"] == pytest.approx(5.0)
    assert figures["queued"] == 20
    assert figures["launch_to_first_queued_s"] == 30.1
    assert figures["launch_to_all_queued_s"] == 33.9


def test_a_batch_still_being_queued_when_the_window_closes_is_projected_at_its_rate():
    created = [LAUNCH + 10 + 0.5 * i for i in range(100)]  # 2 runs/s, 100 of 1,000 queued
    figures = submission_figures(reversed(created), [(10.0, 1), (60.0, 100)], LAUNCH, 1_000, window_s=50)
    assert figures["launch_to_all_queued_s"] is None
    assert figures["submission_rate_runs_per_s"] == pytest.approx(2.0)
    assert figures["projected_all_queued_s"] == pytest.approx(10 + 999 / 2.0)


@pytest.mark.parametrize("created", [[], [LAUNCH + 5]])
def test_fewer_than_two_runs_give_no_rate_rather_than_a_zero_one(created):
    figures = submission_figures(created, [(5.0, len(created))], LAUNCH, 20, window_s=60)
    assert figures["submission_rate_runs_per_s"] is None and figures["projected_all_queued_s"] is None
