"""The base every sktransfer estimator composes: training knobs and the skorch net.

Estimators are plain scikit-learn estimators (``__init__`` only stores
parameters). ``fit`` builds a torch module and hands it to a skorch
:class:`~skorch.NeuralNet` stored as ``net_``, whose history, callbacks and
optimizer stay reachable. This module holds what all of them share: validation
of the training hyperparameters, the validation split and early stopping, the
optimizer and per-group learning rates, progress reporting, seeding and device.
"""

import contextlib
import copy
import functools
import inspect
import json
import os
import types
import warnings
from collections.abc import Iterable
from numbers import Integral, Real

import numpy as np
import skorch
import torch
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context, clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import train_test_split
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import (
    Callback,
    EarlyStopping,
    Freezer,
    GradientNormClipping,
    LRScheduler,
    PrintLog,
    ProgressBar,
    Unfreezer,
)
from skorch.callbacks.scoring import ScoringBase
from skorch.dataset import Dataset
from skorch.exceptions import SkorchException
from skorch.helper import predefined_split

from sktransfer._batches import RaggedRows, batch_iterator
from sktransfer._checkpoint import (
    EpochCheckpoint,
    check_directory,
    fingerprint,
    load_checkpoint,
    remove_checkpoint,
    restore_module,
)
from sktransfer._nn import CrossEntropyLoss, Standardize
from sktransfer._optim import LBFGS, StopWhenConverged
from sktransfer._persistence import (
    history_from,
    standardized_head,
    state_dict_misfit,
)
from sktransfer._probe import linear_tail
from sktransfer.transfer import batched_features
from sktransfer.transfer._module import (
    batchnorm_training,
    feature_progress,
    unwrapped,
)
from sktransfer.transfer._schedule import UnfreezeSchedule, UnfreezingEarlyStopping
from sktransfer.utils import resolve_device, seeded
from sktransfer.utils._arrays import refuse_bad_labels, torch_defaults
from sktransfer.utils._display import lay_out_nested, summarized_copy
from sktransfer.utils._files import absolute_source_path
from sktransfer.utils._warnings import caller_stacklevel

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "lbfgs": LBFGS,
}

PRECISIONS = ("32", "bf16", "16-mixed")


@functools.cache
def fused_step_runs(optimizer_class, device_type):
    """Whether ``optimizer_class(..., fused=True)`` steps on ``device_type`` here.

    torch's fused Adam, AdamW and SGD update every parameter in one kernel
    (about 3x faster than the default per-tensor loop for a 1.5M-row
    embedding table on a CPU, with the same results to float rounding); CPUs
    have them from torch 2.4 on.
    """
    try:
        param = torch.zeros(1, device=device_type, requires_grad=True)
        param.grad = torch.zeros_like(param)
        optimizer_class([param], lr=0.1, fused=True).step()
    except (RuntimeError, TypeError, ValueError):
        return False
    return True


PROGRESS_ABOVE = 1000
"""With ``verbose >= 1``, feature extraction over more inputs than this shows
a progress bar."""

TRAINING_CONSTRAINTS = {
    "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "lr": [Interval(Real, 0, None, closed="neither")],
    "max_epochs": [Interval(Integral, 1, None, closed="left")],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "optimizer": [StrOptions({"auto", *OPTIMIZERS}), type, functools.partial],
    "weight_decay": [Interval(Real, 0, None, closed="left"), None],
    "class_weight": [StrOptions({"balanced"}), dict, None],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
    "callbacks": [list, tuple, None],
    "checkpoint_dir": [str, os.PathLike, None],
    "warm_start": ["boolean"],
    "precision": [StrOptions(set(PRECISIONS))],
    "accelerator": [HasMethods(["prepare", "backward"]), None],
    "verbose": ["verbose"],
    "device": [str, torch.device],
    "random_state": ["random_state"],
}
"""``_parameter_constraints`` of the training knobs every estimator has."""

SOURCE_PATH_DOC = """
    source_path_ : str, pathlib.Path or None
        The absolute path of a source given as a relative one (``{param}``),
        None otherwise: ``predict``, ``transform``, :func:`sktransfer.load`
        and unpickling read what ``fit`` read, whatever the working folder
        (the relative path again where that one no longer exists)."""
"""The ``source_path_`` attribute's entry (``.format(param=...)``)."""

TRAINING_PARAMS_DOC = """
    hidden_layer_sizes : array-like of int or int, default=()
        Widths of the hidden layers of the new head (an int: one layer);
        ``()`` is a linear head.
    dropout : float, default=0.0
        Dropout in the head.
    lr : float, default=1e-3
        Learning rate of the new parts (the head); not used by L-BFGS.
    max_epochs : int, default=20
        Number of passes over the training data.
    batch_size : int, default=32
        Mini-batch size for training and inference.
    optimizer : {"auto", "adamw", "adam", "sgd", "lbfgs"}, torch optimizer \
class or functools.partial of one, default="auto"
        The optimizer. A ``functools.partial`` sets the class's other
        arguments, e.g. ``partial(torch.optim.SGD, momentum=0.9)``.
        ``"lbfgs"``: L-BFGS over the whole training set at once
        (``lr`` and the training batches do not apply; ``weight_decay`` is an
        L2 penalty; an epoch is one step of up to 20 iterations, and training
        ends once a step finds nothing left to do), the solver of
        scikit-learn's ``LogisticRegression``; only for a head that trains
        alone on features the frozen source computed once, without dropout,
        without ``accelerator`` and without a ``GradientNormClipping`` callback
        (clipped gradients mislead its line search). ``"auto"``: ``"lbfgs"``
        where the head is linear and those conditions hold (the linear probe
        of feature extraction, which a few hundred Adam steps on a small
        training set leave far from converged), ``"adamw"`` otherwise.
        ``"adamw"``, ``"adam"`` and ``"sgd"`` get torch's fused
        implementation where this torch has it for the device (one kernel for
        every parameter; the same updates to float rounding).
    weight_decay : float or None, default=None
        Weight decay of the optimizer; for L-BFGS an L2 penalty
        ``weight_decay / 2 * |W|^2`` on the head's weight matrices. ``None``:
        ``1 / n_samples`` for L-BFGS -- the penalty of scikit-learn's
        ``LogisticRegression(C=1.0)``, which keeps the probabilities of a
        small training set from saturating -- and 0 for the others. An
        optimizer class that takes no weight decay (torch's ``Rprop``,
        ``LBFGS``) needs ``None`` or 0.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the training loss, as in scikit-learn:
        ``{label: weight}`` (classes left out weigh 1), or ``"balanced"``,
        ``n_samples / (n_classes * np.bincount(y))``, so that rare classes
        count as much as frequent ones. ``None``: every sample weighs 1.
        A class of weight 0 counts for nothing (a batch of its samples alone
        leaves the weights as they are).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified when
        possible, and never a class's only sample), stop when the validation
        loss has not improved for ``n_iter_no_change`` epochs, and keep the
        best weights. Training that unfreezes the source on a schedule does
        not stop before the last unfreeze, and the patience starts again at
        each.
    validation_fraction : float, default=0.1
        Share of the training data held out when ``early_stopping=True``.
    n_iter_no_change : int, default=5
        Patience of early stopping, in epochs.
    callbacks : list of skorch callbacks or (name, callback) pairs, default=None
        Extra skorch callbacks, copied at each fit (the parameter is not
        modified). Reach them after fit through ``net_.callbacks_``. Scoring
        callbacks work as with skorch's NeuralNetClassifier
        (``EpochScoring("accuracy", name="valid_acc")``); those that score
        the validation set need ``early_stopping=True``, which holds it out
        (without it they are warned of, and a callback that watches a
        validation score is a clear error).
    checkpoint_dir : str, path or None, default=None
        Write a checkpoint after every epoch to this folder; a later ``fit`` with
        the same hyperparameters and data (and, with ``warm_start``, from the
        same weights) resumes from the last finished epoch
        and reaches the same weights as an uninterrupted run (the RNG state
        and early stopping's best epoch are saved too). Each fit has its own
        file, so the fits of a search can share the folder. The checkpoint is
        removed when training completes. A checkpoint that cannot be written
        (a full disk) is warned of, and training goes on. A leading ``~`` is
        the home folder, here and in every path sktransfer takes.
    warm_start : bool, default=False
        When the estimator is fitted already, ``fit`` goes on from its
        trained weights -- not from the source -- for ``max_epochs`` more
        epochs on the data it is given, as scikit-learn's ``MLPClassifier``
        does; e.g. a fit with ``transfer="feature_extraction"``, then
        ``set_params(transfer="fine_tune", warm_start=True)`` and a second
        fit. ``transfer`` decides again what trains; the optimizer,
        ``net_.history``, ``n_iter_`` and ``loss_curve_`` start anew. The
        classes, and whatever sets the weights' shapes (the backbone, the
        head's layers, the input's shape), must be those of the fitted model:
        a ValueError names what differs.
    verbose : int, default=0
        0 is silent; 1 prints skorch's epoch table (and a progress bar while
        frozen features of more than 1,000 images are computed); 2 adds a
        progress bar per epoch.
    device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device, default="auto"
        Where to train and predict; ``"auto"`` is CUDA when available; a
        ``torch.device`` is taken as its name. A model fitted on a GPU
        unpickles on a CPU-only machine.
    precision : {"32", "bf16", "16-mixed"}, default="32"
        Arithmetic of the forward pass: float32; bfloat16 autocast (CUDA or
        CPU); or float16 autocast with gradient scaling (CUDA only). Where a
        frozen source's features are computed once per fit, they are computed
        at this precision, and the head trains on them in float32.
    accelerator : accelerate.Accelerator or None, default=None
        Train through Hugging Face Accelerate (skorch's ``AccelerateMixin``):
        multi-GPU and distributed set-ups launched with ``accelerate launch``.
        The accelerator then places the model (``device`` is ignored), sets
        the mixed precision (leave ``precision="32"``) and gives each process
        its share of the training rows; validation and predictions cover
        every row on every process, on its own device.
    random_state : int, RandomState instance or None, default=None
        Seeds torch and numpy inside ``fit`` (initialisation, shuffling, dropout,
        the validation split) without changing the caller's global RNG state.
        The same seed on the same CPU gives identical predictions."""


