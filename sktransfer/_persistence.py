"""Safe persistence: ``save(estimator, path)`` / ``load(path)`` without pickle.

A saved model is a zip file holding ``meta.json`` (class name, hyperparameters,
fitted attributes, training history) and ``weights.safetensors`` (the torch
state). Loading parses JSON and safetensors only, so a file can never run code:
the class must be one of sktransfer's estimators, and every tensor must fit the
architecture rebuilt from the hyperparameters. Sources must be named (a
registered name, a file path) or be fitted sktransfer estimators, saved inside
the file, for it to be self-describing; pickle and joblib keep working for
everything else.
"""

import dataclasses
import functools
import hashlib
import json
import math
import os
import pathlib
import warnings
import zipfile
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator

from sktransfer.transfer._schedule import UnfreezeSchedule
from sktransfer.utils._arrays import torch_defaults
from sktransfer.utils._device import resolve_device
from sktransfer.utils._files import replaced_atomically, user_path
from sktransfer.utils._warnings import caller_stacklevel

FORMAT = "sktransfer-model"
VERSION = 1
LOSS_WEIGHT = "criterion.weight"
"""The saved per-class loss weights (``class_weight``), beside the module's."""
TRAINING = "training:"
"""The prefix of the tensors of a saved training state (``save(...,
training_state=True)``): ``training:optimizer.<index>.<key>`` and
``training:rng.<device>``."""


def _estimator_classes():
    from sktransfer import (
        EmbeddingVectorizer,
        FineTunedCNNClassifier,
        FineTunedTransformerClassifier,
        PretrainedEmbeddingClassifier,
        PretrainedFeatureExtractor,
        TransformerVectorizer,
    )

    return {
        cls.__name__: cls
        for cls in (
            FineTunedCNNClassifier,
            PretrainedFeatureExtractor,
            PretrainedEmbeddingClassifier,
            EmbeddingVectorizer,
            FineTunedTransformerClassifier,
            TransformerVectorizer,
        )
    }


def _safetensors():
    try:
        import safetensors.torch
    except ImportError as exc:
        raise ImportError(
            "sktransfer.save/load need safetensors: pip install safetensors"
        ) from exc
    return safetensors.torch


# ------------------------------------------------------------------ JSON values


def _encode(value, where):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, torch.device):  # the device parameter: by its name
        return str(value)
    if isinstance(value, os.PathLike):  # a source's path, loaded as a Path
        return {"__path__": os.fspath(value)}
    optimizer = _torch_optimizer(value)
    if optimizer is not None:  # the optimizer parameter: by its name in torch.optim
        return {
            "__optimizer__": optimizer.__name__,
            "keywords": _encode(dict(getattr(value, "keywords", {})), where),
        }
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, np.ndarray):
        return {"__ndarray__": _encode(value.tolist(), where), "dtype": value.dtype.str}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, where) for v in value]}
    if isinstance(value, list):
        return [_encode(v, where) for v in value]
    if isinstance(value, dict):
        return {
            "__items__": [
                [_encode(k, where), _encode(v, where)] for k, v in value.items()
            ]
        }
    local = "<" in getattr(value, "__qualname__", "")  # a lambda, a nested def
    pickle_it = (
        "define it at the top level of a module, and pickle the estimator"
        if local
        else "pickle the estimator"
    )
    raise ValueError(
        f"sktransfer.save cannot store {where} (a {type(value).__name__}); use a "
        "name or a path for sources, no callables or objects as parameters -- or "
        f"{pickle_it} instead."
    )


def _torch_optimizer(value):
    """The class, when ``value`` is one of ``torch.optim``'s optimizers or a
    ``functools.partial`` of one with keywords only (None otherwise)."""
    if isinstance(value, functools.partial) and not value.args:
        value = value.func
    if (
        isinstance(value, type)
        and issubclass(value, torch.optim.Optimizer)
        and getattr(torch.optim, value.__name__, None) is value
    ):
        return value
    return None


