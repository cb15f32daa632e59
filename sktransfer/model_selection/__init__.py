"""Measure whether transfer helps: transfer gain curves and negative transfer."""

from sktransfer.model_selection._gain_curve import (
    GainCurve,
    plot_transfer_gain_curve,
    stratified_subsample,
    transfer_gain_curve,
)

__all__ = [
    "GainCurve",
    "plot_transfer_gain_curve",
    "stratified_subsample",
    "transfer_gain_curve",
]