def check_fitted_net(estimator):
    """``check_is_fitted`` on the attribute every fitted estimator has."""
    check_is_fitted(estimator, "net_")


def module_device(module):
    """Where ``module`` computes: the device of its parameters (a net trained
    through Accelerate has ``device=None``: the Accelerator placed it)."""
    parameter = next(module.parameters(), None)
    return torch.device("cpu") if parameter is None else parameter.device


def encode_labels(estimator, y):
    """Set ``classes_`` and return ``y`` as int64 class indices.

    Raises a ValueError naming the problem for missing labels (None, NaN or
    pandas' NA among labels of another type, which scikit-learn calls an "unknown label
    type"), regression targets and a target with only one class.
    """
    refuse_bad_labels(y, estimator)
    check_classification_targets(y)
    given = vars(estimator).get("_partial_classes")
    if given is not None:  # partial_fit's first call: classes= names them all
        estimator.classes_ = given
        return labels_as_indices(estimator, y, given)
    classes, y_index = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            f"{type(estimator).__name__} needs at least 2 classes, but y contains "
            f"only one class ({classes[:1].tolist()[0]!r})."  # 'a', not np.str_('a')
        )
    estimator.classes_ = classes
    return y_index.astype(np.int64)


def labels_as_indices(estimator, y, classes):
    """``y`` as int64 indices into ``classes`` (sorted, unique); a ValueError
    names the labels of ``y`` that are not among them."""
    found, inverse = np.unique(np.asarray(y), return_inverse=True)
    position = {label: i for i, label in enumerate(classes.tolist())}
    missing = [label for label in found.tolist() if label not in position]
    if missing:
        raise ValueError(
            f"{type(estimator).__name__}: y holds labels that are not among the "
            f"classes {classes.tolist()!r:.200}: {missing[:5]!r:.200}. Pass every "
            "label the data will hold as classes= on the first call to "
            "partial_fit (or fit again)."
        )
    index = np.fromiter(map(position.__getitem__, found.tolist()), np.int64)
    return index[inverse.reshape(-1)]


def softmax(logits):
    """Row-wise softmax in float64, from a torch tensor or an array of logits."""
    logits = np.asarray(logits, dtype=np.float64)
    logits = logits - logits.max(axis=1, keepdims=True)
    proba = np.exp(logits)
    return proba / proba.sum(axis=1, keepdims=True)


def log_softmax(logits):
    """Row-wise log of :func:`softmax`, computed without ``log(0)``."""
    logits = np.asarray(logits, dtype=np.float64)
    logits = logits - logits.max(axis=1, keepdims=True)
    return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))


class TrainingCurveMixin:
    """``n_iter_`` and ``loss_curve_`` of the trained network, as
    scikit-learn's ``MLPClassifier`` has them (read from ``net_.history``)."""

    @property
    def n_iter_(self) -> int:
        """Epochs trained: fewer than ``max_epochs`` where early stopping (or
        the L-BFGS probe's convergence) ended the fit; with the epochs of the
        fit a checkpoint resumed."""
        return len(self.loss_curve_)

    @property
    def loss_curve_(self) -> list[float]:
        """The training loss of each epoch (an epoch interrupted before its
        end has none)."""
        check_fitted_net(self)
        return [
            float(row["train_loss"]) for row in self.net_.history if "train_loss" in row
        ]


HISTORY_ATTRIBUTES_DOC = """
    n_iter_ : int
        Epochs trained (fewer than ``max_epochs`` where early stopping or the
        L-BFGS probe's convergence ended the fit).
    loss_curve_ : list of float
        The training loss of each epoch (``net_.history[:, "train_loss"]``)."""
"""The attributes :class:`TrainingCurveMixin` adds, for the docstrings."""


class LogitClassifierMixin:
    """``predict``, ``predict_proba`` and ``predict_log_proba`` from one
    ``_logits(X)`` (validated input to class scores), as scikit-learn's
    probabilistic classifiers have them."""

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities of the samples in ``X``.

        Parameters
        ----------
        X : array-like or iterable of str
            Images or texts, as ``fit`` took them.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            In the order of ``classes_``.
        """
        return softmax(self._logits(X))

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        """Log class probabilities of the samples in ``X``.

        Computed from the logits, so a probability too small for a float is a
        finite log, never ``-inf``.

        Parameters
        ----------
        X : array-like or iterable of str
            Images or texts, as ``fit`` took them.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            In the order of ``classes_``.
        """
        return log_softmax(self._logits(X))

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted class labels of the samples in ``X``.

        Parameters
        ----------
        X : array-like or iterable of str
            Images or texts, as ``fit`` took them.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            One of ``classes_`` per sample.
        """
        logits = self._logits(X)  # first: it checks that the model is fitted
        return self.classes_[np.argmax(logits, axis=1)]


class QuietPrintLog(PrintLog):
    """skorch's epoch table, not built while nothing would print it.

    skorch's ``PrintLog`` formats the table every epoch and then drops it when
    ``verbose=0``: about 0.7 ms an epoch, a twentieth of a cached-feature
    head's fit. The table is skipped while the sink is ``print`` and the net is
    quiet; the first epoch printed (``verbose`` turned on later) still gets
    the header.
    """

    def on_epoch_end(self, net, **kwargs):
        if self.sink is print and not net.verbose:
            return
        super().on_epoch_end(net, **kwargs)


def autocast(precision, device_type):
    """``torch.autocast`` of ``precision`` (``"bf16"``: bfloat16,
    ``"16-mixed"``: float16) on ``device_type``; nothing for ``"32"``."""
    if precision == "32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device_type, dtype=dtype)


class TransferNet(skorch.NeuralNet):
    """skorch's NeuralNet with mixed precision, and device-free pickling.

    sktransfer hands skorch a built module instance (the transferred source
    plus its new head). skorch pickles ``module_`` so that a net fitted on CUDA
    loads on a CPU-only machine; the same object held as the ``module``
    parameter gets the same treatment here.

    ``precision="bf16"`` runs the forward pass under ``torch.autocast`` in
    bfloat16 (CUDA or CPU); ``"16-mixed"`` in float16 with a gradient scaler
    (CUDA). Losses are computed in float32. A head training alone on cached
    features runs in float32 (:meth:`_head_alone`).
    """

    def __init__(self, *args, precision="32", **kwargs):
        super().__init__(*args, **kwargs)
        self.precision = precision

    def initialize(self):
        super().initialize()
        self._pickle_device_free("module", "scaler_")  # may hold CUDA tensors
        self.scaler_ = torch.amp.GradScaler(
            self._device_type(), enabled=self.precision == "16-mixed"
        )
        return self

    def _pickle_device_free(self, *names):
        """Pickle the attributes ``names`` as skorch pickles ``module_``: in
        the same torch pickle (``module`` is ``module_``, and stays so) and
        loadable on a machine without the device they were on."""
        for name in names:
            if name not in self.cuda_dependent_attributes_:
                self.cuda_dependent_attributes_ = [
                    *self.cuda_dependent_attributes_,
                    name,
                ]

    def _device_type(self):
        return torch.device(self.device).type

    @property
    def _default_callbacks(self):
        return [
            (name, QuietPrintLog() if name == "print_log" else callback)
            for name, callback in super()._default_callbacks
        ]

    def _zero_grad_optimizer(self, set_to_none=None):
        """``zero_grad()`` of torch's own optimizers is ``p.grad = None`` for
        each parameter behind wrappers (profiler, dynamo guard): 17 us a step
        against 1 us for clearing the grads directly, as done here. Other
        optimizers, and ``set_to_none=False``, get skorch's call."""
        plain = all(
            type(getattr(self, name + "_")).zero_grad is torch.optim.Optimizer.zero_grad
            for name in self._optimizers
        )
        if set_to_none is False or not plain:
            super()._zero_grad_optimizer(set_to_none)
            return
        for name in self._optimizers:
            for group in getattr(self, name + "_").param_groups:
                for param in group["params"]:
                    param.grad = None

    def on_epoch_begin(self, net, **kwargs):
        super().on_epoch_begin(net, **kwargs)
        self._training_mode = None  # callbacks may unfreeze: set the mode again
        self._probe = None  # and change what trains: look again at the first step

    def on_train_end(self, net, **kwargs):
        super().on_train_end(net, **kwargs)
        self._probe = None  # it holds the last batch: not to be kept or pickled

    def _set_training(self, training=True):
        """skorch calls this before every batch; the recursive ``module.train``
        (and the BatchNorm policy it re-applies) runs only when the mode
        changes, or once per epoch."""
        if (
            getattr(self, "_training_mode", None) == training
            and self.module_.training == training
        ):
            return
        super()._set_training(training)
        self._training_mode = training

    def get_iterator(self, dataset, training=False):
        """skorch's, but :func:`~sktransfer._batches.batch_iterator` learns the
        net's current device (small data then lives on the GPU for the fit)."""
        iterator = self.iterator_train if training else self.iterator_valid
        if iterator is not batch_iterator:
            return super().get_iterator(dataset, training)
        kwargs = self.get_params_for("iterator_train" if training else "iterator_valid")
        kwargs.setdefault("batch_size", self.batch_size)
        if kwargs["batch_size"] == -1:
            kwargs["batch_size"] = len(dataset)
        return batch_iterator(dataset, device=self.device, **kwargs)

    def infer(self, x, **fit_params):
        if self.precision == "32" or self._head_alone():
            return super().infer(x, **fit_params)
        with autocast(self.precision, self._device_type()):
            out = super().infer(x, **fit_params)
        return out.float()

    def _head_alone(self):
        """Whether the head trains alone on cached float32 features: it then
        runs in float32 whatever ``precision`` (which computed the features),
        without gradient scaling, and L-BFGS can solve it."""
        return getattr(self.module_, "takes_features", False)

    def train_step_single(self, batch, **fit_params):
        Xi, yi = skorch.dataset.unpack_data(batch)
        probe = self._linear_probe(Xi, yi, fit_params)
        if probe is not None:  # the same loss and grads, without autograd
            self._set_training(True)
            loss, y_pred = probe(Xi, yi, self.criterion_.weight)
            return {"loss": loss, "y_pred": y_pred}
        if not self.scaler_.is_enabled() or self._head_alone():
            return super().train_step_single(batch, **fit_params)
        self._set_training(True)
        Xi, yi = skorch.dataset.unpack_data(batch)
        y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        self.scaler_.scale(loss).backward()
        # the gradients callbacks see (GradientNormClipping, a logger) are the
        # true ones, not 65,536 times them; the scaler's step then knows
        self.scaler_.unscale_(self.optimizer_)
        return {"loss": loss, "y_pred": y_pred}

    def _linear_probe(self, X, y, fit_params):
        """:func:`~sktransfer._probe.linear_tail` of the head when it trains
        alone on cached features (``X``) in float32 against class labels
        ``y``; looked up at the first step of each epoch (None otherwise)."""
        if fit_params or not self._head_alone():
            return None
        if not (isinstance(X, torch.Tensor) and isinstance(y, torch.Tensor)):
            return None
        if y.dtype != torch.int64 or y.dim() != 1 or X.dtype != torch.float32:
            return None
        if getattr(self, "_probe", None) is None:
            self._probe = linear_tail(self.module_.head, self.criterion_) or False
        return self._probe or None

    def _step_optimizer(self, step_fn):
        if not self.scaler_.is_enabled() or self._head_alone():
            return super()._step_optimizer(step_fn)
        step_fn()  # zero_grad, forward, scaled backward
        self.scaler_.step(self.optimizer_)
        self.scaler_.update()
        return None


