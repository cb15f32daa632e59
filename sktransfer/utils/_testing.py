"""Fast settings for tests and conformance checks, kept in one place."""

FAST_TRAINING = {"max_epochs": 15, "lr": 1e-2, "batch_size": 32, "device": "cpu"}
"""Training knobs that make an estimator fit in well under a second on a CPU."""


def fast_instances():
    """One fast, seeded instance of every numeric-input estimator."""
    from sktransfer import FineTunedCNNClassifier, PretrainedFeatureExtractor

    return [
        FineTunedCNNClassifier(random_state=0, **FAST_TRAINING),
        PretrainedFeatureExtractor(random_state=0, device="cpu"),
    ]


def text_instances():
    """One fast, seeded instance of every text estimator (offline GloVe)."""
    from sktransfer import EmbeddingVectorizer, PretrainedEmbeddingClassifier

    fast = {**FAST_TRAINING, "max_epochs": 5}
    return [
        PretrainedEmbeddingClassifier(random_state=0, **fast),
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
    ]
