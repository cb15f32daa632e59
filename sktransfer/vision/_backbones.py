"""Resolve the ``backbone`` hyperparameter (the source) into a torch module."""

import copy
import dataclasses
import inspect
import os
import pickle
import re
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from sktransfer._base import (
    is_fitted_estimator,
    unfitted_source_error,
    wrapped_source_hint,
)
from sktransfer._persistence import saved_model_hint, state_dict_misfit
from sktransfer.utils._display import summarized
from sktransfer.utils._files import check_file, user_path
from sktransfer.utils._warnings import caller_stacklevel
from sktransfer.vision._modules import ImageTransferModule, SmallCNN


@dataclasses.dataclass
class Backbone:
    """A resolved source backbone and what it declares about its input.

    Give it as the ``backbone`` of an estimator (the module is copied, never
    modified), or return it from a factory given to :func:`register_backbone`
    (a name can be saved with :func:`sktransfer.save`; an object cannot).
    Each field is an attribute of the same name.

    Parameters
    ----------
    module : torch.nn.Module
        A private copy of the source; returns features (N, D) or maps (N, C, H, W).
    in_channels : int or None
        Channels the module expects (one-channel images are replicated to it);
        None when the module takes the data's channels as they are.
    mean, std : tuple of float or None
        Normalisation of [0, 1]-scaled pixels that the module was trained with.
    min_size : int or None
        Images smaller than this on a side are upsampled to it.
    name : str or None, default=None
        Where it came from, for messages and rankings; None names it by the
        module's class.
    channels_last : bool
        Every operation of the module takes channels-last (NHWC) tensors and
        keeps them so: on a CPU the estimators then train and predict in that
        memory layout, which oneDNN's convolutions run faster (SmallCNN 1.5-2x,
        EfficientNet-Lite0 1.2-1.6x). Declared by the built-in backbones; a
        module of unknown code may ``view`` its maps, which fails in it
        (``fit`` tries one image in that layout first, and says so).

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from sktransfer import PretrainedFeatureExtractor
    >>> from sktransfer.vision import Backbone
    >>> conv = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3), torch.nn.ReLU())
    >>> source = Backbone(conv, in_channels=3, mean=(0.5,) * 3, std=(0.25,) * 3)
    >>> images = np.random.RandomState(0).rand(4, 1, 8, 8)  # greyscale, in [0, 1]
    >>> PretrainedFeatureExtractor(source).fit_transform(images).shape
    (4, 16)
    """

    module: nn.Module
    in_channels: int | None = None
    mean: tuple | None = None
    std: tuple | None = None
    min_size: int | None = None
    name: str | None = None
    channels_last: bool = False

    def __post_init__(self):
        if self.name is None:  # messages and rankings name it by its class
            self.name = type(self.module).__name__


def _small_cnn(in_channels, pretrained=True):
    return Backbone(
        SmallCNN(in_channels), in_channels, name="small_cnn", channels_last=True
    )


def _efficientnet_lite0(in_channels, pretrained=True):
    from sktransfer.vision import _efficientnet

    return Backbone(
        _efficientnet.efficientnet_lite0(pretrained=pretrained),
        in_channels=3,
        mean=_efficientnet.MEAN,
        std=_efficientnet.STD,
        min_size=64,
        name="efficientnet_lite0",
        channels_last=True,
    )


BACKBONES = {"small_cnn": _small_cnn, "efficientnet_lite0": _efficientnet_lite0}
"""Named backbones: ``name -> factory(in_channels, pretrained) -> Backbone``."""
_BUILT_IN = dict(BACKBONES)
_CARRIED = set()
"""Names registered in this process by unpickling, not by register_backbone."""


class _Registration:
    """A :func:`register_backbone` of this process, as a pickle carries it.

    An image estimator carries this process's registrations in its pickle
    (see :func:`registrations`), so the processes that joblib sends it to --
    the workers of ``GridSearchCV(n_jobs=2)``, a Dask cluster -- know the
    names too: a registry is per process, and theirs hold the built-in names
    only. The factory goes as cloudpickle's bytes, by value (a lambda, a
    function of a notebook or script); one that cannot be pickled is left
    out, and the name stays unknown there. Unpickling registers the factory
    unless that process registered the name itself (a worker that a search
    reuses takes the latest pickle's factory).
    """

    def __init__(self, name, factory):
        self.name = name
        self.factory = factory

    def __reduce__(self):
        try:
            import cloudpickle  # what joblib's workers unpickle with
        except ImportError:  # joblib < 1.5 holds its own copy
            from joblib.externals import cloudpickle
        try:
            return _registered, (self.name, cloudpickle.dumps(self.factory))
        except Exception as exc:  # e.g. a closure over a lock or an open file
            return _registered, (self.name, None, f"{type(exc).__name__}: {exc}")


