"""Text estimators on pretrained word vectors and pretrained transformers."""

from sktransfer.text._augment import WordDropout, resolve_text_augment
from sktransfer.text._classifier import PretrainedEmbeddingClassifier
from sktransfer.text._modules import KimCNN, TextEncoder, TextTransferModule
from sktransfer.text._transformer_classifier import FineTunedTransformerClassifier
from sktransfer.text._transformer_vectorizer import TransformerVectorizer
from sktransfer.text._transformers import (
    OFFLINE_TRANSFORMERS,
    TransformerTransferModule,
    resolve_transformer,
)
from sktransfer.text._vectorizer import EmbeddingVectorizer
from sktransfer.text._vectors import (
    WORD_VECTORS,
    WordVectors,
    cache_dir,
    clear_cache,
    resolve_word_vectors,
)
from sktransfer.text._zero_shot import ZeroShotClassifier

__all__ = [
    "OFFLINE_TRANSFORMERS",
    "WORD_VECTORS",
    "EmbeddingVectorizer",
    "FineTunedTransformerClassifier",
    "KimCNN",
    "PretrainedEmbeddingClassifier",
    "TextEncoder",
    "TextTransferModule",
    "TransformerTransferModule",
    "TransformerVectorizer",
    "WordDropout",
    "WordVectors",
    "ZeroShotClassifier",
    "cache_dir",
    "clear_cache",
    "resolve_text_augment",
    "resolve_transformer",
    "resolve_word_vectors",
]