def _decode(value):
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if "__tuple__" in value:
            return tuple(_decode(v) for v in value["__tuple__"])
        if "__path__" in value:
            return pathlib.Path(value["__path__"])
        if "__optimizer__" in value:
            optimizer = getattr(torch.optim, str(value["__optimizer__"]), None)
            if _torch_optimizer(optimizer) is None:
                raise ValueError("unexpected optimizer in the model file")
            keywords = _decode(value["keywords"])
            return functools.partial(optimizer, **keywords) if keywords else optimizer
        if "__items__" in value:
            return {_decode(k): _decode(v) for k, v in value["__items__"]}
        if "__ndarray__" in value:
            dtype = np.dtype(value["dtype"])
            if dtype.kind not in "biufUO":
                raise ValueError(f"refusing an array of dtype {dtype} in the file")
            items = _decode(value["__ndarray__"])  # plain JSON values only
            if dtype.kind == "O":
                out = np.empty(len(items), dtype=object)
                out[:] = items
                return out
            return np.asarray(items, dtype=dtype)
        raise ValueError("unexpected object in the model file")
    return value


# --------------------------------------------------------------------- saving


FITTED = {
    "FineTunedCNNClassifier": (
        "classes_",
        "n_features_in_",
        "image_shape_",
        "pixel_scale_",
        "source_path_",
    ),
    "PretrainedFeatureExtractor": (
        "n_features_in_",
        "image_shape_",
        "pixel_scale_",
        "n_features_out_",
        "source_path_",
    ),
    "PretrainedEmbeddingClassifier": (
        "classes_",
        "vocabulary_",
        "n_pretrained_",
        "n_oov_",
        "source_path_",
    ),
    "EmbeddingVectorizer": (
        "df_",
        "n_documents_",
        "word_probability_",
        "sif_component_",
        "n_features_out_",
        "source_path_",
    ),
    "FineTunedTransformerClassifier": ("classes_", "n_layers_", "source_path_"),
    "TransformerVectorizer": ("n_features_out_", "source_path_"),
}

OPTIONAL_FITTED = {"source_path_": None}
"""Fitted attributes that files saved before them lack, and their value then."""

FITTED_TYPES = {
    "classes_": np.ndarray,
    "image_shape_": tuple,
    "pixel_scale_": Real,
    "vocabulary_": dict,
    "df_": dict,
    "word_probability_": dict,
    "sif_component_": (np.ndarray, type(None)),
    "source_path_": (str, os.PathLike, type(None)),
}
"""What each fitted attribute decodes to; the others are counts (Integral)."""


def _fitted_value(key, value):
    """``value`` if it is what fitted attribute ``key`` holds: its type (never a
    bool), a count >= 0, a scale > 0; else a TypeError or ValueError."""
    kind = FITTED_TYPES.get(key, Integral)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"{key} is a {type(value).__name__}")
    if kind is Integral and value < 0:
        raise ValueError(f"{key}={value} is not a count")
    if kind is Real and not (math.isfinite(value) and value > 0):
        raise ValueError(f"{key}={value} is not a positive scale")
    return value


def save(
    estimator: BaseEstimator,
    path: str | os.PathLike,
    *,
    compact: bool = False,
    training_state: bool = False,
) -> None:
    """Save a fitted sktransfer estimator to ``path`` as JSON + safetensors.

    Parameters
    ----------
    estimator : fitted sktransfer estimator
        Its sources must be names or paths (``backbone="efficientnet_lite0"``,
        ``embeddings="glove-wiki-gigaword-50"``) or fitted sktransfer
        estimators (a source model, maybe in a ``FrozenEstimator``), which
        are saved inside the file with their own sources; not in-memory
        objects (a ``torch.nn.Module``, ``KeyedVectors``), nor a callable
        ``tokenizer``.
        An ``optimizer`` of ``torch.optim`` (or a ``functools.partial`` of
        one) is stored by name. ``callbacks`` are not stored, with a warning
        (they act during training only), nor is ``accelerator`` (like
        ``device``, it says where the model ran): :func:`load` gives a model
        that runs on ``device``.
    path : str or path-like
        The file to write (a zip; ``.skt`` is a good extension).
    compact : bool, default=False
        Store only the weights that differ from the named source's, with a
        SHA-256 checksum of the source weights left out. :func:`load`
        resolves the source again and refuses it if the checksum differs. A
        frozen transformer classifier shrinks from the whole transformer to
        its head. Supported where the model holds the source's weights as they
        are (CNN backbones, transformers); word-vector classifiers hold a
        vocabulary-specific table and always store it. Source models saved
        inside the file are stored compact too (a vectorizer, which holds no
        weights of its own, leaves this to its source model).
    training_state : bool, default=False
        Also store what training goes on from: the optimizer's state (AdamW's
        moments, about twice the size of the trained weights) and the RNG
        state ``partial_fit`` carries from call to call. ``partial_fit`` on
        the loaded classifier then trains exactly as it would have on the
        saved one. Without it, the loaded classifier goes on with a new
        optimizer (what trains, the learning rates and the unfreeze schedule
        are kept either way). An L-BFGS fit's state is not stored: training
        goes on by mini-batches (see ``partial_fit``). Vectorizers and feature
        extractors hold no training state.

    Examples
    --------
    >>> import tempfile, os
    >>> from sklearn.datasets import load_digits
    >>> import sktransfer
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = sktransfer.FineTunedCNNClassifier(max_epochs=2, random_state=0)
    >>> clf = clf.fit(X[:200], y[:200])
    >>> path = os.path.join(tempfile.mkdtemp(), "digits.skt")
    >>> sktransfer.save(clf, path)
    >>> (sktransfer.load(path).predict(X[:5]) == clf.predict(X[:5])).all()
    np.True_
    """
    meta, tensors = _described(estimator, compact)
    net = getattr(estimator, "net_", None)
    if training_state and hasattr(estimator, "partial_fit") and net is not None:
        meta["training"], training = _training_described(net)
        tensors.update(training)
    meta = {"format": FORMAT, "version": VERSION, **meta}
    weights = _safetensors().save(tensors)
    with replaced_atomically(user_path(path)) as tmp:  # a failed save keeps the old
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("meta.json", json.dumps(meta))
            archive.writestr("weights.safetensors", weights)


