"""Text estimators on pretrained word vectors."""

from sktransfer.text._classifier import PretrainedEmbeddingClassifier
from sktransfer.text._modules import KimCNN, TextEncoder, TextTransferModule
from sktransfer.text._vectorizer import EmbeddingVectorizer
from sktransfer.text._vectors import (
    WORD_VECTORS,
    WordVectors,
    cache_dir,
    resolve_word_vectors,
)

__all__ = [
    "WORD_VECTORS",
    "EmbeddingVectorizer",
    "KimCNN",
    "PretrainedEmbeddingClassifier",
    "TextEncoder",
    "TextTransferModule",
    "WordVectors",
    "cache_dir",
    "resolve_word_vectors",
]