def _registered(name, factory, why_not=None):
    """Unpickle a :class:`_Registration`: register ``factory`` (bytes; None
    when it could not be pickled, ``why_not`` says why) unless this process
    registered ``name`` itself."""
    current = BACKBONES.get(name)
    mine = current is not None and current is not _BUILT_IN.get(name)
    if name in _CARRIED or not mine:
        if factory is None:
            _NOT_CARRIED[name] = why_not
        else:
            BACKBONES[name] = pickle.loads(factory)
            _CARRIED.add(name)
    return name


_NOT_CARRIED = {}
"""Names whose registration came in a pickle without its factory, and why."""


def registrations():
    """This process's registrations (:class:`_Registration`), a built-in
    name registered anew included: what an image estimator's pickle carries.
    All of them, not only the name its ``backbone`` holds: a search over
    ``{"backbone": [...]}`` sets the name in the worker, after unpickling."""
    return [
        _Registration(name, factory)
        for name, factory in BACKBONES.items()
        if factory is not _BUILT_IN.get(name)
    ]


def register_backbone(
    name: str, factory: Callable[[int, bool], Backbone | nn.Module]
) -> None:
    """Make ``backbone=name`` resolve through ``factory(in_channels, pretrained)``.

    ``factory`` returns a :class:`Backbone` (or a bare ``torch.nn.Module``,
    which declares nothing about its input); with ``pretrained=False`` it may
    skip loading weights (used when a weights file is given instead). Its
    module is copied before training, so a factory may return a model it
    keeps: no fit changes it.

    The registry is per process, but the pickle of an image estimator (and
    of a :class:`~sktransfer.transferability.SourceSelector`) carries the
    process's registrations, so the worker processes of
    ``GridSearchCV(n_jobs=2)`` (a grid over ``backbone`` names too),
    ``cross_val_score`` or a Dask cluster know the names: ``factory`` goes by
    value (cloudpickle), a lambda or a notebook's function included.
    Unpickling registers a name in a process that has not registered it
    itself.

    Parameters
    ----------
    name : str
        The name to give as ``backbone=``; a built-in name is replaced.
    factory : callable
        ``factory(in_channels, pretrained) -> Backbone or torch.nn.Module``:
        ``in_channels`` is the channels of the training images.

    Examples
    --------
    >>> from sktransfer import FineTunedCNNClassifier
    >>> from sktransfer.vision import BACKBONES, Backbone, SmallCNN, register_backbone
    >>> register_backbone("wide_cnn", lambda channels, pretrained: Backbone(
    ...     SmallCNN(channels, widths=(64, 128, 128)), channels, name="wide_cnn"))
    >>> clf = FineTunedCNNClassifier("wide_cnn")  # resolved in fit
    >>> _ = BACKBONES.pop("wide_cnn")  # (the example tidies up)
    """
    if not isinstance(name, str) or not callable(factory):
        raise TypeError("register_backbone(name, factory) takes a str and a callable.")
    try:
        inspect.signature(factory).bind(3, True)
    except TypeError:
        raise TypeError(
            f"the factory for backbone {name!r} must take (in_channels, "
            f"pretrained); {getattr(factory, '__name__', factory)!r} takes "
            f"{inspect.signature(factory)}."
        ) from None
    except ValueError:  # no signature to read (a builtin): called as it is
        pass
    BACKBONES[name] = factory
    _CARRIED.discard(name)  # this process's own registration: kept


def _from_factory(name, in_channels, pretrained):
    """The registered backbone ``name``, built by its factory.

    A user's factory may hand out a module it keeps (``lambda c, p:
    Backbone(model, 3)``): its module is copied, as a module given as
    ``backbone=`` is, so that a fit never trains the user's model in place
    (and the next fit does not start from the last one's weights). The
    built-in factories build a new module each time."""
    factory = BACKBONES[name]
    built = factory(in_channels, pretrained)
    if isinstance(built, nn.Module):
        built = Backbone(built, name=name)
    if not isinstance(built, Backbone):
        raise TypeError(
            f"the factory registered for backbone {name!r} returned "
            f"{type(built).__name__}; it must return a sktransfer.vision.Backbone "
            "or a torch.nn.Module."
        )
    if factory is not _BUILT_IN.get(name):
        built = dataclasses.replace(built, module=copy.deepcopy(built.module).cpu())
    return built