class ClassifierNet(ClassifierMixin, TransferNet):
    """The TransferNet of sktransfer's classifiers, as skorch's
    NeuralNetClassifier to a scorer: ``predict`` is the most probable class
    and ``classes_`` the classes the net trains on (the estimator's, encoded
    ``0..k-1``). skorch scoring callbacks in ``callbacks=`` then work:
    ``EpochScoring("accuracy")``, ``"roc_auc"``, ``"neg_log_loss"``.
    ``predict_proba`` is skorch's: the softmax of the logits."""

    def predict(self, X):
        return self.predict_proba(X).argmax(axis=1)


def accelerated_net_class():
    """``AccelerateMixin + ClassifierNet`` (skorch's Hugging Face Accelerate path)."""
    global _ACCELERATED
    if _ACCELERATED is None:
        try:
            import accelerate  # noqa: F401
            from skorch.hf import AccelerateMixin
        except ImportError as exc:
            raise ImportError(
                "accelerator= needs Hugging Face Accelerate: "
                'pip install "sktransfer[accelerate]"'
            ) from exc
        _ACCELERATED = type(
            "AcceleratedTransferNet",
            (AccelerateMixin, ClassifierNet),
            {
                "__module__": __name__,
                "__doc__": "TransferNet trained through an accelerate.Accelerator.",
                "__setstate__": _accelerated_setstate,
                "initialize": _accelerated_initialize,
                "_initialize_accelerator": _prepare_trainable_only,
                "get_iterator": _accelerated_get_iterator,
                "evaluation_step": ClassifierNet.evaluation_step,  # no gather
                "notify": _accelerated_notify,
                "on_train_end": _accelerated_on_train_end,
                "refresh_trainable": _accelerated_refresh_trainable,
            },
        )
        globals()["AcceleratedTransferNet"] = _ACCELERATED
    return _ACCELERATED


_ACCELERATED = None


def accelerator_device(accelerator, name):
    """Where ``accelerator`` places the model, as a string; a ValueError
    naming the problem where this machine lacks that device (an Accelerator
    made on a GPU machine and unpickled here), instead of torch's error at
    the first batch."""
    device = torch.device(accelerator.device)
    if device.type == "cuda":
        try:
            resolve_device(str(device))
        except ValueError:
            raise ValueError(
                f"{name}: accelerator= places the model on {device}, which this "
                "machine lacks (an Accelerator made on another machine?); pass "
                "an Accelerator made here."
            ) from None
    return str(device)


def __getattr__(name):
    """The class of accelerated nets, built on first use; pickle looks it up
    here when a process that has not built it yet unpickles such a net."""
    if name == "AcceleratedTransferNet":
        return accelerated_net_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# An Accelerator keeps every model, optimizer and data loader it prepares, for
# its own save_state and free_memory. An estimator holds its Accelerator as a
# parameter, so it would keep them all for as long as it lives, and a pickle of
# it would store them -- the training data among them -- by plain pickle, with
# CUDA tensors that a machine without a GPU cannot load. The accelerated net
# takes its own objects back out of those registries once it has used them.


def _forget(accelerator, registry, objects):
    """Remove ``objects`` (by identity) from the Accelerator's ``registry``
    list (``_models``, ``_optimizers``, ``_dataloaders``) where it has one."""
    held = getattr(accelerator, registry, None)
    if isinstance(held, list):
        ids = {id(obj) for obj in objects}
        held[:] = [obj for obj in held if id(obj) not in ids]


def _accelerated_initialize(net):
    # AccelerateMixin.initialize repeats skorch's, not TransferNet's
    super(accelerated_net_class(), net).initialize()
    net._pickle_device_free("module")
    return net


def _prepare_trainable_only(net):
    """skorch's preparation, without the criteria that have nothing to train
    (CrossEntropyLoss): on several CPU processes accelerate wraps every module
    it prepares in DistributedDataParallel, which refuses a module without
    trainable parameters (on GPUs accelerate leaves such a module as it is)."""
    idle = {
        name: criterion
        for name in net._criteria
        if isinstance(criterion := getattr(net, name + "_", None), torch.nn.Module)
        and not any(p.requires_grad for p in criterion.parameters())
    }
    for name in idle:
        setattr(net, name + "_", None)
    try:
        return super(accelerated_net_class(), net)._initialize_accelerator()
    finally:
        for name, criterion in idle.items():
            setattr(net, name + "_", criterion)


def _accelerated_get_iterator(net, dataset, training=False):
    """Training batches through the Accelerator: each process its share of
    the rows. Validation and prediction batches, every row on every process,
    on the process's own device, as in a plain net: the processes then agree
    on the validation loss, so early stopping stops them at the same epoch,
    and predict returns every row (the Accelerator's gather needs the state of
    the loader it prepared: a model unpickled in another process got back the
    padded shards, 1,216 rows for 1,197)."""
    if not training:
        place = module_device(net.module_)
        batches = batch_iterator(dataset, net.batch_size, device=place)
        return _OnDevice(batches, place)
    iterator = super(accelerated_net_class(), net).get_iterator(dataset, True)
    _forget(net.accelerator, "_dataloaders", [iterator])
    return iterator


class _OnDevice:
    """``(X, y)`` batches moved to ``device`` (a DataLoader's are on the CPU;
    ``y`` may be None)."""

    def __init__(self, batches, device):
        self.batches, self.device = batches, device

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        move = skorch.utils.to_device
        for X, y in self.batches:
            yield move(X, self.device), None if y is None else move(y, self.device)


def _accelerated_notify(net, method_name, **cb_kwargs):
    """skorch's, but at the end of training the callbacks come before the net,
    which unwraps its modules from the Accelerator's: EarlyStopping's
    ``load_best`` restores weights it copied from the wrapped module (on
    several processes their names start with ``module.``)."""
    if method_name != "on_train_end":
        return super(accelerated_net_class(), net).notify(method_name, **cb_kwargs)
    for _, callback in net.callbacks_:
        callback.on_train_end(net, **cb_kwargs)
    return net.on_train_end(net, **cb_kwargs)


def _accelerated_on_train_end(net, *args, **kwargs):
    prepared = {  # the prepared objects, before skorch unwraps the modules
        name: getattr(net, name + "_", None)
        for name in net._modules + net._criteria + net._optimizers
    }
    if net.accelerator.num_processes > 1:  # all of them train, all end here
        # each process updated its BatchNorm statistics on its own rows: the
        # first process's everywhere, so that every process holds one model
        for buffer in net.module_.buffers():
            torch.distributed.broadcast(buffer, src=0)
    super(accelerated_net_class(), net).on_train_end(*args, **kwargs)
    # the registries hold either (on several CPU processes, the unwrapped one)
    ours = [*prepared.values(), *(getattr(net, name + "_") for name in prepared)]
    _forget(net.accelerator, "_models", ours)
    _forget(net.accelerator, "_optimizers", ours)


def _accelerated_refresh_trainable(net):
    """After an unfreeze on several processes: DistributedDataParallel
    averages the gradients of the parameters that trained when it wrapped the
    module, so the module is wrapped again, for the ones unfrozen since (the
    processes each trained its own copy of them, and a gradual fit's unfrozen
    blocks did not train at all: their names, ``module.*``, matched no
    pattern). Every process unfreezes at the same epoch, and wrapping
    (collective) runs on all of them. Unwrapped the Accelerator's way first:
    with mixed precision it patched the module's forward, once."""
    wrapper = net.module_
    if wrapper is unwrapped(wrapper):
        return
    _forget(net.accelerator, "_models", [wrapper])
    module = net.accelerator.unwrap_model(wrapper, keep_fp32_wrapper=False)
    net.module_ = net.accelerator.prepare_model(module)


def _accelerated_setstate(net, state):
    """On unpickling: the weights go to the Accelerator's device.

    An accelerated net has no device of its own (``None``: the Accelerator
    placed it), for which skorch would load the weights on the CPU: a model
    fitted on a GPU would then predict on the CPU, and train on two devices
    if fitted again. Where this machine lacks the Accelerator's device, the
    weights go to the CPU with skorch's DeviceWarning and predict there; a new
    fit then asks for an Accelerator made here (:func:`accelerator_device`).
    """
    accelerator = state.get("accelerator")
    device = None if accelerator is None else torch.device(accelerator.device)
    if device is not None:  # "cpu:0" (one of several CPU processes): "cpu"
        device = "cpu" if device.type == "cpu" else str(device)
    state["device"] = device
    super(accelerated_net_class(), net).__setstate__(state)
    net.device = None


def is_fitted_estimator(obj):
    """Whether ``obj`` is a fitted scikit-learn estimator (e.g. a fitted source)."""
    if not isinstance(obj, BaseEstimator):
        return False
    try:
        check_is_fitted(obj)
    except (NotFittedError, TypeError):
        return False
    return True


