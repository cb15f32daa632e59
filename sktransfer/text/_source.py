"""The source of a text estimator: word vectors, or a fitted text classifier."""

import numpy as np

from sktransfer._base import unfitted_source_error
from sktransfer.text._vectors import ChainedVectors, WordVectors, resolve_word_vectors


def is_text_classifier(obj):
    """Duck-typed: an (un)fitted sktransfer text classifier given as a source."""
    return hasattr(obj, "get_params") and hasattr(obj, "_text_source_state")


def resolve_text_source(embeddings):
    """Resolve ``embeddings`` to ``(vectors, encoder_state)``.

    ``vectors`` has ``dim`` and ``lookup(words)``. ``encoder_state`` is the
    trained encoder of a fitted source classifier (``(mode, state_dict)``), or
    None for plain word vectors.
    """
    if is_text_classifier(embeddings):
        return embeddings._text_source_state()
    try:
        return resolve_word_vectors(embeddings), None
    except TypeError:
        raise TypeError(
            "embeddings must be a name, a path to a word-vector file, a gensim "
            "KeyedVectors or model, or a fitted PretrainedEmbeddingClassifier; got "
            f"{type(embeddings).__name__}."
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
    fallback, _ = resolve_text_source(estimator.embeddings)
    encoder = module.encoder
    state = {k: v.detach().cpu().clone() for k, v in encoder.state_dict().items()}
    return ChainedVectors(primary, fallback, "fitted source"), (encoder.mode, state)
