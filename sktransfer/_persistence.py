"""Safe persistence: ``save(estimator, path)`` / ``load(path)`` without pickle.

A saved model is a zip file holding ``meta.json`` (class name, hyperparameters,
fitted attributes, training history) and ``weights.safetensors`` (the torch
state). Loading parses JSON and safetensors only, so a file can never run code:
the class must be one of sktransfer's estimators, and every tensor must fit the
architecture rebuilt from the hyperparameters. Sources must be named (a
registered name, a file path) for the file to be self-describing; pickle and
joblib keep working for everything else.
"""

import json
import os
import zipfile

import numpy as np
import torch

FORMAT = "sktransfer-model"
VERSION = 1


def _estimator_classes():
    from sktransfer import (
        EmbeddingVectorizer,
        FineTunedCNNClassifier,
        PretrainedEmbeddingClassifier,
        PretrainedFeatureExtractor,
    )

    return {
        cls.__name__: cls
        for cls in (
            FineTunedCNNClassifier,
            PretrainedFeatureExtractor,
            PretrainedEmbeddingClassifier,
            EmbeddingVectorizer,
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
    raise ValueError(
        f"sktransfer.save cannot store {where} (a {type(value).__name__}); use a "
        "name or a path for sources, no callables or objects as parameters -- or "
        "pickle the estimator instead."
    )


def _decode(value):
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if "__tuple__" in value:
            return tuple(_decode(v) for v in value["__tuple__"])
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
    ),
    "PretrainedFeatureExtractor": (
        "n_features_in_",
        "image_shape_",
        "pixel_scale_",
        "n_features_out_",
    ),
    "PretrainedEmbeddingClassifier": (
        "classes_",
        "vocabulary_",
        "n_pretrained_",
        "n_oov_",
    ),
    "EmbeddingVectorizer": (
        "df_",
        "n_documents_",
        "word_probability_",
        "sif_component_",
        "n_features_out_",
    ),
}


def save(estimator, path):
    """Save a fitted sktransfer estimator to ``path`` as JSON + safetensors.

    Parameters
    ----------
    estimator : fitted sktransfer estimator
        Its sources must be names or paths (``backbone="efficientnet_lite0"``,
        ``embeddings="glove-wiki-gigaword-50"``); no callable ``tokenizer`` or
        ``callbacks``.
    path : str or path-like
        The file to write (a zip; ``.skt`` is a good extension).

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
    name = type(estimator).__name__
    if name not in FITTED or _estimator_classes()[name] is not type(estimator):
        raise TypeError(f"sktransfer.save stores sktransfer estimators, not {name}.")
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    params = estimator.get_params(deep=False)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "class": name,
        "params": {
            k: _encode(v, f"parameter {k}={v!r:.60}") for k, v in params.items()
        },
        "fitted": {k: _encode(getattr(estimator, k), k) for k in FITTED[name]},
    }
    tensors = {}
    net = getattr(estimator, "net_", None)
    if net is not None:
        state = net.module_.state_dict()
        tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
        meta["history"] = json.loads(json.dumps(net.history.to_list(), default=float))
    with zipfile.ZipFile(os.fspath(path), "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("meta.json", json.dumps(meta))
        archive.writestr("weights.safetensors", _safetensors().save(tensors))


# -------------------------------------------------------------------- loading


def _read(path):
    try:
        with zipfile.ZipFile(os.fspath(path)) as archive:
            names = set(archive.namelist())
            if names != {"meta.json", "weights.safetensors"}:
                raise ValueError(f"unexpected members {sorted(names)}")
            meta = json.loads(archive.read("meta.json").decode("utf-8"))
            weights = archive.read("weights.safetensors")
    except (zipfile.BadZipFile, ValueError, UnicodeDecodeError, KeyError) as exc:
        raise ValueError(
            f"{os.fspath(path)} is not a model saved by sktransfer.save ({exc})."
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{os.fspath(path)} is not a model saved by sktransfer.save.")
    if meta.get("version") != VERSION:
        raise ValueError(f"{os.fspath(path)} has format version {meta.get('version')}.")
    try:
        tensors = _safetensors().load(weights)
    except Exception as exc:
        raise ValueError(
            f"{os.fspath(path)}: the weights are not safetensors ({exc})."
        ) from None
    return meta, tensors


def load(path, *, device="cpu"):
    """Load a model written by :func:`save`; no code in the file is run.

    Parameters
    ----------
    path : str or path-like
    device : str, default="cpu"
        Where the loaded network runs (sets the ``device`` parameter).

    Returns
    -------
    estimator : fitted sktransfer estimator
    """
    meta, tensors = _read(path)
    classes = _estimator_classes()
    if meta.get("class") not in classes:
        raise ValueError(
            f"{os.fspath(path)} names an unknown class {meta.get('class')!r}."
        )
    cls = classes[meta["class"]]
    params = {k: _decode(v) for k, v in meta["params"].items()}
    if "device" in params:
        params["device"] = device
    estimator = cls(**params)
    estimator._validate_params()
    for key, value in meta["fitted"].items():
        if key not in FITTED[meta["class"]]:
            raise ValueError(f"{os.fspath(path)}: unexpected fitted attribute {key!r}.")
        setattr(estimator, key, _decode(value))
    if "token_pattern" in params:
        from sktransfer.text._tokenize import Tokenizer

        estimator.tokenizer_ = Tokenizer(
            estimator.lowercase, estimator.token_pattern, estimator.tokenizer
        )
    if hasattr(estimator, "_restore_net"):
        estimator._restore_net(tensors, meta.get("history", []), os.fspath(path))
    return estimator


def restore_state(module, tensors, source):
    """Load ``tensors`` into ``module`` strictly, with a clear error."""
    try:
        module.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        raise ValueError(
            f"{source}: the weights do not fit the model ({exc})."
        ) from None


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