def unfitted_source_error(param, estimator):
    """The ValueError for an unfitted estimator given as the source ``param``.

    Says how a fitted one arrives unfitted in a search: scikit-learn clones the
    values of a parameter grid, and a clone is unfitted.
    """
    if isinstance(estimator, type):  # FineTunedCNNClassifier, not an instance
        return ValueError(
            f"{param} is the class {estimator.__name__}, not a fitted "
            f"{estimator.__name__}: fit one on the source data and pass it."
        )
    return ValueError(
        f"{param} is an unfitted {type(estimator).__name__}; fit it on the source "
        "data first. (In a GridSearchCV parameter grid a fitted source arrives "
        "unfitted, as scikit-learn clones the grid's values: list it as "
        "sklearn.frozen.FrozenEstimator(source).)"
    )


def wrapped_source_hint(estimator):
    """How to reach the model inside a fitted search or Pipeline given as a
    source (``""`` for anything else): neither is the model it holds."""
    if hasattr(estimator, "best_estimator_"):
        return "; pass its best_estimator_, the model it refit"
    if hasattr(estimator, "steps"):
        return (
            "; pass the fitted model among its steps (pipeline[i]) as the "
            "source, and give the new model inputs as the steps before it "
            "made them for the source"
        )
    return ""


def _is_architecture_and_path(source):
    """Whether ``source`` is an image backbone's ``(architecture, path)``."""
    return isinstance(source, tuple) and len(source) == 2


def _same_source(a, b):
    """Whether source parameters ``a`` and ``b`` are the same source: equal
    names or paths (an ``(architecture, path)`` pair: both), else the same
    object (a state dict is not compared tensor by tensor)."""
    if a is b:
        return True
    if isinstance(a, (str, os.PathLike)) and isinstance(b, (str, os.PathLike)):
        return a == b
    if _is_architecture_and_path(a) and _is_architecture_and_path(b):
        return all(map(_same_source, a, b))
    return False


class SharedSourceCloneMixin:
    """``clone`` shares the parameters that hold sources instead of copying them."""

    _source_params = ()
    """Parameters holding the source: shared by ``clone``, never deep-copied."""

    def __sklearn_clone__(self):
        """Clone as scikit-learn does, but keep fitted sources as they are.

        A source (``backbone=``, ``embeddings=``: a module, word vectors, a
        fitted estimator) is knowledge, not a hyperparameter to reset or copy:
        ``clone``, ``GridSearchCV`` and ``cross_val_score`` share it -- sktransfer
        never modifies a source, it copies what it trains in ``fit`` -- instead of
        deep-copying its matrix or replacing a fitted model with an unfitted one.
        """
        params = {
            name: value
            if name in self._source_params or is_fitted_estimator(value)
            else clone(value, safe=False)
            for name, value in self.get_params(deep=False).items()
        }
        return type(self)(**params)

    def _for_display(self):
        """This estimator as it prints: weights in memory among its sources
        read as a summary (:func:`~sktransfer.utils._display.summarized`)."""
        return summarized_copy(self, self._source_params)

    def __repr__(self, N_CHAR_MAX=700):
        # scikit-learn's printer takes each value's repr at every level of
        # nesting: an in-memory state dict of 294 tensors took 7.5 s to print
        return BaseEstimator.__repr__(self._for_display(), N_CHAR_MAX=N_CHAR_MAX)

    def set_params(self, **params):
        """Set the parameters, as scikit-learn's ``set_params``; a parameter
        of a fitted source model (``backbone__lr=...``) is refused: the source
        is not refit, so a search over it would fit the same model at every
        grid point, silently, and the shared source object would change.

        Parameters
        ----------
        **params : dict
            Estimator parameters; ``<component>__<parameter>`` sets a nested
            estimator's, as in scikit-learn.

        Returns
        -------
        self : estimator instance
        """
        for key in params:
            name, _, inner = key.partition("__")
            if inner and name in self._source_params:
                source = params.get(name, getattr(self, name, None))
                if is_fitted_estimator(source):
                    raise ValueError(
                        f"{key}: {name} is a fitted source model, which fit does "
                        "not train again, so its parameters cannot be searched "
                        "or set through this estimator. Fit one source per "
                        f"setting and search over {name}=[FrozenEstimator(a), "
                        "FrozenEstimator(b), ...]."
                    )
        return super().set_params(**params)

    def _pin_source(self):
        """In ``fit``: where a source given as a relative path lies
        (``source_path_``, None otherwise), so that ``predict``,
        ``transform``, :func:`sktransfer.load` and unpickling read the file
        ``fit`` read, whatever the working folder is then. The path of an
        ``(architecture, path)`` source counts the same. Also what the source
        was (for a fitted source model, its fitted network): see
        :meth:`_fitted_source`."""
        source = getattr(self, self._source_params[0])
        self.source_path_ = absolute_source_path(
            source[1] if _is_architecture_and_path(source) else source
        )
        self._remember_source()

    def _remember_source(self):
        """Note what the source is now (a fitted source model: its fitted
        network too): :meth:`_fitted_source` refuses another. ``fit`` notes
        it, and :func:`sktransfer.load` for the sources it rebuilds."""
        source = getattr(self, self._source_params[0])
        self._source_at_fit = (source, getattr(source, "net_", None))

    def _fitted_source(self):
        """The source as ``fit`` found it: the absolute path of a relative one
        while it exists, else the parameter (read from the working folder: a
        model moved to another machine with its files).

        A source parameter set to another source since ``fit``, or a source
        model fitted again since, is a ValueError: what is read after ``fit``
        (the word vectors of words first seen in ``predict``, a vectorizer's
        every vector) would no longer be what ``fit`` read, silently.
        """
        source = getattr(self, self._source_params[0])
        self._check_source_unchanged(source)
        path = getattr(self, "source_path_", None)  # models pickled before it
        if path is None or not os.path.exists(path):
            return source
        return (source[0], path) if _is_architecture_and_path(source) else path

    def _check_source_unchanged(self, source):
        """The ValueError of :meth:`_fitted_source` (nothing to check in a
        model pickled before sources were noted)."""
        pinned = self.__dict__.get("_source_at_fit")
        if pinned is None:
            return
        given, network = pinned
        param, name = self._source_params[0], type(self).__name__
        if not _same_source(source, given):
            raise ValueError(
                f"{name}: {param} was set to another source after fit, so "
                f"what fit read is gone; fit this {name} again."
            )
        if network is not None and getattr(source, "net_", None) is not network:
            raise ValueError(
                f"{name}: the source model it was fitted on ({param}=, a "
                f"{type(source).__name__}) has been fitted again since, so it "
                f"no longer holds what fit read. Fit this {name} again; to "
                "refit a source and keep the models fitted on it, fit those "
                "on a copy of it (copy.deepcopy)."
            )

    def __getstate__(self):
        """The state; an estimator with backbone sources adds the process's
        ``register_backbone`` registrations: joblib's worker processes get
        the estimator by pickle, and know only the built-in names otherwise."""
        state = super().__getstate__()
        if not {"backbone", "sources"}.intersection(self._source_params):
            return state
        from sktransfer.vision._backbones import registrations

        carried = registrations()
        return {**state, _REGISTRATIONS: carried} if carried else state

    def __setstate__(self, state):
        state = {k: v for k, v in state.items() if k != _REGISTRATIONS}
        super().__setstate__(state)
        # an estimator pickled by an older sktransfer: the parameters added
        # since take their defaults (get_params, clone and repr need them all)
        for name, param in inspect.signature(type(self)).parameters.items():
            if name not in vars(self) and param.default is not param.empty:
                setattr(self, name, param.default)


_REGISTRATIONS = "_sktransfer_registered_backbones"
"""Where a pickled estimator carries them (see ``__getstate__``); unpickling
them registered them already."""


IGNORED_PARAM_WARNING = r".* has no effect with transfer="
"""The message of :meth:`TransferEstimatorBase._warn_ignored_params`'s
warning, for ``warnings.filterwarnings``."""


def _takes(optimizer, keyword):
    """Whether the optimizer class accepts ``keyword`` when built."""
    parameters = inspect.signature(optimizer).parameters.values()
    return any(
        p.name == keyword or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters
    )


OWN_CALLBACKS = {  # name -> the setting that adds it (for the message)
    "early_stopping": "early_stopping=True",
    "lbfgs_converged": "the L-BFGS probe (it ends the fit at convergence)",
    "checkpoint": "checkpoint_dir",
    "progress_bar": "verbose=2",
    "unfreeze_schedule": "transfer='gradual'",
}


def _check_callback_names(user, callbacks, checkpoint_dir):
    """A user callback named like one of sktransfer's in this fit would make
    skorch report a 'duplicate user-set callback name'; say whose it is."""
    taken = [name for name, _ in callbacks]
    if checkpoint_dir is not None:
        taken.append("checkpoint")
    names = [name for name, _ in user]
    for name in names:  # once among the user's, yet twice in the fit: ours too
        if names.count(name) == 1 and taken.count(name) > 1:
            raise ValueError(
                f"callbacks: {name!r} is the name of sktransfer's own callback "
                f"for {OWN_CALLBACKS.get(name, 'this fit')} in this fit; give "
                "yours another name."
            )


def _warn_unscored_validation(user):
    """Warn of each user scoring callback that scores the validation set in
    a fit that holds none out: skorch's skip it silently, so the score the
    user asked for would be missing from the history without a word."""
    for _, callback in user:
        if isinstance(callback, ScoringBase) and not callback.on_train:
            score = callback.name or callback.scoring
            warnings.warn(
                f"callbacks: {type(callback).__name__} {score!r} scores the "
                "validation set, which this fit does not hold out "
                "(early_stopping=False), so it records nothing. Set "
                "early_stopping=True (it holds out validation_fraction; a "
                "large n_iter_no_change keeps every epoch), or score the "
                "training set with on_train=True.",
                UserWarning,
                stacklevel=caller_stacklevel(),
            )


def _presets(optimizer, keyword):
    """Whether ``optimizer`` is a ``functools.partial`` that sets ``keyword``."""
    return keyword in getattr(optimizer, "keywords", {})


def _differs(value, default):
    """``value != default`` for any value (an array compares as different)."""
    try:
        return bool(value != default)
    except (TypeError, ValueError):
        return True


def _rows(X, index):
    """The samples ``index`` of ``X``: an array-like or ragged token ids."""
    return X.take(index) if isinstance(X, RaggedRows) else _safe_indexing(X, index)


