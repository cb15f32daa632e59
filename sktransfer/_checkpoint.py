"""Resume an interrupted fit from ``checkpoint_dir``.

After every epoch a checkpoint -- module and optimizer state, history, the
torch RNG state, the loss scale of ``precision="16-mixed"``, and where each
early stopping stands (its best epoch, best weights and misses) -- is written
atomically to ``checkpoint_dir/checkpoint-<tag>.pt``, named and tagged with a
fingerprint of the hyperparameters (a source object by its weights) and the
training data. A later ``fit`` with the same fingerprint
starts from the last finished epoch and, since the RNG state is restored too,
reaches the same weights as an uninterrupted run with the same seed. The
checkpoint is removed when training finishes. Files are read with
``torch.load(weights_only=True)``.

Weights are stored under the model's own names. A fit on several processes
(Hugging Face Accelerate) trains the module wrapped in DistributedDataParallel,
whose names start with ``module.``; its checkpoint, written by the first
process, is stored unwrapped too, so it resumes in one process or in several.
"""

import copy
import dataclasses
import functools
import hashlib
import json
import os
import pathlib
import warnings
from collections.abc import Mapping

import numpy as np
import torch
from skorch.callbacks import Callback, EarlyStopping

from sktransfer._batches import RaggedRows
from sktransfer._persistence import checksum, state_dict_misfit
from sktransfer.transfer._module import unwrapped
from sktransfer.transfer._structure import layers_fingerprint
from sktransfer.utils._files import path_stamp, replaced_atomically, user_path
from sktransfer.utils._warnings import caller_stacklevel


def checkpoint_path(directory, tag):
    """Where the fit fingerprinted ``tag`` keeps its checkpoint: one file per
    fit, so the fits of a search can share ``checkpoint_dir``, each resumable,
    none removing another's."""
    return pathlib.Path(user_path(directory)) / f"checkpoint-{tag[:20]}.pt"


_NOT_FINGERPRINTED = {"callbacks", "verbose", "checkpoint_dir", "device", "accelerator"}


