"""Utilities shared by every sktransfer estimator."""

from sktransfer.utils._device import resolve_device
from sktransfer.utils._seed import seed_from, seeded

__all__ = ["resolve_device", "seed_from", "seeded"]