def _spare_samples(y, n, seed):
    """Up to ``n`` random indices of ``y`` to hold out for validation where a
    stratified split cannot be made (a class with one sample, or fewer held
    out or left to train than there are classes), never a class's last
    sample: a random split held out the only example of a class of few-shot
    data, which the model then never learned. A ValueError when every class
    has one sample."""
    order = np.random.RandomState(seed).permutation(len(y))
    _, first = np.unique(y[order], return_index=True)
    spare = np.delete(order, first)  # each class keeps its first in order
    if not len(spare):
        raise ValueError(
            "early_stopping holds out validation data, but every class has a "
            "single sample, which training needs; set early_stopping=False."
        )
    return np.sort(spare[:n])


def all_or_nothing(fit):
    """Decorate ``fit``: when it raises, undo every attribute it set or changed.

    A fit that fails midway (bad input found late, out of memory, Ctrl-C
    before training finished) leaves the estimator exactly as it was: unfitted,
    or still the previous fitted model -- never half-built. Inside the fit,
    new tensors are float32 on the CPU whatever the caller's torch defaults
    (:func:`torch_defaults`); the fit moves what it trains to its device.
    """

    @functools.wraps(fit)
    def guarded(self, *args, **kwargs):
        before = dict(vars(self))
        try:
            with torch_defaults():
                return fit(self, *args, **kwargs)
        except BaseException:
            vars(self).clear()
            vars(self).update(before)
            raise

    return guarded


lay_out_nested(SharedSourceCloneMixin.__repr__)


class ConditionalParamsMixin:
    """Warns about parameters that another parameter's value makes ignored."""

    _conditional_params = {}
    """``{parameter: (controlling parameter, its values that use it)}``, e.g.
    ``{"trainable_blocks": ("transfer", ("partial",))}``: a parameter set away
    from its default while the controlling one says otherwise is reported by
    :meth:`_warn_ignored_params`."""

    def _warn_ignored_params(self):
        """Warn, as scikit-learn does (``l1_ratio`` without elasticnet), about
        a parameter that the chosen ``transfer`` mode (or other setting)
        ignores but that was set away from its default. Called from ``fit``:
        the warning points at its caller."""
        defaults = {
            name: param.default
            for name, param in inspect.signature(type(self)).parameters.items()
        }
        for name, (control, uses) in self._conditional_params.items():
            value, setting = getattr(self, name), getattr(self, control)
            if setting not in uses and _differs(value, defaults[name]):
                used = f"={uses[0]!r}" if len(uses) == 1 else f" in {uses}"
                warnings.warn(
                    f"{type(self).__name__}: {name}={value!r:.60} has no effect "
                    f"with {control}={setting!r}; only {control}{used} uses it.",
                    UserWarning,
                    stacklevel=caller_stacklevel(),
                )


def _behind_standardize(head, features, device, folded=False):
    """``head`` behind a :class:`~sktransfer._nn.Standardize` of ``features``.

    A head behind one already (a warm-started fit going on from a frozen
    one) keeps it. ``folded``: the head has trained on raw features (a
    warm-started fit going on from fine-tuning), so its first linear layer
    takes the standardization's inverse, and the head computes what it did.
    """
    if isinstance(head, torch.nn.Sequential) and isinstance(head[0], Standardize):
        return head
    standardize = Standardize.fit(features).to(device)
    first = next((m for m in head.modules() if isinstance(m, torch.nn.Linear)), None)
    if folded and first is not None and first.bias is not None:
        with torch.no_grad():  # W x + b = (W s) (x - m) / s + (W m + b)
            first.bias += first.weight @ standardize.mean
            first.weight *= standardize.scale
    return torch.nn.Sequential(standardize, head)


def _first_batch_loss(history):
    """The training loss of a fit's first batch (NaN when none is recorded)."""
    batches = history[0].get("batches", []) if len(history) else []
    return batches[0].get("train_loss", float("nan")) if batches else float("nan")


