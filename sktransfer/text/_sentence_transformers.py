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


def transformer_folder(folder):
    """Where the transformer of the local model ``folder`` lies: ``folder``
    itself, or, in a sentence-transformers folder that keeps it in a
    subfolder (``0_Transformer``), that subfolder.

    Parameters
    ----------
    folder : str
        A local directory.

    Returns
    -------
    folder : str
        The directory holding the transformer's ``config.json``.
    """
    if os.path.isfile(os.path.join(folder, "config.json")):
        return folder
    for module in _modules(folder)[:1]:  # the first module is the transformer
        inner = os.path.join(folder, module["path"])
        if module["path"] and os.path.isfile(os.path.join(inner, "config.json")):
            return inner
    return folder


def declared_pooling(folder):
    """The pooling a sentence-transformers ``folder`` declares, or None.

    Parameters
    ----------
    folder : str
        A local directory.

    Returns
    -------
    pooling : str or None
        ``"mean"``, ``"cls"``, another mode's name (see :data:`POOLING_MODES`),
        modes joined by ``"+"`` where it concatenates several, or None where
        the folder has no ``Pooling`` module (a plain transformer).
    """
    for module in _modules(folder):
        if module.get("type", "").rsplit(".", 1)[-1] != "Pooling":
            continue
        config = _read_json(os.path.join(folder, module["path"], "config.json"))
        if not isinstance(config, dict):
            return None
        modes = [name for key, name in POOLING_MODES.items() if config.get(key)]
        return "+".join(modes) or None
    return None


def unapplied_modules(folder):
    """The modules of a sentence-transformers ``folder`` after its
    transformer that sktransfer does not apply: all but ``Pooling`` (what
    ``pooling`` does) and ``Normalize`` (``normalize``), e.g. ``Dense``.

    Parameters
    ----------
    folder : str
        A local directory.

    Returns
    -------
    names : list of str
        Their class names, in order ([] for a plain transformer).
    """
    names = [m.get("type", "").rsplit(".", 1)[-1] for m in _modules(folder)[1:]]
    return [name for name in names if name not in ("Pooling", "Normalize")]
