"""The folders sentence-transformers saves: where the transformer lies in
one, and how its embeddings are pooled.

``SentenceTransformer.save(folder)`` writes ``modules.json``, the modules in
order: the transformer (in the folder itself, or in a subfolder such as
``0_Transformer`` or ``0_BERT`` in versions before 2.2), then a ``Pooling``
module whose ``config.json`` says how the token states become one vector,
then optional others (``Normalize``, ``Dense``). Read here without importing
sentence-transformers.
"""

import json
import os

POOLING_MODES = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
"""The modes of a ``Pooling`` module's configuration, by the name sktransfer's
``pooling`` parameter gives them ("mean", "cls") or sentence-transformers'."""


def _read_json(path):
    """The JSON in ``path``, or None if it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except (OSError, ValueError):
        return None


def _modules(folder):
    """``modules.json``'s entries (dicts with ``type`` and ``path``), or []."""
    modules = _read_json(os.path.join(folder, "modules.json"))
    if not isinstance(modules, list):
        return []
    return [
        m for m in modules if isinstance(m, dict) and isinstance(m.get("path"), str)
    ]


def pooling_config(folder):
    """The path, relative to ``folder``, of its ``Pooling`` module's
    configuration (``1_Pooling/config.json``), or None."""
    for module in _modules(folder):
        if _kind(module) == "Pooling":
            return f"{module['path']}/config.json" if module["path"] else "config.json"
    return None


def _kind(module):
    """A ``modules.json`` entry's class name: "Transformer", "Pooling"..."""
    return str(module.get("type", "")).rsplit(".", 1)[-1]


def transformer_folder(folder):
    """Where the transformer of the local model ``folder`` lies: ``folder``
    itself (it holds a ``config.json``), or the subfolder of a
    sentence-transformers folder's first module (``0_Transformer``)."""
    if os.path.isfile(os.path.join(folder, "config.json")):
        return folder
    for module in _modules(folder)[:1]:  # the first module is the transformer
        inner = os.path.join(folder, module["path"])
        if module["path"] and os.path.isfile(os.path.join(inner, "config.json")):
            return inner
    return folder


def declared_pooling(folder):
    """The pooling the local sentence-transformers ``folder`` declares:
    "mean", "cls", another mode's name (:data:`POOLING_MODES`), modes joined
    by "+" where it concatenates several; None without a ``Pooling`` module
    (a plain transformer)."""
    path = pooling_config(folder)
    config = None if path is None else _read_json(os.path.join(folder, path))
    if not isinstance(config, dict):
        return None
    modes = [name for key, name in POOLING_MODES.items() if config.get(key)]
    return "+".join(modes) or None


def unapplied_modules(folder):
    """The class names of the modules of the local sentence-transformers
    ``folder`` after its transformer that sktransfer does not apply: all but
    ``Pooling`` (what ``pooling`` does) and ``Normalize`` (``normalize``),
    e.g. ``Dense``; [] for a plain transformer."""
    kinds = [_kind(module) for module in _modules(folder)[1:]]
    return [kind for kind in kinds if kind not in ("Pooling", "Normalize")]


CONFIG_FILE = "sentence_bert_config.json"
"""Where a sentence-transformers folder keeps its ``max_seq_length``."""


def declared_max_length(folder):
    """The longest input, in tokens, the sentence-transformers ``folder``
    says its model reads (``max_seq_length`` of its ``sentence_bert_config.json``,
    beside ``modules.json`` or in the transformer's subfolder), or None."""
    for inner in (folder, transformer_folder(folder)):
        config = _read_json(os.path.join(inner, CONFIG_FILE))
        if isinstance(config, dict) and isinstance(config.get("max_seq_length"), int):
            return config["max_seq_length"]
    return None
