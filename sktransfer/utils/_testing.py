"""Fast settings for tests and conformance checks, kept in one place."""

import torch
from skorch.callbacks import Callback

FAST_TRAINING = {"max_epochs": 15, "lr": 1e-2, "batch_size": 32, "device": "cpu"}
"""Training knobs that make an estimator fit in well under a second on a CPU."""

FAST_PROBE = {k: v for k, v in FAST_TRAINING.items() if k != "lr"}
"""FAST_TRAINING for a linear head on cached features, which the default
optimizer solves by L-BFGS: ``lr`` does not apply (and setting it warns)."""

IGNORED_PARAMS = "ignore:.* has no effect with transfer=:UserWarning"
"""A ``pytest.mark.filterwarnings`` spec for tests that share one setting
across transfer modes that do not all use it (as ``transfer_gain_curve``)."""


class Epochs(Callback):
    """Counts the epochs a fit runs itself (``run``); with ``cut``, the power
    goes (a RuntimeError) at the end of that epoch -- for checkpoint tests."""

    def __init__(self, cut=None):
        self.cut = cut

    def initialize(self):
        self.run = 0
        return self

    def on_epoch_end(self, net, **kwargs):
        self.run += 1
        if len(net.history) == self.cut:
            raise RuntimeError("power cut")


class FlatteningCNN(torch.nn.Module):
    """A user's backbone that flattens its maps with ``.view()``, which
    channels-last maps refuse (``reshape=True``: with ``.reshape()``, which
    takes either layout)."""

    def __init__(self, reshape=False):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.reshape = reshape

    def forward(self, x):
        maps = self.conv(x)
        flat = maps.reshape if self.reshape else maps.view
        return flat(len(maps), -1)


def fast_instances():
    """One fast, seeded instance of every numeric-input estimator."""
    from sktransfer import FineTunedCNNClassifier, PretrainedFeatureExtractor
    from sktransfer.transferability import SourceSelector

    return [
        FineTunedCNNClassifier(random_state=0, **FAST_TRAINING),
        PretrainedFeatureExtractor(random_state=0, device="cpu"),
        SourceSelector(
            FineTunedCNNClassifier(random_state=0, **FAST_TRAINING),
            ["small_cnn"],
            random_state=0,
        ),
    ]


def text_instances():
    """One fast, seeded instance of every text estimator (offline GloVe)."""
    from sktransfer import (
        EmbeddingVectorizer,
        PretrainedEmbeddingClassifier,
        ZeroShotClassifier,
    )

    fast = {**FAST_TRAINING, "max_epochs": 5}
    return [
        PretrainedEmbeddingClassifier(random_state=0, **fast),
        PretrainedEmbeddingClassifier(
            augment={"word_dropout": 0.5}, random_state=0, **fast
        ),
        PretrainedEmbeddingClassifier(
            transfer="fine_tune",
            encoder="cnn",
            oov="trainable",
            min_df=1,
            random_state=0,
            **fast,
        ),
        EmbeddingVectorizer(),
        EmbeddingVectorizer(pooling="mean_max", weighting="sif"),
        EmbeddingVectorizer(weighting="tfidf", max_length=5),
        ZeroShotClassifier(EmbeddingVectorizer(), center=True),
        *transformer_instances(),
    ]


def transformer_instances():
    """Fast instances of the transformer estimators (none without the extra)."""
    import importlib.util

    if importlib.util.find_spec("transformers") is None:
        return []
    from sktransfer import (
        FineTunedTransformerClassifier,
        TransformerVectorizer,
        ZeroShotClassifier,
    )

    fast = {**FAST_TRAINING, "max_epochs": 5, "max_length": 32}
    return [
        FineTunedTransformerClassifier(  # frozen: a probe L-BFGS solves, no lr
            random_state=0, **{**FAST_PROBE, "max_epochs": 5, "max_length": 32}
        ),
        FineTunedTransformerClassifier(
            transfer="partial",
            trainable_layers=1,
            random_state=0,
            **{**fast, "max_epochs": 2},
        ),
        TransformerVectorizer(device="cpu", max_length=32),
        ZeroShotClassifier(TransformerVectorizer(device="cpu", max_length=32)),
    ]


def runs_in_a_head_search(transformer, method, X, y):
    """``GridSearchCV`` (3 values of C, 3 folds) over a ``LogisticRegression``
    after ``transformer``; return the fitted search and how many times the
    transformer's ``method`` (its costly computation) ran.

    Without a cache that is 19 runs: each grid point and fold transforms
    its training and its test part, and the refit the whole data.
    """
    from unittest import mock

    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    cls = type(transformer)
    original, calls = getattr(cls, method), []

    def counting(self, *args):
        calls.append(1)
        return original(self, *args)

    pipe = make_pipeline(transformer, LogisticRegression(max_iter=500))
    grid = {"logisticregression__C": [0.1, 1.0, 10.0]}
    with mock.patch.object(cls, method, counting):
        search = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    return search, len(calls)
