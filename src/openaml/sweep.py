"""``openaml.sweep``: the names of ``azure.ai.ml.sweep``, for hyperparameter sweeps.

``from openaml.sweep import Choice, Uniform, BanditPolicy`` works as it does with azure-ai-ml::

    job = command(command="python train.py --lr ${{inputs.lr}}", inputs={"lr": 0.1}, ...)
    sweep = job(lr=Uniform(0.001, 0.1)).sweep(primary_metric="accuracy", goal="maximize",
                                              max_total_trials=20, max_concurrent_trials=4)

Only entities are imported here (the import-linter layers allow nothing else).
"""

from openaml.entities.search_space import (Choice, LogNormal, LogUniform, Normal, QLogNormal, QLogUniform,
                                           QNormal, QUniform, Randint, Uniform)
from openaml.entities.sweep import (BanditPolicy, BayesianSamplingAlgorithm, GridSamplingAlgorithm,
                                    MedianStoppingPolicy, Objective, RandomSamplingAlgorithm, SweepJob,
                                    SweepJobLimits, TruncationSelectionPolicy)

__all__ = [
    "SweepJob", "SweepJobLimits", "Objective",
    "Choice", "Randint", "Uniform", "QUniform", "LogUniform", "QLogUniform",
    "Normal", "QNormal", "LogNormal", "QLogNormal",
    "BanditPolicy", "MedianStoppingPolicy", "TruncationSelectionPolicy",
    "RandomSamplingAlgorithm", "GridSamplingAlgorithm", "BayesianSamplingAlgorithm",
]