def _described(estimator, compact, owner=""):
    """``estimator``'s description (class, parameters, fitted attributes,
    history) and its tensors. A fitted sktransfer estimator given as a
    parameter -- a source model, maybe in a ``FrozenEstimator`` -- is
    described inside it, its tensors named ``<parameter>/<name>``; ``owner``
    says whose source it is in messages."""
    name = type(estimator).__name__
    if name not in FITTED or _estimator_classes()[name] is not type(estimator):
        cls = type(estimator)  # by its full name: a subclass may share the name
        full = cls.__qualname__
        if cls.__module__ != "builtins":
            full = f"{cls.__module__}.{full}"
        raise TypeError(
            f"sktransfer.save stores {', '.join(sorted(FITTED))}; not {full} "
            "(pickle or joblib it instead)."
        )
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    params = estimator.get_params(deep=False)
    if "accelerator" in params:  # where the model ran, as device: not stored
        params["accelerator"] = None
    if params.get("callbacks"):  # training-time objects, with no JSON form
        warnings.warn(
            f"sktransfer.save does not store {owner}callbacks="
            f"{params['callbacks']!r:.80}"
            ": they act during training only. The loaded model predicts the "
            "same, with callbacks=None (pickle keeps them).",
            UserWarning,
            stacklevel=caller_stacklevel(),
        )
        params["callbacks"] = None
    encoded, tensors = {}, {}
    for key, value in params.items():
        source = _saved_source(value)
        if source is None:
            where = f"{owner}parameter {key}={value!r:.60}"
            encoded[key] = _encode(value, where)
            continue
        source_meta, source_tensors = _described(
            source, compact, f"{owner}the source {key}'s "
        )
        encoded[key] = {"__estimator__": source_meta, "frozen": source is not value}
        tensors.update({f"{key}/{k}": v for k, v in source_tensors.items()})
    meta = {
        "class": name,
        "params": encoded,
        "fitted": {k: _encode(getattr(estimator, k), k) for k in FITTED[name]},
    }
    own = {}
    net = getattr(estimator, "net_", None)
    if net is not None:
        state = net.module_.state_dict()
        own = {k: v.detach().cpu().contiguous() for k, v in state.items()}
        loss_weight = getattr(net.criterion_, "weight", None)
        if loss_weight is not None:
            own[LOSS_WEIGHT] = loss_weight.detach().cpu().contiguous()
        meta["history"] = json.loads(json.dumps(net.history.to_list(), default=float))
    if compact and own:  # a vectorizer holds no weights: its source may
        own, meta["compact"] = _leave_out_source(estimator, own)
    return meta, {**tensors, **own}


def _saved_source(value):
    """The fitted sktransfer estimator that parameter ``value`` holds (itself,
    or inside a ``FrozenEstimator``), to be saved with the model; else None."""
    from sklearn.frozen import FrozenEstimator

    from sktransfer._base import is_fitted_estimator

    inner = value.estimator if isinstance(value, FrozenEstimator) else value
    classes = _estimator_classes()
    if type(inner) is classes.get(type(inner).__name__) and is_fitted_estimator(inner):
        return inner
    return None


