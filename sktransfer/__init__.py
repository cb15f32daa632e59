"""sktransfer: transfer learning as scikit-learn estimators.

Take knowledge from a pretrained **source** (word vectors, an ImageNet CNN, a
model fitted on related data), train a **target** model on new data, and choose
how the source is **transferred** -- all as ordinary hyperparameters, so the
estimators work in Pipeline, GridSearchCV, cross_val_score, clone and pickle.
"""

__version__ = "0.1.0.dev0"

from sktransfer._persistence import load, save
from sktransfer.text import (
    EmbeddingVectorizer,
    FineTunedTransformerClassifier,
    PretrainedEmbeddingClassifier,
    TransformerVectorizer,
    ZeroShotClassifier,
)
from sktransfer.vision import FineTunedCNNClassifier, PretrainedFeatureExtractor

__all__ = [
    "EmbeddingVectorizer",
    "FineTunedCNNClassifier",
    "FineTunedTransformerClassifier",
    "PretrainedEmbeddingClassifier",
    "PretrainedFeatureExtractor",
    "TransformerVectorizer",
    "ZeroShotClassifier",
    "__version__",
    "load",
    "save",
]
