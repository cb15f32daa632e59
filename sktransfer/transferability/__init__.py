"""Transferability: score sources for a target task without fine-tuning them.

Scores (higher is better): :func:`logme_score`, :func:`h_score` on features;
:func:`leep_score` on a source classifier's probabilities; :func:`nce_score` on
its predicted labels. :func:`rank_sources` and :class:`SourceSelector` use them
to choose among candidate sources; :func:`make_transferability_scorer` plugs
them into ``cross_validate`` and ``GridSearchCV``.
"""

from sktransfer.transferability._scores import (
    h_score,
    leep_score,
    logme_score,
    nce_score,
)
from sktransfer.transferability._selection import (
    METRICS,
    Ranking,
    SourceSelector,
    TransferabilityScorer,
    candidate_outputs,
    make_transferability_scorer,
    rank_sources,
)

__all__ = [
    "METRICS",
    "Ranking",
    "SourceSelector",
    "TransferabilityScorer",
    "candidate_outputs",
    "h_score",
    "leep_score",
    "logme_score",
    "make_transferability_scorer",
    "nce_score",
    "rank_sources",
]
