"""Early-termination policies on hand-computed metric histories."""

from __future__ import annotations

import pytest

from openaml.services.sweep_policies import first_stop, is_evaluation_point, should_stop
from openaml.sweep import BanditPolicy, MedianStoppingPolicy, TruncationSelectionPolicy

HIST = {"A": [0.5, 0.8], "B": [0.4, 0.6], "C": [0.3, 0.7]}


def stops(policy, goal, histories, k, completed=()):
    return {name for name in histories if should_stop(policy, goal, name, histories, completed, k)}


def test_evaluation_points_follow_interval_and_delay():
    policy = BanditPolicy(slack_factor=0.1, evaluation_interval=2, delay_evaluation=3)
    assert [k for k in range(1, 9) if is_evaluation_point(policy, k)] == [4, 6, 8]
    every = MedianStoppingPolicy()
    assert [k for k in range(1, 4) if is_evaluation_point(every, k)] == [1, 2, 3]
    assert is_evaluation_point(BanditPolicy(slack_amount=1, evaluation_interval=0), 1)  # 0 means every report


def test_bandit_slack_factor_maximize():
    # at interval 2 the best trial has 0.8: the limit is 0.8 / 1.2 = 0.667
    policy = BanditPolicy(slack_factor=0.2, delay_evaluation=2)
    assert stops(policy, "maximize", HIST, 2) == {"B"}
    assert stops(policy, "maximize", HIST, 1) == set()  # before delay_evaluation


def test_bandit_slack_amount_maximize():
    # limit 0.8 - 0.15 = 0.65: B (best 0.6) stops, C (best 0.7) goes on
    assert stops(BanditPolicy(slack_amount=0.15), "maximize", HIST, 2) == {"B"}
    # at interval 1 the best is 0.5, limit 0.35: C (0.3) stops
    assert stops(BanditPolicy(slack_amount=0.15), "maximize", HIST, 1) == {"C"}


def test_bandit_minimize():
    hist = {"A": [0.5], "B": [0.65]}
    assert stops(BanditPolicy(slack_factor=0.2), "minimize", hist, 1) == {"B"}  # limit 0.6
    assert stops(BanditPolicy(slack_amount=0.2), "minimize", hist, 1) == set()  # limit 0.7


def test_bandit_never_stops_the_leader():
    hist = {"A": [-1.0], "B": [-5.0]}  # -1 / 1.1 = -0.909 would put the leader itself outside
    assert stops(BanditPolicy(slack_factor=0.1), "maximize", hist, 1) == {"B"}


def test_bandit_uses_the_best_value_so_far():
    hist = {"A": [0.8, 0.8], "B": [0.79, 0.1]}  # B's best by interval 2 is still 0.79
    assert stops(BanditPolicy(slack_amount=0.05), "maximize", hist, 2) == set()


def test_median_stopping_against_completed_trials():
    hist = {"X": [0.2, 0.4, 0.6], "Y": [0.5, 0.7, 0.9], "Z": [0.1, 0.1, 0.1],
            "T": [0.25, 0.28], "U": [0.1, 0.35], "R": [0.9, 0.95]}
    # running averages at 2 of X, Y, Z: 0.3, 0.6, 0.1 -> median 0.3; R is running and not counted
    policy = MedianStoppingPolicy()
    assert stops(policy, "maximize", {k: v for k, v in hist.items() if k in "TUR"}, 2,
                 completed=["X", "Y", "Z"]) == set()  # histories of the completed are needed
    assert should_stop(policy, "maximize", "T", hist, ["X", "Y", "Z"], 2)
    assert not should_stop(policy, "maximize", "U", hist, ["X", "Y", "Z"], 2)
    assert not should_stop(policy, "maximize", "T", hist, [], 2)  # nothing completed yet
    # minimising, T's best (0.25) is below the median 0.3: it goes on; R's (0.9) stops
    assert not should_stop(policy, "minimize", "T", hist, ["X", "Y", "Z"], 2)
    assert should_stop(policy, "minimize", "R", hist, ["X", "Y", "Z"], 2)


def test_truncation_selection():
    hist = {"A": [0.9], "B": [0.8], "C": [0.7], "D": [0.1]}
    assert stops(TruncationSelectionPolicy(truncation_percentage=25), "maximize", hist, 1) == {"D"}
    assert stops(TruncationSelectionPolicy(truncation_percentage=25), "minimize", hist, 1) == {"A"}
    assert stops(TruncationSelectionPolicy(truncation_percentage=50), "maximize", hist, 1) == {"C", "D"}
    assert stops(TruncationSelectionPolicy(truncation_percentage=20), "maximize", hist, 1) == set()  # floor(0.8)


def test_truncation_ranks_by_the_value_at_the_interval():
    hist = {"A": [0.9, 0.1], "B": [0.5, 0.5], "C": [0.6, 0.6], "D": [0.7, 0.7]}
    assert stops(TruncationSelectionPolicy(truncation_percentage=25), "maximize", hist, 2) == {"A"}


@pytest.mark.parametrize("policy", [None])
def test_no_policy_never_stops(policy):
    assert not should_stop(policy, "maximize", "B", HIST, [], 2)


def test_first_stop_evaluates_each_new_interval_once():
    hist = {"A": [0.5, 0.8, 0.9], "B": [0.45, 0.5, 0.5]}
    policy = BanditPolicy(slack_amount=0.2)
    # interval 1: limit 0.3 -> fine; interval 2: limit 0.6, B's best 0.5 -> stop at 2
    assert first_stop(policy, "maximize", "B", hist, [], after=0) == 2
    assert first_stop(policy, "maximize", "B", hist, [], after=2) == 3
    assert first_stop(policy, "maximize", "A", hist, [], after=0) is None
