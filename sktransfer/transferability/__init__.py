"""Transferability: score sources for a target task without fine-tuning them."""

from sktransfer.transferability._scores import (
    h_score,
    leep_score,
    logme_score,
    nce_score,
)

__all__ = ["h_score", "leep_score", "logme_score", "nce_score"]