def _unknown_name(name):
    hint = ""
    if name in _NOT_CARRIED:
        hint = (
            f" {name!r} was registered in the process that sent this estimator "
            "(a search's worker gets it by pickle), but its factory could not "
            f"be pickled ({_NOT_CARRIED[name]}): register it at the import of "
            "a module the workers import too, or give it a factory without "
            "unpicklable state."
        )
    elif saved := saved_model_hint(name, "backbone"):
        hint = f" {saved}"
    elif os.path.exists(name):
        hint = (
            f" {name!r} is a file: pass the architecture with it, "
            f"backbone=('small_cnn', {name!r})."
        )
    else:
        hint = (
            " A name registered with sktransfer.vision.register_backbone is "
            "known in the process that registered it (and in those it sends "
            "estimators to): register it here before fitting or loading a "
            "model built on it."
        )
    return ValueError(
        f"Unknown backbone {name!r}; choose one of {sorted(BACKBONES)}, a "
        "torch.nn.Module, an (architecture, weights) pair, or a fitted "
        f"FineTunedCNNClassifier.{hint}"
    )


def load_state_dict_file(path):
    """Read a state dict from a ``.safetensors`` file or a torch file, safely.

    torch files are read with ``weights_only=True``: no code in them runs.
    """
    path = user_path(path)
    check_file(path, "backbone weights file", (".safetensors", ".pt", ".pth"))
    if path.endswith(".safetensors"):
        try:
            from safetensors.torch import load_file
        except ImportError as exc:
            raise ImportError(
                "Reading .safetensors weights needs: pip install safetensors"
            ) from exc
        try:
            return load_file(path, device="cpu")
        except Exception as exc:
            raise ValueError(
                f"backbone weights file {path!r} is not a readable safetensors "
                f"file: {exc}"
            ) from exc
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # a global (class, function) torch refused: "Unsupported global:
        # GLOBAL ...", "Unsupported class ..." before torch 2.4; else garbage
        if not re.search("GLOBAL|unsupported class", str(exc), re.IGNORECASE):
            raise ValueError(
                f"backbone weights file {path!r} is not a readable torch state "
                f"dict: {exc}"
            ) from exc
        raise ValueError(  # objects beyond tensors and dicts
            f"backbone weights file {path!r} holds pickled objects besides "
            "tensors (a whole module saved with torch.save(module)?), which "
            "sktransfer does not unpickle: unpickling can run code. Save "
            "torch.save(module.state_dict(), path) instead or, if you trust "
            "the file, pass the module: backbone=torch.load(path, "
            "weights_only=False)."
        ) from exc
    except Exception as exc:
        hint = saved_model_hint(path, "backbone")
        if hint is not None:
            raise ValueError(
                f"{hint} Its file holds a whole model, not a state dict."
            ) from None
        raise ValueError(
            f"backbone weights file {path!r} is not a readable torch state dict: {exc}"
        ) from exc
    if not isinstance(state, dict):
        raise ValueError(
            f"backbone weights file {path!r} holds a {type(state).__name__}, not a "
            "state dict (save one with torch.save(module.state_dict(), path))."
        )
    return state


def _from_weights_file(arch, weights, in_channels):
    """Architecture ``arch`` holding ``weights``: a state dict file's path, or a
    state dict in memory (``{name: tensor}``, as ``torch.load`` gives it)."""
    if arch not in BACKBONES:
        raise _unknown_name(arch)
    source = _from_factory(arch, in_channels, pretrained=False)
    names = list(source.module.state_dict())
    if isinstance(weights, Mapping):
        where, what, state = "a state dict", "state dict", weights
    else:
        where = repr(os.fspath(weights))
        what, state = f"file {where}", load_state_dict_file(weights)
    state = _state_dict_in_memory(unwrapped_state_dict(state, what, names))
    if arch == "efficientnet_lite0":
        from sktransfer.vision._efficientnet import to_features_state_dict

        state = to_features_state_dict(state)
    try:
        source.module.load_state_dict(state)
    except RuntimeError as exc:
        raise ValueError(
            f"backbone weights {what} does not fit architecture "
            f"{arch!r} with {in_channels} input channel(s): "
            f"{state_dict_misfit(source.module.state_dict(), state) or exc}."
        ) from exc
    source.name = f"{arch} from {where}"
    return source