# -------------------------------------------------------------------- loading


def _meta(archive):
    """The parsed ``meta.json`` of a saved model's zip ``archive``; a
    ValueError for an archive of other members."""
    names = set(archive.namelist())
    if names != {"meta.json", "weights.safetensors"}:
        raise ValueError(f"unexpected members {sorted(names)}")
    return json.loads(archive.read("meta.json").decode("utf-8"))


def saved_model_hint(path, param):
    """What to do with a model saved by :func:`save` given as a source's
    path (``param=path``), or None for any other file: its file is not
    weights, word vectors or a transformer, and read as one it failed with
    that format's parse error."""
    try:
        with zipfile.ZipFile(path) as archive:
            meta = _meta(archive)
    except (OSError, zipfile.BadZipFile, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        return None
    return (
        f"{os.fspath(path)!r} is a {meta.get('class', 'model')} saved by "
        f"sktransfer.save: pass the model, {param}=sktransfer.load("
        f"{os.fspath(path)!r})."
    )


def _read(path):
    try:
        with zipfile.ZipFile(user_path(path)) as archive:
            meta = _meta(archive)
            weights = archive.read("weights.safetensors")
    except (zipfile.BadZipFile, ValueError, UnicodeDecodeError, KeyError) as exc:
        raise ValueError(
            f"{os.fspath(path)} is not a model saved by sktransfer.save ({exc})."
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{os.fspath(path)} is not a model saved by sktransfer.save.")
    if meta.get("version") != VERSION:
        from sktransfer import __version__

        newer = isinstance(meta.get("version"), int) and meta["version"] > VERSION
        raise ValueError(
            f"{os.fspath(path)} has format version {meta.get('version')!r}; this "
            f"sktransfer ({__version__}) reads version {VERSION}"
            + (": it was saved by a newer sktransfer, upgrade." if newer else ".")
        )
    try:
        tensors = _safetensors().load(weights)
    except Exception as exc:
        raise ValueError(
            f"{os.fspath(path)}: the weights are not safetensors ({exc})."
        ) from None
    return meta, tensors


@torch_defaults()
def load(
    path: str | os.PathLike, *, device: str | torch.device = "cpu"
) -> BaseEstimator:
    """Load a model written by :func:`save`; no code in the file is run.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`.
    device : str or torch.device, default="cpu"
        Where the loaded network runs (sets the ``device`` parameter):
        ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Returns
    -------
    estimator : fitted sktransfer estimator
        Of the class saved, with its hyperparameters, fitted attributes and
        weights; it predicts as the saved one did.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_digits
    >>> import sktransfer
    >>> X, y = load_digits(return_X_y=True)
    >>> extractor = sktransfer.PretrainedFeatureExtractor().fit(X)
    >>> path = os.path.join(tempfile.mkdtemp(), "extractor.skt")
    >>> sktransfer.save(extractor, path)
    >>> again = sktransfer.load(path)
    >>> bool((again.transform(X[:5]) == extractor.transform(X[:5])).all())
    True
    """
    resolve_device(device)  # a bad device is the caller's error, not the file's
    meta, tensors = _read(path)
    return _rebuilt(meta, tensors, os.fspath(path), device)


MAX_NESTED_SOURCES = 16
"""How deep sources saved inside a model may nest (a chain of source models)."""


def _rebuilt(meta, tensors, where, device, depth=0):
    """The fitted estimator ``meta`` describes, with ``tensors``; the source
    models saved inside it first."""
    if not isinstance(meta, dict):
        raise ValueError(f"{where}: malformed model description.")
    if depth > MAX_NESTED_SOURCES:
        raise ValueError(
            f"{where}: sources nested more than {MAX_NESTED_SOURCES} deep."
        )
    sources, params = {}, meta.get("params")
    for key, value in (params if isinstance(params, dict) else {}).items():
        if isinstance(value, dict) and "__estimator__" in value:
            source = _rebuilt(
                value["__estimator__"],
                _tensors_under(tensors, f"{key}/"),
                f"{where} (its {key})",
                device,
                depth + 1,
            )
            if value.get("frozen") is True:
                from sklearn.frozen import FrozenEstimator

                source = FrozenEstimator(source)
            sources[key] = source
    estimator = _described_estimator(meta, where, device, sources)
    if hasattr(estimator, "token_pattern"):
        from sktransfer.text._tokenize import Tokenizer

        estimator.tokenizer_ = Tokenizer(
            estimator.lowercase, estimator.token_pattern, estimator.tokenizer
        )
    own = {k: v for k, v in tensors.items() if "/" not in k}
    training = {k: own.pop(k) for k in list(own) if k.startswith(TRAINING)}
    if "compact" in meta:
        own = _put_back_source(estimator, own, meta["compact"], where)
    if hasattr(estimator, "_restore_net"):
        estimator._restore_net(own, meta.get("history", []), where)
    if "training" in meta or training:
        _restore_training(estimator, meta.get("training"), training, where)
    estimator._remember_source()
    return estimator


def _tensors_under(tensors, prefix):
    """The tensors named ``prefix<name>``, by ``<name>``."""
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def _described_estimator(meta, where, device, sources=None):
    """The estimator ``meta`` describes, with its fitted attributes (no net);
    ``sources``: the parameters that hold source models, already rebuilt.

    Anything malformed in the description -- a missing section, an unknown
    parameter or attribute, a value that does not decode or validate -- is a
    ValueError naming the file ``where``.
    """
    classes = _estimator_classes()
    if meta.get("class") not in classes:
        raise ValueError(f"{where} names an unknown class {meta.get('class')!r}.")
    cls = classes[meta["class"]]
    history = meta.get("history", [])
    if not (
        isinstance(meta.get("params"), dict)
        and isinstance(meta.get("fitted"), dict)
        and isinstance(history, list)
        and all(isinstance(record, dict) for record in history)
    ):
        raise ValueError(
            f"{where}: malformed model description (it needs 'params' and "
            "'fitted' objects and a 'history' list of objects)."
        )
    unknown = set(meta["params"]) - set(cls._get_param_names())
    if unknown:
        raise ValueError(f"{where}: unexpected parameters {sorted(unknown)}.")
    fitted, expected = set(meta["fitted"]), set(FITTED[meta["class"]])
    missing = expected - fitted - set(OPTIONAL_FITTED)
    if fitted - expected or missing:
        raise ValueError(
            f"{where}: the fitted attributes are not a {meta['class']}'s: "
            f"unexpected {sorted(fitted - expected)}, missing {sorted(missing)}."
        )
    try:
        params = {
            k: sources[k] if k in (sources or {}) else _decode(v)
            for k, v in meta["params"].items()
        }
        if "device" in params:
            params["device"] = device
        estimator = cls(**params)
        estimator._validate_params()
        for key in expected - fitted:  # a file saved before they existed
            setattr(estimator, key, OPTIONAL_FITTED[key])
        for key, value in meta["fitted"].items():
            setattr(estimator, key, _fitted_value(key, _decode(value)))
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{where}: malformed model description ({type(exc).__name__}: {exc})"
        ) from None
    return estimator


# ------------------------------------------------------------ the compact form


def _source_tensors(estimator):
    if not hasattr(estimator, "_source_tensors"):
        raise ValueError(
            f"compact=True is not supported for {type(estimator).__name__}: its "
            "model does not hold the source's weights as they are."
        )
    return {k: v.detach().cpu() for k, v in estimator._source_tensors().items()}


def checksum(tensors, names):
    """SHA-256 of the named tensors' names and bytes (any dtype or device)."""
    digest = hashlib.sha256()
    for name in sorted(names):
        digest.update(name.encode())
        flat = tensors[name].detach().cpu().contiguous().reshape(-1)
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _leave_out_source(estimator, tensors):
    """Drop the tensors equal to the source's; describe what was left out."""
    source = _source_tensors(estimator)
    same = [
        k
        for k, v in tensors.items()
        if k in source and source[k].shape == v.shape and torch.equal(source[k], v)
    ]
    kept = {k: v for k, v in tensors.items() if k not in same}
    return kept, {"omitted": sorted(same), "sha256": checksum(source, same)}


def _put_back_source(estimator, tensors, compact, path):
    """Refill left-out tensors from the re-resolved source, checksum verified."""
    omitted = compact.get("omitted")
    if not isinstance(omitted, list) or not all(isinstance(k, str) for k in omitted):
        raise ValueError(f"{os.fspath(path)}: malformed compact section.")
    source = _source_tensors(estimator)
    missing = [k for k in omitted if k not in source]
    if missing or checksum(source, omitted) != compact.get("sha256"):
        raise ValueError(
            f"{os.fspath(path)} was saved in compact form against other source "
            "weights than the ones resolved now (checksum mismatch"
            + (f"; missing {missing[:3]}" if missing else "")
            + "); install the same source version or save without compact=True."
        )
    return {**tensors, **{k: source[k] for k in omitted}}


def restore_state(module, tensors, source):
    """Load ``tensors`` into ``module`` strictly, with a clear error."""
    try:
        module.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        problem = state_dict_misfit(module.state_dict(), tensors) or exc
        raise ValueError(
            f"{source}: the weights do not fit the model ({problem})."
        ) from None


def state_dict_misfit(expected, state):
    """What keeps ``state`` out of a module whose state dict is ``expected``,
    counted, with the first few names: torch's message lists every name (10,558
    characters for EfficientNet-Lite0's weights given to SmallCNN). ``""``
    where names and shapes all agree."""

    def first(items):
        return ", ".join(items[:3]) + (", ..." if len(items) > 3 else "")

    missing = [name for name in expected if name not in state]
    extra = [name for name in state if name not in expected]
    shapes = [
        f"{name} {tuple(given)} where it has {tuple(value.shape)}"
        for name, value in expected.items()
        if name in state and hasattr(value, "shape")
        for given in [getattr(state[name], "shape", value.shape)]
        if tuple(given) != tuple(value.shape)
    ]
    return "; ".join(
        f"{label}: {count} ({first(items)})"
        for items, label, count in (
            (missing, "weights missing", f"{len(missing)} of {len(expected)}"),
            (extra, "weights it does not have", len(extra)),
            (shapes, "weights of another shape", len(shapes)),
        )
        if items
    )


# ----------------------------------------------------- the training state


def _training_described(net):
    """What ``net`` trains on from, as a description and tensors (see
    :data:`TRAINING`): its optimizer -- class, hyperparameters of each
    parameter group, per-parameter state -- unless L-BFGS, and the torch RNG
    state partial_fit carries."""
    from sktransfer._optim import LBFGS

    described, tensors = {}, {}
    if not isinstance(net.optimizer_, LBFGS):
        state = net.optimizer_.state_dict()
        values = {}
        for index, entries in state["state"].items():
            for key, value in entries.items():
                if isinstance(value, torch.Tensor):
                    name = f"{TRAINING}optimizer.{index}.{key}"
                    tensors[name] = value.detach().cpu().contiguous()
                else:
                    values.setdefault(str(index), {})[key] = value
        described["optimizer"] = {
            "class": type(net.optimizer_).__name__,
            "param_groups": [
                {k: v for k, v in group.items() if k != "params"}
                for group in state["param_groups"]
            ],
            "values": values,
        }
    rng = getattr(net, "_partial_rng", None)
    if rng is not None:
        tensors.update({f"{TRAINING}rng.{k}": v.cpu() for k, v in rng.items()})
    return _encode(described, "the training state"), tensors


DEVICE_FLAGS = ("fused", "foreach", "capturable")
"""Optimizer settings that say where a step runs, not what it computes: a
loaded optimizer keeps those of the device it is loaded on."""


def _restore_training(estimator, described, tensors, where):
    """Load a saved training state (:func:`_training_described`) into the
    loaded ``estimator.net_``; a ValueError naming the file ``where`` for
    one that does not fit its optimizer."""
    net = getattr(estimator, "net_", None)
    try:
        described = _decode(described)
        if not isinstance(described, dict):
            raise ValueError("its description is missing or not an object")
        if net is None or not hasattr(estimator, "partial_fit"):
            raise ValueError(f"a {type(estimator).__name__} does not train")
        if "optimizer" in described:
            _restore_optimizer(estimator, net, described["optimizer"], tensors)
        rng = {
            name[len(f"{TRAINING}rng.") :]: tensor
            for name, tensor in tensors.items()
            if name.startswith(f"{TRAINING}rng.")
        }
        if rng:
            net._partial_rng = _checked_rng(rng)
    except (TypeError, ValueError, KeyError, RuntimeError) as exc:
        raise ValueError(
            f"{where}: malformed training state ({type(exc).__name__}: {exc})"
        ) from None


def _restore_optimizer(estimator, net, described, tensors):
    """Give ``net`` the saved optimizer ``described``, with its state."""
    from sktransfer._base import module_device
    from sktransfer._optim import LBFGS

    name = described["class"]
    if name != type(net.optimizer_).__name__:
        if not (name == "AdamW" and isinstance(net.optimizer_, LBFGS)):
            raise ValueError(
                f"the optimizer saved is a {name}, the model's a "
                f"{type(net.optimizer_).__name__}"
            )
        # L-BFGS under optimizer="auto", which partial_fit had left
        estimator._switch_to_adamw(net, module_device(net.module_))
    current = net.optimizer_.state_dict()["param_groups"]
    saved = described["param_groups"]
    if not isinstance(saved, list) or len(saved) != len(current):
        raise ValueError(
            f"{len(saved)} parameter groups saved, the model has {len(current)}"
        )
    params = [p for group in net.optimizer_.param_groups for p in group["params"]]
    state = {}
    prefix = f"{TRAINING}optimizer."
    for key, tensor in tensors.items():
        if not key.startswith(prefix):
            continue
        index, _, entry = key[len(prefix) :].partition(".")
        index = int(index)
        if not 0 <= index < len(params):
            raise ValueError(f"state of parameter {index}, of {len(params)}")
        if tensor.ndim and tensor.shape != params[index].shape:
            raise ValueError(
                f"{entry} of shape {tuple(tensor.shape)} for parameter {index} of "
                f"shape {tuple(params[index].shape)}"
            )
        if tensor.ndim:  # in the parameter's strides (channels-last...), as
            # it was made: the step's arithmetic may differ by layout
            tensor = torch.empty_like(params[index], dtype=tensor.dtype).copy_(tensor)
        state.setdefault(index, {})[entry] = tensor
    for index, entries in dict(described["values"]).items():
        state.setdefault(int(index), {}).update(entries)
    groups = [
        {
            **dict(group),
            **{k: now[k] for k in DEVICE_FLAGS if k in now},
            "params": now["params"],
        }
        for group, now in zip(saved, current, strict=True)
    ]
    net.optimizer_.load_state_dict({"state": state, "param_groups": groups})


def _checked_rng(rng):
    """A saved RNG state of partial_fit (:func:`~sktransfer._base._torch_rng`),
    checked: torch would fail on it at the next call otherwise."""
    if set(rng) - {"cpu", "cuda"} or "cpu" not in rng:
        raise ValueError(f"RNG states for {sorted(rng)}")
    for device, state in rng.items():
        if state.dtype != torch.uint8 or state.ndim != 1:
            raise ValueError(f"a {device} RNG state of {state.dtype} {state.ndim}-D")
    if rng["cpu"].numel() != torch.get_rng_state().numel():
        raise ValueError(f"a CPU RNG state of {rng['cpu'].numel()} bytes")
    return rng


def restore_classifier_net(estimator, module, tensors, history, source):
    """Set ``estimator.net_``: ``module`` with the saved weights, loss weights
    and history, set to train as the fit left it -- its transfer plan applied
    again (what trains, at which learning rate, the unfreeze schedule, with
    what the epochs of ``history`` unfroze) -- so that ``partial_fit`` goes
    on as it would have from the saved model."""
    from sktransfer._base import head_alone_on_features

    tensors = dict(tensors)
    loss_weight = tensors.pop(LOSS_WEIGHT, None)
    restore_state(module, tensors, source)
    plan = estimator._transfer_plan(module)
    plan = dataclasses.replace(plan, reinitialize=False)  # the weights are saved
    plan.apply(module)
    for _, callback in plan.callbacks:
        if isinstance(callback, UnfreezeSchedule):
            callback.unfreeze(module, len(history) - 1)
    estimator.net_ = estimator._make_net(
        module,
        device=estimator._device(),
        n_train=1,
        plan=plan,
        class_weight=loss_weight,
        cached=head_alone_on_features(module),
    ).initialize()
    estimator.net_.history = history_from(history)


def history_from(records):
    """A skorch History from saved records."""
    from skorch.history import History

    history = History()
    for record in records:
        history.append(record)
    return history


def standardized_head(module, tensors, prefix="head.0."):
    """Wrap ``module.head`` in a Standardize layer when the weights have one."""
    from sktransfer._nn import Standardize

    if prefix + "mean" in tensors:
        mean = torch.zeros_like(tensors[prefix + "mean"])
        scale = torch.ones_like(tensors[prefix + "scale"])
        module.head = torch.nn.Sequential(Standardize(mean, scale), module.head)
    return module
