"""Early termination of sweep trials: pure functions over the trials' primary-metric histories.

A history is the list of values a trial reported for the primary metric, in the order it
reported them; "interval" ``k`` is the ``k``-th report (Azure: each time the script logs the
primary metric counts as one interval). A policy is evaluated for a trial at the intervals that
are multiples of ``evaluation_interval`` and at least ``delay_evaluation`` (Azure's wording).

- **bandit**: stop the trial if its best value up to ``k`` is outside the slack of the best value
  any trial reached by ``k``: maximising, below ``best / (1 + slack_factor)`` or
  ``best - slack_amount``; minimising, above ``best * (1 + slack_factor)`` or ``best + slack_amount``.
- **median_stopping**: stop the trial if its best value up to ``k`` is worse than the median of
  the running averages (mean of the first ``k`` values) of the *completed* trials that reached
  ``k`` (the median stopping rule of Google Vizier, on which Azure's is modelled).
- **truncation_selection**: among all trials that reached ``k``, ranked by their value at ``k``,
  stop the trial if it is in the worst ``truncation_percentage`` percent (``floor(n * p / 100)``
  trials).
"""

from __future__ import annotations

import math
import statistics
from typing import Any, Collection, Mapping, Sequence

from openaml.entities.sweep import BanditPolicy, MedianStoppingPolicy, TruncationSelectionPolicy

Histories = Mapping[str, Sequence[float]]


def is_evaluation_point(policy: Any, k: int) -> bool:
    """Whether the policy is applied at the ``k``-th report (1-based)."""
    interval = max(1, policy.evaluation_interval or 1)
    return k >= 1 and k % interval == 0 and k >= policy.delay_evaluation


def _best(values: Sequence[float], maximize: bool) -> float:
    return max(values) if maximize else min(values)


def _worse(a: float, b: float, maximize: bool) -> bool:
    """``a`` is strictly worse than ``b``."""
    return a < b if maximize else a > b


def bandit_stops(policy: BanditPolicy, maximize: bool, trial: str, histories: Histories, k: int) -> bool:
    """Bandit: is ``trial``'s best by interval ``k`` outside the slack of the best trial's?"""
    reached = [h[:k] for h in histories.values() if len(h) >= k]
    if len(histories.get(trial, ())) < k or not reached:
        return False
    mine = _best(histories[trial][:k], maximize)
    best = _best([_best(h, maximize) for h in reached], maximize)
    if mine == best:  # the leader is never outside its own slack (a ratio of a negative best would say so)
        return False
    if policy.slack_factor is not None:
        limit = best / (1 + policy.slack_factor) if maximize else best * (1 + policy.slack_factor)
    else:
        limit = best - policy.slack_amount if maximize else best + policy.slack_amount
    return _worse(mine, limit, maximize)


def median_stops(policy: MedianStoppingPolicy, maximize: bool, trial: str, histories: Histories,
                 completed: Collection[str], k: int) -> bool:
    """Median stopping: is ``trial``'s best by ``k`` worse than the median running average of the
    completed trials at ``k``?"""
    if len(histories.get(trial, ())) < k:
        return False
    averages = [statistics.fmean(histories[name][:k]) for name in completed
                if name != trial and len(histories.get(name, ())) >= k]
    if not averages:
        return False
    return _worse(_best(histories[trial][:k], maximize), statistics.median(averages), maximize)


def truncation_stops(policy: TruncationSelectionPolicy, maximize: bool, trial: str, histories: Histories,
                     k: int) -> bool:
    """Truncation selection: is ``trial`` among the worst ``truncation_percentage`` percent of the
    trials that reached ``k``, ranked by their value at ``k``?"""
    if len(histories.get(trial, ())) < k:
        return False
    peers = sorted((name for name, h in histories.items() if len(h) >= k),
                   key=lambda name: histories[name][k - 1], reverse=not maximize)
    cut = math.floor(len(peers) * policy.truncation_percentage / 100)
    return trial in peers[:cut]


def should_stop(policy: Any, goal: str, trial: str, histories: Histories, completed: Collection[str],
                k: int) -> bool:
    """Whether ``policy`` stops ``trial`` at its ``k``-th report (False off evaluation points)."""
    if policy is None or not is_evaluation_point(policy, k):
        return False
    maximize = goal == "maximize"
    if isinstance(policy, BanditPolicy):
        return bandit_stops(policy, maximize, trial, histories, k)
    if isinstance(policy, MedianStoppingPolicy):
        return median_stops(policy, maximize, trial, histories, completed, k)
    if isinstance(policy, TruncationSelectionPolicy):
        return truncation_stops(policy, maximize, trial, histories, k)
    return False


def first_stop(policy: Any, goal: str, trial: str, histories: Histories, completed: Collection[str],
               after: int) -> int | None:
    """The first interval in ``(after, len(history)]`` at which ``policy`` stops ``trial``, if any.

    The runtime checks each running trial's new reports with it, so an interval is evaluated once
    even when several reports arrive between two polls.
    """
    for k in range(after + 1, len(histories.get(trial, ())) + 1):
        if should_stop(policy, goal, trial, histories, completed, k):
            return k
    return None