_CHECKPOINT_KEYS = ("state_dict", "model_state_dict", "model")
"""Where training checkpoints (``{"epoch": ..., "state_dict": ...}``) keep
the model's state dict."""
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")
"""What DataParallel / DistributedDataParallel and torch.compile put before
every name of the module they wrap."""


def unwrapped_state_dict(state, what, names=()):
    """The state dict of the module in ``state``, as ``load_state_dict`` takes it.

    A training checkpoint's state dict (under one of :data:`_CHECKPOINT_KEYS`,
    beside the epoch and the optimizer's state) is taken out of it, and the
    prefix that DataParallel or torch.compile put before every name (see
    :data:`_WRAPPER_PREFIXES`) is removed, unless the module's own ``names``
    begin with it: their modules are the same, and their weights load into
    it. ``what`` names ``state`` in errors.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.vision._backbones import unwrapped_state_dict
    >>> checkpoint = {"epoch": 9, "state_dict": {"module.fc.bias": torch.zeros(2)}}
    >>> list(unwrapped_state_dict(checkpoint, "a checkpoint", ["fc.bias"]))
    ['fc.bias']
    """
    if not all(isinstance(value, torch.Tensor) for value in state.values()):
        inside = [
            key for key in _CHECKPOINT_KEYS if isinstance(state.get(key), Mapping)
        ]
        if len(inside) > 1:
            raise ValueError(
                f"backbone weights {what} is a checkpoint holding several state "
                f"dicts ({', '.join(inside)}); pass the one to transfer: "
                "backbone=(architecture, torch.load(path)[key])."
            )
        if inside:
            state = state[inside[0]]
    changed = True
    while changed and state:
        changed = False
        for prefix in _WRAPPER_PREFIXES:
            if any(name.startswith(prefix) for name in names):
                continue  # the module's own name
            if all(isinstance(k, str) and k.startswith(prefix) for k in state):
                state = {name[len(prefix) :]: value for name, value in state.items()}
                changed = True
    return state


def _state_dict_in_memory(weights):
    """``weights`` as a state dict: names to tensors (numpy arrays taken too)."""
    state = {}
    for name, value in weights.items():
        if isinstance(value, np.ndarray):
            value = torch.from_numpy(value)
        if not isinstance(name, str) or not isinstance(value, torch.Tensor):
            raise TypeError(
                "backbone=(architecture, weights): weights must be a state dict, "
                f"names to tensors (module.state_dict()); {name!r} holds a "
                f"{type(value).__name__}. A training checkpoint keeps it under "
                f"{' or '.join(map(repr, _CHECKPOINT_KEYS))}, or another key: "
                "pass backbone=(architecture, checkpoint[key])."
            )
        state[name] = value.detach().cpu()
    return state


def _from_fitted_estimator(estimator):
    module = getattr(getattr(estimator, "net_", None), "module_", None)
    if module is None and not is_fitted_estimator(estimator):
        raise unfitted_source_error("backbone", estimator)
    if not isinstance(module, ImageTransferModule):  # e.g. a LogisticRegression
        raise TypeError(
            f"backbone is a fitted {type(estimator).__name__}, which has no image "
            f"backbone to transfer{wrapped_source_hint(estimator)}."
        )
    pre = module.preprocess
    return Backbone(
        copy.deepcopy(module.backbone).cpu(),
        in_channels=pre.out_channels,
        mean=tuple(pre.mean.flatten().tolist()) if pre.normalize else None,
        std=tuple(pre.std.flatten().tolist()) if pre.normalize else None,
        min_size=min(pre.size) if pre.size is not None else None,
        name=f"fitted {type(estimator).__name__}",
        channels_last=module.channels_last,
    )


IMAGENET_CLASSES = 1000


def _warn_if_classifier(module):
    """Warn when ``module`` ends in an ImageNet classifier, as torchvision's
    and timm's models do: a module is used as it is, so its 1000 class scores,
    not the features before them, would be what the new head sees."""
    with_parameters = [
        (name, child)
        for name, child in module.named_children()
        if any(True for _ in child.parameters())
    ]
    if not with_parameters:
        return
    name, last = with_parameters[-1]
    linears = [m for m in last.modules() if isinstance(m, nn.Linear)]
    if linears and linears[-1].out_features == IMAGENET_CLASSES:
        warnings.warn(
            f"backbone {type(module).__name__} ends in {name!r}, a classifier of "
            f"{IMAGENET_CLASSES} outputs (ImageNet's classes?): the module is used "
            "as it is, so the new head would see those class scores, not the "
            f"features before them. Set model.{name} = torch.nn.Identity() to "
            "transfer the features, and declare the normalisation its weights "
            "expect by wrapping it in a sktransfer.vision.Backbone (user "
            "guide: 'A torchvision or timm model as the source').",
            UserWarning,
            stacklevel=caller_stacklevel(),
        )


