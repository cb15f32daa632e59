"""The source of a text estimator: word vectors, or a fitted text classifier."""

import warnings

import numpy as np

from sktransfer._base import unfitted_source_error, wrapped_source_hint
from sktransfer.text._vectors import (
    ChainedVectors,
    WordVectors,
    keyed_vectors_hint,
    resolve_word_vectors,
)
from sktransfer.utils._warnings import caller_stacklevel


def is_text_classifier(obj):
    """Duck-typed: an (un)fitted sktransfer text classifier given as a source."""
    return hasattr(obj, "get_params") and hasattr(obj, "_text_source_state")


TOKENIZATION = ("lowercase", "token_pattern", "tokenizer")
"""The parameters that make a text estimator's words."""


def resolve_text_source(embeddings, target=None):
    """Resolve ``embeddings`` to ``(vectors, encoder_state)``.

    ``vectors`` has ``dim`` and ``lookup(words)``. ``encoder_state`` is the
    trained encoder of a fitted source classifier (``(mode, state_dict)``), or
    None for plain word vectors. ``target``, the estimator being fitted on
    a fitted source classifier, is warned when it makes its words otherwise
    than the source did: the source's fine-tuned vectors then reach only the
    words both make.
    """
    if isinstance(embeddings, type) and is_text_classifier(embeddings):
        raise unfitted_source_error("embeddings", embeddings)
    if is_text_classifier(embeddings):
        if target is not None:
            _warn_if_tokenized_otherwise(embeddings, target)
        return embeddings._text_source_state()
    try:
        return resolve_word_vectors(embeddings), None
    except TypeError:
        raise TypeError(
            "embeddings must be a name, a path to a word-vector file, a gensim "
            "KeyedVectors or model, or a fitted PretrainedEmbeddingClassifier; got "
            f"{type(embeddings).__name__}{keyed_vectors_hint(embeddings)}"
            f"{wrapped_source_hint(embeddings)}."
        ) from None


def fitted_classifier_source(estimator):
    """``(ChainedVectors, encoder_state)`` of a fitted text classifier."""
    if not hasattr(estimator, "net_"):
        raise unfitted_source_error("embeddings", estimator)
    module = estimator.net_.module_
    words = sorted(estimator.vocabulary_, key=estimator.vocabulary_.get)
    table = module.backbone.weight.detach().cpu().numpy()[1:]
    if module.oov_embedding is not None:
        oov = module.oov_embedding.weight.detach().cpu().numpy()
        table = np.vstack([table, oov])
    primary = WordVectors(words, table.astype(np.float32), "fitted source")
    fallback, _ = resolve_text_source(estimator._fitted_source())
    encoder = module.encoder
    state = {k: v.detach().cpu().clone() for k, v in encoder.state_dict().items()}
    return ChainedVectors(primary, fallback, "fitted source"), (encoder.mode, state)


def _warn_if_tokenized_otherwise(source, target):
    differ = [
        f"{name}={getattr(target, name)!r} (the source's: {getattr(source, name)!r})"
        for name in TOKENIZATION
        if getattr(source, name, None) != getattr(target, name, None)
    ]
    if differ:
        warnings.warn(
            f"{type(target).__name__} makes its words otherwise than the fitted "
            f"source did: {', '.join(differ)}. The source's fine-tuned vectors "
            "reach only the words both make (a stemmed 'comput' is no "
            "'computer'); the others get the vectors it started from. Give "
            "both the same settings.",
            UserWarning,
            stacklevel=caller_stacklevel(),
        )


def warn_if_case_hides_words(vectors, words, found, counts, share=0.05):
    """With ``lowercase=False``: warn when more than ``share`` of the
    training tokens have no vector as written but do in lowercase (the
    vectors' words are lowercase, as GloVe's: ``"The"``, ``"NASA"``), which
    ``lowercase=True`` would find. ``found``: which of ``words`` have a vector;
    ``counts``: their occurrences."""
    missing = [i for i, word in enumerate(words) if not found[i] and not word.islower()]
    if not missing:
        return
    _, in_lowercase = vectors.lookup([words[i].lower() for i in missing])
    hidden = np.asarray(missing)[in_lowercase]
    total = max(int(np.sum(counts)), 1)
    if counts[hidden].sum() / total <= share:
        return
    examples = [words[i] for i in hidden[np.argsort(-counts[hidden])][:3]]
    warnings.warn(
        f"With lowercase=False, {counts[hidden].sum() / total:.0%} of the training "
        f"tokens have no vector in {getattr(vectors, 'name', 'the embeddings')} "
        f"as written but do in lowercase (e.g. {examples}): these vectors hold "
        "lowercase words; lowercase=True would find them.",
        UserWarning,
        stacklevel=caller_stacklevel(),
    )