def fingerprint(estimator, X, y, start=None):
    """Hash of the hyperparameters and the training data of a fit (and of
    ``start``, the module whose weights a warm-started fit goes on from).

    A source given as an object counts by its content: a torch module by its
    weights and its layers (as torch prints them), a ``Backbone`` by its
    module and what it declares, a fitted estimator by its weights, word
    vectors by their words and vectors; a class or function by its qualified
    name and, for a function, its code (two lambdas share a name); a file or
    folder by its absolute path, size and modification time (a relative path
    from another working folder, or a file written again, is another
    source). So a fit from another source never resumes this one's
    checkpoint.
    """
    sources = getattr(estimator, "_source_params", ())
    params = {
        name: _described(value, name in sources)
        for name, value in estimator.get_params(deep=False).items()
        if name not in _NOT_FINGERPRINTED
    }
    digest = hashlib.sha1(json.dumps(params, sort_keys=True, default=str).encode())
    digest.update(type(estimator).__name__.encode())
    if start is not None:
        digest.update(_described(start).encode())
    arrays = (X.values, X.offsets) if isinstance(X, RaggedRows) else (X,)
    for array in (*arrays, y):
        array = np.ascontiguousarray(array)
        digest.update(str((array.shape, array.dtype.str)).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _described(value, source=False):
    """``value`` as it enters the fingerprint (JSON-ready); ``source``: the
    parameter holds the source, whose file or folder counts by its stamp."""
    if (
        source
        and isinstance(value, (str, os.PathLike))
        and (stamp := path_stamp(value))
    ):
        return f"path {stamp!r}"
    if source and isinstance(value, tuple) and len(value) == 2:  # (arch, weights)
        return f"tuple {value[0]!r} {_described(value[1], source=True)}"
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    if isinstance(value, np.generic):  # batch_size=np.int64(16) from a grid
        return value.item()
    if isinstance(value, np.ndarray):  # hidden_layer_sizes=np.array([64])
        return f"ndarray {value.dtype.str} {value.tolist()!r}"
    if source and isinstance(value, Mapping):  # a state dict: by its tensors
        state = {str(k): torch.as_tensor(v) for k, v in value.items()}
        return "state dict " + checksum(state, state)
    if isinstance(value, (tuple, list, dict)):
        return repr(value)
    if isinstance(value, functools.partial):  # optimizer=partial(SGD, momentum=.9)
        keywords = {key: _described(v) for key, v in value.keywords.items()}
        args = [_described(arg) for arg in value.args]
        return f"partial {_described(value.func)} {args!r} {sorted(keywords.items())!r}"
    if isinstance(value, type) or (callable(value) and hasattr(value, "__qualname__")):
        name = f"{getattr(value, '__module__', None)}.{value.__qualname__}"
        code = getattr(value, "__code__", None)  # two lambdas share a name
        if code is not None:
            body = code.co_code + repr((code.co_consts, code.co_names)).encode()
            name += " " + hashlib.sha1(body).hexdigest()
        return name
    if isinstance(value, torch.nn.Module):  # its weights and its layers
        state = value.state_dict()
        return f"module {layers_fingerprint(value)} " + checksum(state, state)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # a sktransfer.vision.Backbone: its module and what it declares
        fields = [
            (field.name, _described(getattr(value, field.name), source))
            for field in dataclasses.fields(value)
        ]
        return f"{type(value).__name__} {fields!r}"
    net = getattr(value, "net_", None)
    if net is not None:  # a fitted estimator
        state = net.module_.state_dict()
        return f"{type(value).__name__} " + checksum(state, state)
    from sktransfer.text._vectors import Subwords, WordVectors  # text imports this

    value = getattr(value, "wv", value)  # a gensim Word2Vec / FastText model
    if isinstance(value, WordVectors):  # sktransfer's (resolve_word_vectors)
        words, subwords, kind = value.words, value.subwords, "WordVectors"
    elif hasattr(value, "vectors") and hasattr(value, "index_to_key"):  # gensim
        words, subwords, kind = value.index_to_key, None, "KeyedVectors"
        if getattr(value, "vectors_ngrams", None) is not None:  # fastText's
            subwords = Subwords(value.vectors_ngrams, value.min_n, value.max_n)
    else:
        return type(value).__name__
    digest = hashlib.sha1("\n".join(map(str, words)).encode())
    digest.update(np.ascontiguousarray(value.vectors).tobytes())
    if subwords is not None:
        digest.update(np.ascontiguousarray(subwords.ngrams).tobytes())
        digest.update(f"{subwords.min_n} {subwords.max_n}".encode())
    return f"{kind} {digest.hexdigest()}"


_EARLY_STOPPING_STATE = ("misses_", "dynamic_threshold_", "best_epoch_")


class EpochCheckpoint(Callback):
    """skorch callback writing the resumable state after every epoch.

    It must come after every other callback: its ``on_epoch_end`` saves what
    the early stoppings (skorch's ``EarlyStopping``, the estimator's or a
    user's) concluded of the epoch, and its ``on_train_begin`` puts back
    ``resumed`` (their saved states, by callback name) after they reset
    themselves. Without that, a fit resumed after its best epoch forgot that
    epoch: it trained on, and kept a later, worse model.
    """

    def __init__(self, directory, tag, resumed=None):
        self.directory = directory
        self.tag = tag
        self.resumed = resumed

    def on_train_begin(self, net, **kwargs):
        self.write_failed_ = False  # warned of once a fit
        callbacks = dict(net.callbacks_)
        for name, saved in (self.resumed or {}).items():
            callback = callbacks.get(name)
            if isinstance(callback, EarlyStopping):
                for attr in _EARLY_STOPPING_STATE:
                    setattr(callback, attr, saved[attr])
                weights = saved.get("best_model_weights_")
                if weights is not None:  # named as the module is now
                    weights = _wrapped_names(weights, net.module_)
                if saved.get("best_is_current"):  # the weights just restored
                    weights = copy.deepcopy(net.module_.state_dict())
                callback.best_model_weights_ = weights
        self.resumed = None

    def on_epoch_end(self, net, **kwargs):
        accelerator = getattr(net, "accelerator", None)
        if accelerator is not None and not accelerator.is_main_process:
            return  # the processes hold one model: the first one writes it
        directory = pathlib.Path(user_path(self.directory))
        directory.mkdir(parents=True, exist_ok=True)
        state = {
            "tag": self.tag,
            "module": unwrapped(net.module_).state_dict(),
            "optimizer": net.optimizer_.state_dict(),
            "history": json.dumps(net.history.to_list(), default=float),
            "rng": torch.get_rng_state(),
            "callbacks": {
                name: _early_stopping_state(callback, net.history[-1, "epoch"], net)
                for name, callback in net.callbacks_
                if isinstance(callback, EarlyStopping)
            },
        }
        if torch.cuda.is_available():
            state["rng_cuda"] = torch.cuda.get_rng_state_all()
        scaler = getattr(net, "scaler_", None)
        if scaler is not None and scaler.is_enabled():  # precision="16-mixed"
            state["scaler"] = scaler.state_dict()  # the loss scale it came to
        path = checkpoint_path(directory, self.tag)
        try:
            with replaced_atomically(path) as tmp:
                torch.save(state, tmp)
        except OSError as exc:  # a full disk, a quota: not a reason to stop
            if not self.write_failed_:
                warnings.warn(
                    f"could not write the checkpoint {path} after epoch "
                    f"{len(net.history)} ({exc}); training goes on, and a fit "
                    "interrupted now resumes from the last checkpoint written "
                    "(if any). Free space in checkpoint_dir or set it elsewhere.",
                    UserWarning,
                    stacklevel=caller_stacklevel(),
                )
            self.write_failed_ = True


def _wrapped_names(weights, module):
    """A state dict named as the model's own, renamed for ``module`` (the
    model, or its DistributedDataParallel wrapper)."""
    if module is unwrapped(module):
        return weights
    return {f"module.{name}": value for name, value in weights.items()}


def _own_names(weights, module):
    """A state dict of ``module`` (maybe wrapped), named as the model's own."""
    if module is unwrapped(module):
        return weights
    return {name.removeprefix("module."): value for name, value in weights.items()}


def _early_stopping_state(callback, epoch, net):
    """What an ``EarlyStopping`` knows after ``epoch``, in types that
    ``torch.load(weights_only=True)`` reads back.

    Its best weights are saved only when they are not the module's: after an
    epoch that improved, they are the weights the checkpoint holds anyway,
    and a flag says so (a checkpoint of twice the model's size otherwise).
    They are saved under the model's own names (see the module's docstring).
    """
    state = {
        "misses_": int(callback.misses_),
        "dynamic_threshold_": float(callback.dynamic_threshold_),
        "best_epoch_": int(callback.best_epoch_),
    }
    if callback.best_model_weights_ is None:
        return state
    if callback.best_epoch_ == epoch:
        state["best_is_current"] = True
    else:
        state["best_model_weights_"] = _own_names(
            callback.best_model_weights_, net.module_
        )
    return state


def check_directory(directory):
    """Create ``checkpoint_dir`` before training starts: a path that cannot
    hold checkpoints is a ValueError now, not an OSError after the first
    epoch."""
    path = pathlib.Path(user_path(directory))
    if path.exists() and not path.is_dir():
        raise ValueError(
            f"checkpoint_dir={os.fspath(directory)!r} is a file; give a folder."
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(
            f"checkpoint_dir={os.fspath(directory)!r} cannot be created as a "
            f"folder: {exc.strerror or exc}."
        ) from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(
            f"checkpoint_dir={os.fspath(directory)!r} is not writable; choose a "
            "folder this process may write to."
        )


def restore_module(net, state):
    """Load a checkpoint's weights into ``net``'s module (maybe wrapped)."""
    module, weights = unwrapped(net.module_), state["module"]
    try:
        module.load_state_dict(weights)
    except RuntimeError as exc:  # e.g. written by another version's model
        checkpoint = dict(net.callbacks_)["checkpoint"]
        path = checkpoint_path(checkpoint.directory, checkpoint.tag)
        first_line = str(exc).split("\n")[0].rstrip(":. ")
        problem = state_dict_misfit(module.state_dict(), weights) or first_line
        raise ValueError(
            f"checkpoint {path} does not fit this model ({problem}); delete it "
            "to train from the first epoch."
        ) from exc


def load_checkpoint(directory, tag):
    """The saved state for ``tag``, or None when there is none."""
    path = checkpoint_path(directory, tag)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(
            f"checkpoint {path} is not readable ({exc}); delete it to train from "
            "the first epoch."
        ) from exc
    return state if state.get("tag") == tag else None


def remove_checkpoint(directory, tag):
    checkpoint_path(directory, tag).unlink(missing_ok=True)