def resolve_backbone(
    backbone: Any, in_channels: int, pretrained: bool = True
) -> Backbone:
    """Turn the ``backbone`` hyperparameter into a :class:`Backbone` (a copy)
    whose parameters all require grad, whatever the source's own flags (a
    module frozen by hand, a fitted source trained by feature extraction):
    the transfer mode alone decides what trains.

    Parameters
    ----------
    backbone : str, tuple, torch.nn.Module or fitted estimator
        A registered name (``"small_cnn"``, ``"efficientnet_lite0"``); an
        ``(architecture, weights)`` pair, the weights a state dict file's path
        (torch or safetensors) or a state dict in memory; any
        ``torch.nn.Module`` (copied, never modified), or a :class:`Backbone`
        holding one with what it declares about its input; or a fitted
        :class:`~sktransfer.FineTunedCNNClassifier` /
        :class:`~sktransfer.PretrainedFeatureExtractor`, whose (trained)
        backbone is carried over.
    in_channels : int
        Channels of the training images.
    pretrained : bool, default=True
        ``False`` builds a named or file-based architecture without reading any
        weights (they are about to be overwritten, as in :func:`sktransfer.load`).

    Returns
    -------
    Backbone
        The module (a private copy) and what it declares about its input.

    Examples
    --------
    >>> from sktransfer.vision import resolve_backbone
    >>> source = resolve_backbone("small_cnn", in_channels=1)
    >>> source.name, source.in_channels, type(source.module).__name__
    ('small_cnn', 1, 'SmallCNN')
    """
    source = _resolve(backbone, in_channels, pretrained)
    # float32 inside: a module built in float64 (or half) failed on the
    # float32 images with torch's "Input type (float) and bias type (double)"
    source.module.float().requires_grad_(True)
    return source


def _check_not_torchscript(module):
    """A TorchScript module (``torch.jit.script``, ``trace`` or ``load``) is
    refused: its parameters cannot be frozen as a whole (torch's bare
    "requires_grad_ is not supported on ScriptModules"), its BatchNorm layers
    are not ``nn.BatchNorm2d`` to the BatchNorm policy, and a fitted model
    holding it could not be pickled."""
    if isinstance(module, torch.jit.ScriptModule):
        raise TypeError(
            f"backbone is a TorchScript module ({type(module).__name__}, from "
            "torch.jit.script, trace or load), which sktransfer cannot train "
            "in part, set the BatchNorm layers of, or pickle; pass the "
            "torch.nn.Module it was made from (its class with the weights "
            "loaded: module.load_state_dict(scripted.state_dict()))."
        )


def _resolve(backbone, in_channels, pretrained):
    if isinstance(backbone, str):
        if backbone not in BACKBONES:
            raise _unknown_name(backbone)
        return _from_factory(backbone, in_channels, pretrained)
    if isinstance(backbone, tuple):
        if len(backbone) != 2 or not isinstance(backbone[0], str):
            raise ValueError(
                "backbone given as a tuple must be (architecture_name, weights), the "
                f"weights a file path or a state dict; got "
                f"{summarized(backbone)!r:.100}."
            )
        if not pretrained and backbone[0] in BACKBONES:
            return _from_factory(backbone[0], in_channels, pretrained=False)
        return _from_weights_file(backbone[0], backbone[1], in_channels)
    if isinstance(backbone, nn.Module):
        _check_not_torchscript(backbone)
        _warn_if_classifier(backbone)
        return Backbone(copy.deepcopy(backbone).cpu())
    if isinstance(backbone, Backbone):  # a module with what it declares
        if not isinstance(backbone.module, nn.Module):
            raise TypeError(
                "the module of a sktransfer.vision.Backbone must be a "
                f"torch.nn.Module; got {type(backbone.module).__name__}."
            )
        _check_not_torchscript(backbone.module)
        _warn_if_classifier(backbone.module)
        return dataclasses.replace(
            backbone, module=copy.deepcopy(backbone.module).cpu()
        )
    if hasattr(backbone, "get_params") and hasattr(backbone, "fit"):
        return _from_fitted_estimator(backbone)
    raise TypeError(
        "backbone must be a name, an (architecture, weights) pair, a torch.nn.Module "
        "(or a sktransfer.vision.Backbone holding one) or a fitted sktransfer image "
        f"estimator; got {type(backbone).__name__}."
    )