class TransferEstimatorBase(
    ConditionalParamsMixin, SharedSourceCloneMixin, BaseEstimator
):
    """Shared fit machinery of every sktransfer estimator."""

    def _in_first_partial_fit(self):
        """Whether this fit is partial_fit's first call (one epoch, from the
        source; see :class:`PartialFitMixin`)."""
        return "_partial_classes" in vars(self)

    def _epochs_per_fit(self):
        """The epochs this fit trains: ``max_epochs``, one in partial_fit."""
        return 1 if self._in_first_partial_fit() else self.max_epochs

    def _optimizer_class(self, cached_head=None):
        """The optimizer to train with. ``cached_head``: the head, when it
        trains alone on features computed once (None otherwise)."""
        if self.optimizer == "auto" and self._in_first_partial_fit():
            return OPTIMIZERS["adamw"]  # L-BFGS steps over all the data at once
        if self.optimizer == "auto":
            linear = cached_head is not None and (
                sum(isinstance(m, torch.nn.Linear) for m in cached_head.modules()) == 1
            )
            lbfgs = linear and self._lbfgs_obstacle(cached_head) is None
            return LBFGS if lbfgs else OPTIMIZERS["adamw"]
        if isinstance(self.optimizer, str):
            return OPTIMIZERS[self.optimizer]
        built = getattr(self.optimizer, "func", self.optimizer)  # of a partial
        if not (isinstance(built, type) and issubclass(built, torch.optim.Optimizer)):
            raise TypeError(
                f"optimizer={self.optimizer!r} is not a torch.optim.Optimizer "
                "subclass (or a functools.partial of one) nor one of "
                f"{sorted(OPTIMIZERS)}."
            )
        return self.optimizer

    def _check_optimizer(self, cached_head):
        """Before training: refuse a ``weight_decay`` the optimizer cannot
        take or gets twice (also from a ``functools.partial``), and
        ``optimizer="lbfgs"`` where it cannot train; report an ``lr`` that
        L-BFGS will not use."""
        optimizer = self._optimizer_class(cached_head)
        name = getattr(optimizer, "func", optimizer).__name__
        if self.weight_decay and not _takes(optimizer, "weight_decay"):
            raise ValueError(
                f"optimizer={name} takes no weight_decay, so "
                f"weight_decay={self.weight_decay!r} cannot apply; leave "
                "weight_decay=None with it."
            )
        if self.weight_decay is not None and _presets(optimizer, "weight_decay"):
            raise ValueError(
                f"weight_decay is set twice: weight_decay={self.weight_decay!r} "
                f"and in optimizer=partial({name}, weight_decay="
                f"{optimizer.keywords['weight_decay']!r}); set it in one place."
            )
        obstacle = self._lbfgs_obstacle(cached_head)
        if self._in_first_partial_fit() and optimizer is LBFGS:
            obstacle = "partial_fit trains on one part of the data at a time"
        if self.optimizer == "lbfgs" and obstacle is not None:
            raise ValueError(
                "optimizer='lbfgs' trains the head alone, over the whole "
                f"training set at once; {obstacle}. Use optimizer='adamw'."
            )
        if optimizer is LBFGS:
            self._warn_lr_unused_by_lbfgs()

    def _warn_lr_unused_by_lbfgs(self):
        """Report an ``lr``, or a learning-rate schedule among the callbacks,
        that the L-BFGS head will not follow (its line search sets each step)."""
        lr_default = inspect.signature(type(self)).parameters["lr"].default
        unused = [f"lr={self.lr!r}"] if _differs(self.lr, lr_default) else []
        if self._has_callback(LRScheduler):
            unused.append("an LRScheduler in callbacks")
        frozen_by = "".join(  # a source at lr 0 is frozen: see plan_transfer
            f", {name}=0"
            for name, value in self.get_params(deep=False).items()
            if name.endswith("_lr_scale") and value == 0
        )
        for what in unused:
            warnings.warn(  # worded to match IGNORED_PARAM_WARNING
                f"{type(self).__name__}: {what} has no effect with "
                f"transfer={getattr(self, 'transfer', None)!r}{frozen_by} and "
                f"optimizer={self.optimizer!r}, which solve this head by "
                "L-BFGS (its line search sets each step); optimizer='adamw' "
                "uses lr and its schedule.",
                UserWarning,
                stacklevel=caller_stacklevel(),
            )

    def _lbfgs_obstacle(self, cached_head):
        """Why L-BFGS cannot train this fit (None: it can)."""
        if cached_head is None and getattr(self, "augment", None) is not None:
            return (
                "augment= changes the inputs every epoch, so the source's "
                "features are not computed once"
            )
        if cached_head is None:
            return (
                f"with transfer={getattr(self, 'transfer', None)!r} (and these "
                "settings) more than the head trains"
            )
        if any(
            isinstance(m, torch.nn.Dropout) and m.p > 0 for m in cached_head.modules()
        ):
            return "dropout makes the loss random, which its line search cannot follow"
        if getattr(self, "accelerator", None) is not None:
            return "accelerator= steps optimizers without the closure it needs"
        if self._has_callback(GradientNormClipping):
            return (
                "a GradientNormClipping callback changes the gradients, which "
                "its line search cannot follow"
            )
        return None

    def _warn_freezing_callbacks(self):
        """Warn about skorch's Freezer or Unfreezer among the callbacks: they
        change what trains behind ``transfer``'s back. A backbone frozen so
        still ran every epoch, and the head trained on its raw features: a
        source fitted on 200 digits and transferred to them with its backbone
        frozen so scored 0.47 on the other digits, against 0.81 with
        ``transfer="feature_extraction"``."""
        for kind in (Freezer, Unfreezer):
            if self._has_callback(kind):
                warnings.warn(
                    f"{type(self).__name__}: a skorch {kind.__name__} in "
                    "callbacks changes which parameters train after "
                    f"transfer={getattr(self, 'transfer', None)!r} has set "
                    "them, and works against it: a source it freezes still "
                    "runs every epoch and the head trains on its raw "
                    "(unstandardised) features; a frozen source it unfreezes "
                    "is not trained. Say what trains with transfer= and its "
                    "parameters (frozen, partial and scheduled modes) instead.",
                    UserWarning,
                    stacklevel=caller_stacklevel(),
                )

    def _has_callback(self, kind):
        """Whether ``callbacks`` holds a ``kind`` callback (or the class)."""
        return any(
            issubclass(callback if isinstance(callback, type) else type(callback), kind)
            for _, callback in self._user_callbacks(copied=False)
        )

    def _split_validation(self, X, y, seed):
        """Split off the early-stopping validation set (None when not used;
        partial_fit, as MLPClassifier's, does not stop early)."""
        if not self.early_stopping or self._in_first_partial_fit():
            return X, y, None
        n_samples = len(y)
        n_valid = int(np.ceil(self.validation_fraction * n_samples))
        if n_valid < 1 or n_samples - n_valid < 1:
            raise ValueError(
                f"early_stopping with validation_fraction={self.validation_fraction}"
                f" leaves no training or validation data out of {n_samples} samples."
            )
        counts = np.bincount(y)
        n_classes = np.count_nonzero(counts)
        # stratified where both parts can hold every class
        if counts[counts > 0].min() >= 2 and n_classes <= min(
            n_valid, n_samples - n_valid
        ):
            train, valid = train_test_split(
                np.arange(n_samples), test_size=n_valid, stratify=y, random_state=seed
            )
        else:
            valid = _spare_samples(y, n_valid, seed)
            train = np.setdiff1d(np.arange(n_samples), valid)
        return _rows(X, train), y[train], (_rows(X, valid), y[valid])

    def _user_callbacks(self, copied=True):
        """``callbacks`` as skorch's ``(name, callback)`` pairs, each a copy
        (``copied=False``: the callbacks themselves, to look at only)."""
        callbacks = []
        for i, entry in enumerate(self.callbacks or ()):
            name, cb = (
                entry
                if isinstance(entry, tuple) and len(entry) == 2
                else (f"user_callback_{i}", entry)
            )
            is_callback = isinstance(cb, Callback) or (
                isinstance(cb, type) and issubclass(cb, Callback)
            )
            if not isinstance(name, str) or not is_callback:
                raise TypeError(
                    "callbacks must hold skorch callbacks (skorch.callbacks."
                    "Callback instances) or (name, callback) pairs; item "
                    f"{i} is {entry!r:.80}."
                )
            callbacks.append((name, copy.deepcopy(cb) if copied else cb))
        return callbacks

    def _class_weights(self, y):
        """``class_weight`` as one weight per encoded class (None: all 1)."""
        if self.class_weight is None:
            return None
        if isinstance(self.class_weight, dict):
            classes = set(self.classes_.tolist())
            unknown = [label for label in self.class_weight if label not in classes]
            weights = list(self.class_weight.values())
            if unknown:
                raise ValueError(
                    f"class_weight names labels that are not classes of y: "
                    f"{unknown}; the classes are {self.classes_.tolist()}."
                )
            if not all(
                isinstance(w, Real) and np.isfinite(w) and w >= 0 for w in weights
            ):
                raise ValueError(
                    f"class_weight values must be finite numbers >= 0; got {weights}."
                )
            if not any(self.class_weight.get(label, 1) for label in classes):
                raise ValueError(
                    f"class_weight gives every class weight 0 ({self.class_weight}):"
                    " no sample would count in the loss. Give the classes to "
                    "learn a positive weight."
                )
        return compute_class_weight(
            self.class_weight, classes=self.classes_, y=self.classes_[y]
        )

    def _make_net(
        self,
        module,
        *,
        device,
        n_train,
        plan=None,
        valid=None,
        class_weight=None,
        cached=False,
    ):
        """Wrap ``module`` in a skorch net with this estimator's training knobs;
        ``class_weight`` (one per encoded class) weighs the loss; ``cached``:
        the head trains alone on features computed once."""
        callbacks = list(plan.callbacks) if plan is not None else []
        if self.verbose >= 2:
            callbacks.append(("progress_bar", ProgressBar()))
        user = self._user_callbacks()
        self._warn_freezing_callbacks()
        callbacks += user
        optimizer = self._optimizer_class(module.head if cached else None)
        if optimizer is LBFGS:  # after the user's: their scoring sees the last epoch
            callbacks.append(("lbfgs_converged", StopWhenConverged()))
        if valid is not None:  # last: the user's scoring sees the final epoch
            unfreeze_at = tuple(  # those training reaches (others are warned)
                epoch
                for _, callback in callbacks
                if isinstance(callback, UnfreezeSchedule)
                for epoch, _ in callback.schedule
                if epoch < self._epochs_per_fit()
            )
            callbacks.append(
                (
                    "early_stopping",
                    UnfreezingEarlyStopping(
                        monitor="valid_loss",
                        patience=self.n_iter_no_change,
                        load_best=True,
                        unfreeze_at=unfreeze_at,
                    ),
                )
            )
        _check_callback_names(user, callbacks, self.checkpoint_dir)
        if valid is None:
            _warn_unscored_validation(user)
        net_class, net_device = ClassifierNet, device
        if getattr(self, "accelerator", None) is not None:
            if self.precision != "32":
                raise ValueError(
                    "with accelerator=, set mixed precision on the Accelerator "
                    "(mixed_precision=...) and leave precision='32'."
                )
            net_class, net_device = accelerated_net_class(), None
            extra = {
                "accelerator": self.accelerator,
                # skorch's Accelerate integration sends the epoch table to
                # accelerator.print, which PrintLog feeds whatever verbose says
                "callbacks__print_log__sink": (
                    self.accelerator.print if self.verbose else print
                ),
            }
            device = self.accelerator.device
        else:
            # whole-array batches, no per-sample Dataset/collate work
            extra = {"iterator_train": batch_iterator, "iterator_valid": batch_iterator}
        weight_decay = self.weight_decay
        if weight_decay is None:  # as LogisticRegression(C=1.0) for L-BFGS
            weight_decay = 1.0 / max(n_train, 1) if optimizer is LBFGS else 0.0
        if _takes(optimizer, "weight_decay") and not _presets(  # not Rprop, LBFGS
            optimizer, "weight_decay"
        ):
            extra["optimizer__weight_decay"] = weight_decay
        if optimizer is LBFGS:  # one step per epoch, over every sample
            extra["iterator_train__batch_size"] = max(n_train, 1)
        elif isinstance(self.optimizer, str) and fused_step_runs(  # named only
            optimizer, torch.device(device).type
        ):
            extra["optimizer__fused"] = True
        if class_weight is not None:
            extra["criterion__weight"] = torch.as_tensor(
                class_weight, dtype=torch.float32, device=device
            )
        net = net_class(
            module=module,
            criterion=CrossEntropyLoss,
            optimizer=optimizer,
            optimizer__param_groups=plan.param_groups if plan is not None else [],
            lr=self.lr,
            max_epochs=self._epochs_per_fit(),
            batch_size=self.batch_size,
            iterator_train__shuffle=True,
            # A last batch of one sample cannot train BatchNorm layers.
            iterator_train__drop_last=n_train > 1 and n_train % self.batch_size == 1,
            train_split=predefined_split(Dataset(*valid)) if valid else None,
            callbacks=callbacks,
            verbose=int(self.verbose),
            device=net_device,
            precision=self.precision,
            **extra,
        )
        net.classes_ = np.arange(len(self.classes_))  # the encoded labels
        return net

    def _warn_single_sample_batchnorm(self, module, plan):
        """Warn when the source's BatchNorm layers would train on batches of
        one sample: they normalise each by that sample's statistics, far from
        the running ones they predict with (a SmallCNN on digits then
        predicted one class for every image)."""
        if self.batch_size != 1 or self._optimizer_class(None) is LBFGS:
            return
        unfreezes = any(isinstance(c, UnfreezeSchedule) for _, c in plan.callbacks)
        policy = getattr(module, "batchnorm", "train")
        layers = batchnorm_training(module.backbone, policy, unfreezes)
        if layers:
            warnings.warn(
                f"batch_size=1: the source's {len(layers)} BatchNorm layer(s) "
                "train on one sample's statistics at a time, far from the "
                "running statistics they predict with, and the predictions "
                "can collapse to one class. Use batch_size >= 2, or "
                "batchnorm='eval' to keep the source's running statistics.",
                UserWarning,
                stacklevel=caller_stacklevel(),
            )

    def _fitted_to_continue(self):
        """What a fit with ``warm_start=True`` goes on from: the fitted
        module and the fitted attributes (``classes_``...), as a namespace;
        None without ``warm_start`` or before a first fit. Call first in
        ``fit``, before it sets anything."""
        if not getattr(self, "warm_start", False) or "net_" not in vars(self):
            return None
        fitted = {
            name: value
            for name, value in vars(self).items()
            if name.endswith("_") and not name.startswith("_")
        }
        return types.SimpleNamespace(**fitted, module=self.net_.module_)

    def _check_continued(self, previous):
        """``previous`` (:meth:`_fitted_to_continue`), once its classes are
        found to be this fit's (``classes_``, set from ``y``)."""
        if previous is None:
            return None
        before, now = previous.classes_.tolist(), self.classes_.tolist()
        if before != now:
            raise ValueError(
                f"{type(self).__name__}(warm_start=True) goes on from the fitted "
                f"model, whose classes are {before!r:.200}; y holds {now!r:.200}. "
                "Fit with warm_start=False to start again from the source."
            )
        return previous

    def _continued_weights(self, module, previous):
        """The weights a warm-started fit loads into ``module``: those of the
        fitted model ``previous`` goes on from."""
        return previous.module.state_dict()

    def _load_continued(self, module, previous):
        """``module`` with the weights of the model a warm-started fit goes on
        from (its head put behind a Standardize where that model's was), or a
        ValueError saying what keeps them out."""
        state = self._continued_weights(module, previous)
        module = standardized_head(module, state)
        misfit = state_dict_misfit(module.state_dict(), state)
        if misfit:
            raise ValueError(
                f"{type(self).__name__}(warm_start=True) goes on from the fitted "
                f"model, but this fit builds another one ({misfit}): a setting "
                "that shapes the model (the source, hidden_layer_sizes, the "
                "input's shape...) changed since. Set it back, or fit with "
                "warm_start=False to start again from the source."
            )
        module.load_state_dict(state)
        return module

    def _train(self, module, plan, X, y, *, device, seed, continued=None):
        """Apply ``plan`` to ``module``, train it on ``(X, y)``, store ``net_``.

        With ``plan.cache_features`` the frozen source runs once over the
        training (and validation) inputs, and the head -- behind a
        :class:`~sktransfer._nn.Standardize` of those features -- trains on
        them. Where the module augments its inputs, the frozen source runs
        every epoch instead, its features standardized as the clean
        training inputs' are. ``continued``: the fitted model a warm-started
        fit goes on from (:meth:`_check_continued`), whose weights are loaded
        once ``plan`` is applied (``transfer="structure"`` draws nothing over
        them). Call inside :func:`~sktransfer.utils.seeded`.
        """
        plan.apply(module)
        if continued is not None:
            module = self._load_continued(module, continued)
        X_train, y_train, valid = self._split_validation(X, y, seed)
        # Cache only when nothing before the head can change during training:
        # no weight, and no input (images augmented anew each epoch)
        frozen = plan.cache_features and not any(
            p.requires_grad
            for name, p in module.named_parameters()
            if not name.startswith("head.")
        )
        cache = frozen and getattr(module, "augment", None) is None
        self._check_optimizer(module.head if cache else None)
        if frozen:  # the head learns on standardized features either way
            module.to(device)
            features = self._features_once(module, X_train, device)
            module.head = _behind_standardize(
                module.head, features, device, folded=continued is not None
            )
        if cache:
            X_train = features
            if valid is not None:
                valid = (self._features_once(module, valid[0], device), valid[1])
        else:
            self._warn_single_sample_batchnorm(module, plan)
        net = self._make_net(
            module,
            device=device,
            n_train=len(y_train),
            plan=plan,
            valid=valid,
            class_weight=self._class_weights(y),
            cached=cache,
        )
        start = None if continued is None else continued.module
        tag, resume = self._checkpointing(net, X_train, y_train, start)
        taking = module.taking_features() if cache else contextlib.nullcontext()
        with self._training_errors(device), taking:
            self._fit_or_resume(net, X_train, y_train, resume)
        # the held-out validation samples are not part of the model: kept,
        # a pickled estimator carried a tenth of its training data (2.9 of
        # 3.6 MB for a small CNN on 64x64 digits)
        net.train_split = None
        if self._in_first_partial_fit():  # the next call's epoch draws on
            net._partial_rng = _torch_rng(device)
        self._refuse_diverged(net, tag)
        if not self._finished(net):
            self._warn_interrupted(net)
        elif tag is not None:
            # early stopping finishes too: a checkpoint left behind would make
            # the next identical fit resume and train past the stop
            remove_checkpoint(self.checkpoint_dir, tag)
        self.net_ = net
        return net

    @contextlib.contextmanager
    def _training_errors(self, device):
        """Context that turns a failure inside skorch's training loop into an
        error naming its cause: out of GPU memory, or a callback asking for
        validation scores that this fit does not record."""
        try:
            yield
        except torch.cuda.OutOfMemoryError as exc:
            raise MemoryError(
                f"{type(self).__name__} ran out of GPU memory on {device} with "
                f"batch_size={self.batch_size}; use a smaller batch_size (or "
                "device='cpu'). The estimator was left as it was before fit."
            ) from exc
        # skorch's History asked by a user's callback (Checkpoint wraps it,
        # LRScheduler(ReduceLROnPlateau) raises a ValueError of its own)
        except (KeyError, ValueError, SkorchException) as exc:
            if "not found in history" not in str(exc) or "valid" not in str(exc):
                raise
            raise ValueError(
                f"{type(self).__name__}: a callback failed: {exc.args[0]} Only "
                "a fit with a validation set records validation scores: set "
                "early_stopping=True (it holds out validation_fraction) and "
                "call fit, not partial_fit (which holds out none), or have the "
                "callback watch a training score, e.g. "
                "EarlyStopping(monitor='train_loss'), "
                "Checkpoint(monitor='train_loss_best') or "
                "LRScheduler(ReduceLROnPlateau, monitor='train_loss')."
            ) from exc

    def _refuse_diverged(self, net, tag):
        """Refuse a fit whose trained weights hold NaN or infinity (the
        optimizer diverged), as scikit-learn's MLP does: its predictions
        would be NaN probabilities and one class for every input. Checked
        after training, so early stopping may first restore its best epoch.
        The checkpoint of such a fit is removed: resuming it cannot help."""
        broken = [
            name
            for name, param in net.module_.named_parameters()
            if param.requires_grad and not bool(torch.isfinite(param).all())
        ]
        if not broken:
            return
        if tag is not None:
            remove_checkpoint(self.checkpoint_dir, tag)
        loss = net.history[-1, "train_loss"] if len(net.history) else float("nan")
        if not np.isfinite(_first_batch_loss(net.history)):
            raise ValueError(  # not a divergence: no lr would help
                f"{type(self).__name__}: the training loss was NaN or infinite "
                "from the first batch, before any update: the source (or the "
                "inputs) produce non-finite values, and the weights "
                f"{broken[:3]} are now NaN. Check the source's weights and the "
                "scale of the inputs it takes. The estimator was left as it was "
                "before fit."
            )
        raise ValueError(
            f"{type(self).__name__}: training diverged: after "
            f"{len(net.history)} epoch(s) the weights {broken[:3]} hold NaN or "
            f"infinite values (last training loss {loss:.4g}). Lower lr (now "
            f"{self.lr!r}) or scale the inputs. The estimator was left as it "
            "was before fit."
        )

    def _checkpointing(self, net, X, y, start=None):
        """Add the epoch checkpoint callback; return the fit's fingerprint and
        the state to resume, if any (``(None, None)`` without checkpoint_dir).
        ``start``: the module a warm-started fit goes on from, whose weights
        count in the fingerprint (a fit from other weights is another fit)."""
        if self.checkpoint_dir is None or self._in_first_partial_fit():
            return None, None
        check_directory(self.checkpoint_dir)
        tag = fingerprint(self, X, y, start)
        net.callbacks = [
            *net.callbacks,
            ("checkpoint", EpochCheckpoint(self.checkpoint_dir, tag)),
        ]
        return tag, load_checkpoint(self.checkpoint_dir, tag)

    def _fit_or_resume(self, net, X, y, state):
        if state is None:
            net.fit(X, y)
            return
        net.initialize()
        restore_module(net, state)
        net.optimizer_.load_state_dict(state["optimizer"])
        if "scaler" in state and net.scaler_.is_enabled():
            net.scaler_.load_state_dict(state["scaler"])
        net.history = history_from(json.loads(state["history"]))
        dict(net.callbacks_)["checkpoint"].resumed = state.get("callbacks")
        torch.set_rng_state(state["rng"])
        if "rng_cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng_cuda"])
        remaining = self._epochs_per_fit() - len(net.history)
        if remaining > 0:
            net.partial_fit(X, y, epochs=remaining)

    def _finished(self, net):
        """Whether training ran its course: every epoch, until early stopping
        ended it, or until L-BFGS converged (not Ctrl-C, which skorch ends
        quietly)."""
        callbacks = dict(net.callbacks_)
        stopped_early = any(  # ours, or a skorch EarlyStopping in callbacks=
            isinstance(callback, EarlyStopping)
            and getattr(callback, "misses_", 0) >= callback.patience
            for callback in callbacks.values()
        )
        converged = getattr(callbacks.get("lbfgs_converged"), "stopped_", False)
        done = len(net.history) >= self._epochs_per_fit()
        return done or stopped_early or converged

    def _warn_interrupted(self, net):
        """skorch ends training quietly on Ctrl-C; say so, the model is usable."""
        warnings.warn(
            f"{type(self).__name__}: training was interrupted after "
            f"{len(net.history)} of {self._epochs_per_fit()} epochs; the "
            "estimator keeps the weights of the last finished epoch (or the "
            "best ones with early_stopping).",
            stacklevel=caller_stacklevel(),
        )

    def _features_once(self, module, X, device):
        # a GPU wants large batches; on a CPU, cache-sized ones are faster
        # (EfficientNet-Lite0, 600 digits at 64x64: 1.7 s at 64, 3.0 s at 256)
        device_type = torch.device(device).type
        floor = 256 if device_type == "cuda" else 64
        # at the fit's precision, as predict runs the source; float32 out
        precision = getattr(self, "precision", "32")
        with autocast(precision, device_type):
            features = batched_features(
                module,
                X,
                batch_size=max(self.batch_size, floor),
                device=device,
                progress=self.verbose >= 1 and len(X) > PROGRESS_ABOVE,
            )
        broken = ~np.isfinite(features).all(axis=1)
        if broken.any():  # else the head's training "diverged", misleadingly
            hint = (
                " float16 (precision='16-mixed') may overflow in it: use "
                "precision='bf16' or '32'."
                if precision == "16-mixed"
                else " Check its weights, and the scale of the inputs it takes."
            )
            raise ValueError(
                f"{type(self).__name__}: the frozen source's features of "
                f"{broken.sum()} of {len(features)} training inputs hold NaN or "
                f"infinite values, before any training: the source produces "
                f"them.{hint} The estimator was left as it was before fit."
            )
        return features

    def _device(self):
        if getattr(self, "accelerator", None) is not None:
            return accelerator_device(self.accelerator, type(self).__name__)
        device = resolve_device(self.device)
        if getattr(self, "precision", "32") == "16-mixed" and device == "cpu":
            raise ValueError(
                "precision='16-mixed' needs a CUDA device; on the CPU use "
                "precision='bf16' or '32'."
            )
        return device

    def _forward(self, X, progress=False):
        """Run ``net_`` in eval mode over ``X`` in batches; return a numpy array.
        ``progress=True`` shows a progress bar (tqdm) over the batches."""
        with torch.inference_mode(), torch_defaults():
            if not progress:
                return self.net_.forward(X, training=False, device="cpu").numpy()
            batches = self.net_.forward_iter(X, training=False, device="cpu")
            total = -(-len(X) // self.net_.batch_size)
            return torch.cat(list(feature_progress(batches, total))).numpy()


def head_alone_on_features(module):
    """Whether the fitted ``module``'s head trained alone on its frozen
    source's features computed once (see ``TransferEstimatorBase._train``):
    a head behind a Standardize, nothing else trainable, no augmentation."""
    head = module.head
    standardized = isinstance(head, torch.nn.Sequential) and isinstance(
        head[0], Standardize
    )
    return (
        standardized
        and getattr(module, "augment", None) is None
        and not any(
            p.requires_grad
            for name, p in module.named_parameters()
            if not name.startswith("head.")
        )
    )


OPTIMIZER_SETTINGS = (
    "optimizer",
    "optimizer__weight_decay",
    "optimizer__fused",
    "iterator_train__batch_size",
)
"""The net's attributes a partial_fit call may change (going on from
L-BFGS with AdamW), put back when the call fails."""


def _training_state(net):
    """What a training epoch changes in ``net``: a copy of its weights,
    optimizer state and gradient scaler; its module's parts, optimizer,
    callbacks and epoch count."""
    state = {
        "children": dict(net.module_.named_children()),
        "module": copy.deepcopy(net.module_.state_dict()),
        "optimizer": copy.deepcopy(net.optimizer_.state_dict()),
        "optimizer_": net.optimizer_,
        "attributes": {name: vars(net).get(name) for name in OPTIMIZER_SETTINGS},
        "callbacks": list(net.callbacks_),
        "epochs": len(net.history),
    }
    if net.scaler_.is_enabled():
        state["scaler"] = copy.deepcopy(net.scaler_.state_dict())
    return state


def _restore_training_state(net, state):
    """Put ``net`` back as :func:`_training_state` found it."""
    for name, child in state["children"].items():  # one replaced by a grown one
        setattr(net.module_, name, child)
    net.module_.load_state_dict(state["module"])
    for name, value in state["attributes"].items():
        if value is None:
            vars(net).pop(name, None)
        else:
            setattr(net, name, value)
    net.optimizer_ = state["optimizer_"]
    net.optimizer_.load_state_dict(state["optimizer"])
    if "scaler" in state:
        net.scaler_.load_state_dict(state["scaler"])
    net.callbacks_ = state["callbacks"]
    del net.history[state["epochs"] :]


PARTIAL_FIT_UNUSED = ("early_stopping", "checkpoint", "lbfgs_converged")
"""The callbacks of a fit that a later partial_fit epoch leaves out: it holds
out no validation set, and its epochs are not those a checkpoint counts."""


class PartialFitMixin:
    """``partial_fit``: one epoch per call on the data given, as
    scikit-learn's ``MLPClassifier.partial_fit``, for data that arrive in
    parts or do not fit in memory at once.

    The estimator provides ``_partial_inputs(X, y, cached)``: the validated
    training inputs of ``X`` for the fitted ``net_`` (the frozen source's
    features where ``cached``), the labels, and a context to train in.
    """

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(
        self,
        X: ArrayLike | Iterable[str],
        y: ArrayLike,
        classes: ArrayLike | None = None,
    ) -> "PartialFitMixin":
        """Train one epoch on ``(X, y)``, going on from the previous call.

        The first call on an unfitted estimator builds the model from the
        source as ``fit`` does and trains it one epoch; ``classes`` must then
        name every label the calls will see. Each later call trains one more
        epoch on the data it is given, from the fitted weights, with the same
        optimizer and its state (AdamW's moments), the same learning rates
        and unfreezing schedule (counted in epochs over all calls), and with
        the settings of the first call; ``n_iter_`` counts every epoch. A
        model fitted by ``fit`` goes on the same way.

        With a frozen source, its features are computed for each call's data
        and the head trains on them, standardized by the first call's
        statistics; ``optimizer="auto"`` is AdamW here (L-BFGS needs all the
        data at once). Text classifiers on word vectors that train add the
        words of later calls that the source knows to ``vocabulary_``.
        ``early_stopping`` and ``checkpoint_dir`` apply to ``fit`` only,
        ``max_epochs`` too: call partial_fit once per epoch and part.
        ``class_weight="balanced"`` needs every label at once: pass
        ``compute_class_weight("balanced", ...)`` as a dict instead.

        Parameters
        ----------
        X : array-like or iterable of str
            A part of the training inputs, as ``fit`` takes them (images,
            or raw documents).
        y : array-like of shape (n_samples,)
            Their class labels, each among ``classes``.
        classes : array-like of shape (n_classes,), default=None
            Every class label; required on the first call, and on a later
            one, if given, the same.

        Returns
        -------
        self : estimator
            The estimator, trained one more epoch.
        """
        name = type(self).__name__
        if getattr(self, "accelerator", None) is not None:
            raise ValueError(
                f"{name}.partial_fit does not train through an accelerator "
                "(accelerator=...): use fit, or accelerator=None."
            )
        if isinstance(self.class_weight, str):
            raise ValueError(
                f"{name}.partial_fit cannot weigh classes by "
                "class_weight='balanced', which needs every label at once: pass "
                "compute_class_weight('balanced', classes=classes, y=all_labels) "
                "as a dict {label: weight}."
            )
        fitted = "net_" in vars(self)
        if classes is not None:
            classes = _checked_classes(classes, name)
            if fitted and classes.tolist() != self.classes_.tolist():
                raise ValueError(
                    f"{name}.partial_fit: classes={classes.tolist()!r:.200} are "
                    f"not those of the fitted model, {self.classes_.tolist()!r:.200}."
                )
        if fitted:
            return self._partial_epoch(X, y)
        if classes is None:
            raise ValueError(
                f"{name}.partial_fit needs classes= on the first call: every "
                "label the calls will see (e.g. np.unique of them all)."
            )
        self._partial_classes = classes
        try:
            return self.fit(X, y)
        finally:
            vars(self).pop("_partial_classes", None)

    @all_or_nothing
    def _partial_epoch(self, X, y):
        """One more epoch of the fitted ``net_`` on ``(X, y)``; on failure the
        weights, optimizer and history are as before the call. With an int
        ``random_state``, torch's RNGs go on from where the previous call left
        them, so calls on the whole data reach the weights of ``fit``."""
        net = self.net_
        if isinstance(net.optimizer_, LBFGS) and self.optimizer != "auto":
            raise ValueError(
                f"{type(self).__name__} was fitted by L-BFGS (optimizer="
                f"{self.optimizer!r}), which steps over the whole training set at "
                "once; partial_fit trains by mini-batches. Fit with "
                "optimizer='adamw' (or start with partial_fit)."
            )
        before = _training_state(net)
        try:
            self._one_more_epoch(net, X, y)
        except BaseException:
            _restore_training_state(net, before)
            raise
        return self

    def _one_more_epoch(self, net, X, y):
        """Train ``net`` one epoch on ``(X, y)``, prepared by the estimator's
        ``_partial_inputs``, without the fit-only callbacks."""
        module = net.module_
        cached = head_alone_on_features(module)
        inputs, y, context = self._partial_inputs(X, y, cached)
        y = labels_as_indices(self, y, self.classes_)
        if cached:
            context = module.taking_features()
        net.callbacks_ = [
            (name, callback)
            for name, callback in net.callbacks_
            if name not in PARTIAL_FIT_UNUSED
        ]
        # a last batch of one sample cannot train BatchNorm layers (as in fit)
        drop_last = len(y) > 1 and len(y) % net.batch_size == 1
        net.iterator_train__drop_last = drop_last  # read per epoch, no re-init
        device = module_device(module)
        if isinstance(net.optimizer_, LBFGS):  # "auto" chose it for fit
            self._switch_to_adamw(net, device)
        seed = _epoch_seed(self.random_state, len(net.history))
        with seeded(seed, device), self._training_errors(device), context:
            rng = getattr(net, "_partial_rng", None)
            if rng is not None and self.random_state is not None:
                _set_torch_rng(rng, device)  # as fit's next epoch would
            net.partial_fit(inputs, y, epochs=1)
            net._partial_rng = _torch_rng(device)
        self._refuse_diverged(net, None)

    def _switch_to_adamw(self, net, device):
        """Give ``net``, fitted by L-BFGS under ``optimizer="auto"``, the
        AdamW a fit by mini-batches gets (see ``_make_net``): every batch of
        ``batch_size``, ``weight_decay`` (0 when None, not L-BFGS's 1/n),
        fused where it runs."""
        adamw = OPTIMIZERS["adamw"]
        net.optimizer = adamw
        vars(net).pop("iterator_train__batch_size", None)
        net.optimizer__weight_decay = self.weight_decay or 0.0
        if fused_step_runs(adamw, device.type):
            net.optimizer__fused = True
        net.initialize_optimizer()


def append_embedding_rows(net, name, rows):
    """Give the embedding ``name`` of ``net.module_`` the ``rows`` (a tensor)
    after its own, trainable as they are, and the optimizer the state it would
    hold had those rows been there without a gradient so far (zeros: AdamW's
    moments, SGD's momentum); the other rows train on as before."""
    module = net.module_
    old = getattr(module, name)
    weight = old.weight
    params = [p for group in net.optimizer_.param_groups for p in group["params"]]
    index = next((i for i, p in enumerate(params) if p is weight), None)
    state = net.optimizer_.state_dict()
    if index in state["state"]:
        state["state"][index] = {
            key: (
                torch.cat([value, value.new_zeros((len(rows), *value.shape[1:]))])
                if torch.is_tensor(value) and value.shape == weight.shape
                else value
            )
            for key, value in state["state"][index].items()
        }
    table = torch.cat([weight.detach(), rows.to(weight)])
    grown = torch.nn.Embedding.from_pretrained(
        table, freeze=not weight.requires_grad, padding_idx=old.padding_idx
    )
    setattr(module, name, grown)
    net.initialize_optimizer()  # over the same parameters, the grown one in place
    net.optimizer_.load_state_dict(state)


def _torch_rng(device):
    """The state of torch's RNGs that :func:`~sktransfer.utils.seeded` forks:
    the CPU's, and the CUDA device's when training there."""
    state = {"cpu": torch.get_rng_state()}
    if torch.device(device).type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_torch_rng(state, device):
    """Restore a :func:`_torch_rng` state (a CUDA one only on a CUDA device)."""
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.device(device).type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


def _checked_classes(classes, name):
    """``classes=`` of partial_fit, sorted and unique, at least two."""
    classes = np.asarray(classes)
    refuse_bad_labels(classes, f"{name}.partial_fit", "classes")
    if classes.ndim != 1:
        raise ValueError(
            f"{name}.partial_fit: classes must be 1-D, one entry per label; got "
            f"shape {classes.shape}."
        )
    check_classification_targets(classes)
    classes = np.unique(classes)
    if len(classes) < 2:
        raise ValueError(
            f"{name} needs at least 2 classes; classes={classes.tolist()!r} "
            "names fewer."
        )
    return classes


def _epoch_seed(random_state, epoch):
    """The seed of partial_fit's epoch ``epoch``: ``random_state`` moved on by
    the epoch (an int), so the epochs shuffle and drop out differently and a
    repeated sequence of calls gives the same model; None stays None."""
    if random_state is None or not isinstance(random_state, Integral):
        return random_state
    return (int(random_state) + epoch) % 2**32
