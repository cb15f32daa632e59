"""Transfer strategies shared by every estimator.

Freezing by name globs, the BatchNorm policy, per-group learning rates, unfreeze
schedules expressed as data, and structure transfer (fresh weights, same
architecture). Estimators turn their ``transfer=`` hyperparameter into a
:class:`TransferPlan` with :func:`plan_transfer` and apply it to their module.
"""

from sktransfer.transfer._blocks import last_blocks, transfer_blocks
from sktransfer.transfer._freeze import (
    freeze,
    matching_parameters,
    set_trainable,
    trainable_parameter_names,
    unfreeze,
)
from sktransfer.transfer._module import (
    BATCHNORM_POLICIES,
    TransferModule,
    apply_batchnorm_policy,
    batched_features,
)
from sktransfer.transfer._plan import (
    TRANSFER_MODES,
    TransferPlan,
    check_transfer_mode,
    plan_transfer,
)
from sktransfer.transfer._schedule import (
    UnfreezeSchedule,
    default_unfreeze_schedule,
    resolve_unfreeze_schedule,
)
from sktransfer.transfer._structure import reinitialize, shared_parameters

__all__ = [
    "BATCHNORM_POLICIES",
    "TRANSFER_MODES",
    "TransferModule",
    "TransferPlan",
    "UnfreezeSchedule",
    "apply_batchnorm_policy",
    "batched_features",
    "check_transfer_mode",
    "default_unfreeze_schedule",
    "freeze",
    "last_blocks",
    "matching_parameters",
    "plan_transfer",
    "reinitialize",
    "resolve_unfreeze_schedule",
    "set_trainable",
    "shared_parameters",
    "trainable_parameter_names",
    "transfer_blocks",
    "unfreeze",
]
