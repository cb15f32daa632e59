import tracemalloc
import warnings

import numpy as np
import pytest
import torch
from sklearn.covariance import ledoit_wolf_shrinkage

from sktransfer.transferability import h_score, leep_score, logme_score, nce_score


def _direct_evidence(F, t, alpha, beta):
    """log p(t | F, alpha, beta) / N of the Bayesian linear model, no SVD."""
    n, d = F.shape
    A = alpha * np.eye(d) + beta * F.T @ F
    m = beta * np.linalg.solve(A, F.T @ t)
    return (
        d / 2 * np.log(alpha)
        + n / 2 * np.log(beta)
        - n / 2 * np.log(2 * np.pi)
        - beta / 2 * np.sum((t - F @ m) ** 2)
        - alpha / 2 * m @ m
        - 0.5 * np.linalg.slogdet(A)[1]
    ) / n


@pytest.mark.parametrize("shape", [(12, 3), (12, 20)], ids=["tall", "wide"])
def test_logme_is_the_maximised_evidence(shape):
    # tall features are scored from F^T F, wide ones from F F^T
    rng = np.random.RandomState(0)
    F = rng.randn(*shape)
    t = F[:, :3] @ np.array([1.0, -0.5, 0.2]) + 0.3 * rng.randn(12)
    grid = np.exp(np.linspace(-6, 6, 241))
    best = max(_direct_evidence(F, t, a, b) for a in grid[::4] for b in grid[::4])
    score = logme_score(F, t, regression=True)
    assert score >= best - 1e-6  # the fixed point is at least as good as a grid
    assert score == pytest.approx(best, abs=0.05)


def test_logme_matches_the_papers_implementation_on_digits(digits):
    # the values of the authors' fixed-point LogME (github.com/thuml/LogME,
    # LogME.fit), computed outside this project on the same arrays
    X, y = digits
    assert logme_score(X / 16, y) == pytest.approx(0.2702776269748759, rel=1e-6)
    assert logme_score(X[:300] / 16, y[:300]) == pytest.approx(
        0.31132071457407073, rel=1e-6
    )


def test_logme_classification_is_the_mean_over_one_hot_columns():
    rng = np.random.RandomState(1)
    F = rng.randn(30, 4)
    y = rng.randint(0, 3, 30)
    per_class = [
        logme_score(F, (y == c).astype(float), regression=True) for c in range(3)
    ]
    assert logme_score(F, y) == pytest.approx(np.mean(per_class))


def test_logme_wide_features_and_label_permutation(digits):
    X, y = digits
    X, y = X[:40] / 16, y[:40]  # N=40 < D=64: rank-deficient
    score = logme_score(X, y)
    assert np.isfinite(score)
    permuted = np.array([3, 7, 0, 9, 1, 5, 2, 8, 4, 6])[y]
    assert logme_score(X, permuted) == pytest.approx(score)


def test_logme_does_not_depend_on_the_scale_of_the_features(digits):
    """The evidence is the same for any scale of F (the prior on w takes it
    up); features in the thousands lost up to 2 points to the fixed point's
    1e-5 guards, which skewed rankings of sources whose features differ in
    scale."""
    X, y = digits
    X, y = X[:300], y[:300]
    wide = X @ np.random.RandomState(0).randn(64, 200)  # values in the hundreds
    for F in (X, wide):
        scores = [logme_score(F * c, y) for c in (1e-6, 1.0, 1e3, 1e6)]
        assert scores == pytest.approx([scores[0]] * 4, abs=1e-9)
    assert logme_score(wide, y) == pytest.approx(logme_score(X, y), abs=0.02)


def test_logme_of_features_without_information():
    """All-zero features score the evidence of noise alone (t ~ N(0, 1/beta),
    beta = N / |t|^2), not NaN (which ranked first or anywhere in
    rank_sources); constant features, an intercept, score between that and
    informative ones."""
    y = np.repeat([0, 1], 20)
    noise_alone = 0.5 * np.log(2) - 0.5 - 0.5 * np.log(2 * np.pi)  # |t|^2 = N/2
    assert logme_score(np.zeros((40, 3)), y) == pytest.approx(noise_alone, abs=1e-6)
    constant = logme_score(np.full((40, 3), 7.0), y)
    informative = np.c_[y + 0.3 * np.random.RandomState(0).randn(40)]
    assert logme_score(informative, y) > constant > noise_alone


def test_leep_by_hand():
    theta = np.array([[0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0.1, 0.9]])
    y = np.array([0, 0, 1, 1])
    joint = np.array([[1.7, 0.3], [0.3, 1.7]]) / 4
    cond = joint / joint.sum(0)
    expected = np.mean(np.log([theta[i] @ cond[y[i]] for i in range(4)]))
    assert leep_score(theta, y) == pytest.approx(expected)
    assert leep_score(theta, 1 - y) == pytest.approx(expected)  # relabelling
    # a source that ignores the input scores lower
    assert leep_score(np.full((4, 2), 0.5), y) < expected
    with pytest.raises(ValueError, match="sum to 1"):
        leep_score(theta * 2, y)


def test_nce_by_hand():
    z = np.array(["a", "a", "b", "b", "b", "c"])
    y = np.array([0, 0, 1, 1, 0, 2])
    # H(Y|Z) = P(b) * H(2/3, 1/3); a and c determine y
    expected = -(3 / 6) * -(2 / 3 * np.log(2 / 3) + 1 / 3 * np.log(1 / 3))
    assert nce_score(z, y) == pytest.approx(expected)
    assert nce_score(y, y) == pytest.approx(0.0)  # perfectly informative
    assert nce_score(z, np.array([5, 5, 7, 7, 5, 9])) == pytest.approx(expected)


def test_h_score_by_hand_and_scale_invariance():
    F = np.array([[0.0], [2.0], [4.0], [6.0]])
    y = np.array([0, 0, 1, 1])
    # cov(f) = 5, class means 1 and 5 -> cov(E[f|y]) = 4, H = 4/5
    assert h_score(F, y) == pytest.approx(0.8, rel=1e-5)
    rng = np.random.RandomState(0)
    G = rng.randn(50, 5)
    labels = rng.randint(0, 3, 50)
    G[:, 0] += 2 * labels
    assert h_score(G * [1, 10, 0.1, 3, 7], labels) == pytest.approx(
        h_score(G, labels), rel=1e-4
    )
    # constant features explain nothing (and leave no direction to score)
    for shrinkage in (None, "auto"):
        assert h_score(np.ones((10, 4)), np.arange(10) % 2, shrinkage=shrinkage) == 0
    # at any scale a float holds (their covariance overflowed or underflowed)
    scores = [h_score(G * c, labels) for c in (1e-200, 1e-6, 1e6, 1e200)]
    assert scores == pytest.approx([h_score(G, labels)] * 4, rel=1e-9)


def _few_samples_a_feature(seed, n_features=49):
    """50 samples of 5 classes: pure noise, and noise with one informative column."""
    rng = np.random.RandomState(seed)
    y = np.repeat(np.arange(5), 10)
    informative = rng.randn(50, n_features)
    informative[:, 0] += 1.5 * y
    return rng.randn(50, n_features), informative, y


def test_the_shrinkage_h_score_tells_noise_apart_where_the_plain_one_cannot():
    # with about one sample a feature the covariance is near singular: plain
    # H-scores saturate at n_classes - 1 for noise and signal alike (warned)
    plain, shrunk = [], []
    for seed in range(5):
        noise, informative, y = _few_samples_a_feature(seed)
        with pytest.warns(UserWarning, match="50 samples with 49 features") as w:
            plain.append([h_score(noise, y), h_score(informative, y)])
        assert w[0].filename == __file__
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            shrunk.append(
                [h_score(F, y, shrinkage="auto") for F in (noise, informative)]
            )
    plain, shrunk = np.mean(plain, axis=0), np.mean(shrunk, axis=0)
    assert plain.min() > 3.9  # of 4; measured 4.00, 3.97
    assert shrunk[1] > 1.0 > 0.2 > shrunk[0]  # measured 1.29, 0.06


def test_the_shrinkage_h_score_matches_the_reference_formula(digits):
    # Transfer-Learning-Library's regularized_h_score: Ledoit-Wolf covariance
    # of the centred features, np.cov (n - 1) of the class means
    from sklearn.covariance import LedoitWolf

    X, y = digits
    F = X[:300] + np.random.RandomState(0).randn(300, 64) * 0.01
    y = y[:300]
    centred = F - F.mean(axis=0)
    lw = LedoitWolf(assume_centered=False).fit(centred)
    g = np.stack([centred[y == k].mean(axis=0) for k in range(10)])[y]
    cov_g = np.cov(g, rowvar=False)
    reference = np.trace(
        np.linalg.pinv(lw.covariance_, rcond=1e-15) @ ((1 - lw.shrinkage_) * cov_g)
    )
    n = len(F)
    ours = h_score(F, y, shrinkage="auto", ridge=0)
    assert ours * n / (n - 1) == pytest.approx(reference, rel=1e-6)
    assert h_score(F, y, shrinkage=0.0) == pytest.approx(h_score(F, y), rel=1e-9)
    assert h_score(F * 1e3, y, shrinkage=0.3) == pytest.approx(
        h_score(F, y, shrinkage=0.3), rel=1e-9
    )
    for bad in ("ledoit", 1.5, -0.1, True):
        with pytest.raises(ValueError, match="shrinkage must be 'auto'"):
            h_score(F, y, shrinkage=bad)


@pytest.mark.parametrize("shape", [(30, 300), (300, 30)], ids=["wide", "tall"])
def test_h_score_equals_the_feature_space_formula(shape, digits):
    # wide features are scored on the samples' Gram matrix, not by inverting
    # the n_features square covariance: the same number
    n, d = shape
    rng = np.random.RandomState(0)
    F = rng.randn(n, d) * rng.rand(d) * 10
    y = digits[1][:n] % 3
    F[:, 0] += 2 * y
    centred = F - F.mean(axis=0)
    cov = centred.T @ centred / n
    g = np.stack([centred[y == k].mean(axis=0) for k in range(3)])[y]
    cov_g = g.T @ g / n
    scale = np.trace(cov) / d
    for shrinkage, alpha in [(None, 0.0), (0.3, 0.3), ("auto", None)]:
        if alpha is None:
            alpha = ledoit_wolf_shrinkage(centred)
        for ridge in (0.0, 1e-6, 0.1):
            shrunk = (1 - alpha) * cov + (alpha + ridge) * scale * np.eye(d)
            direct = np.trace(np.linalg.pinv(shrunk, hermitian=True) @ cov_g)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the plain score of wide features
                ours = h_score(F, y, shrinkage=shrinkage, ridge=ridge)
            assert ours == pytest.approx((1 - alpha) * direct, rel=1e-7)


def test_rank_sources_takes_the_regularized_h_score():
    from sklearn.preprocessing import FunctionTransformer

    from sktransfer.transferability import rank_sources

    noise, informative, y = _few_samples_a_feature(0)
    candidates = {
        "noise": FunctionTransformer(lambda Z: Z[:, :49]),
        "informative": FunctionTransformer(lambda Z: Z[:, 49:]),
    }
    X = np.hstack([noise, informative])
    ranking = rank_sources(candidates, X, y, metric="regularized_h_score")
    assert [row["name"] for row in ranking] == ["informative", "noise"]


@pytest.mark.parametrize("score", ["logme", "h", "leep"])
def test_memory_grows_with_the_features_not_samples_times_classes(digits, score):
    # 1,000 classes of 20,000 samples: their dense indicators (or LEEP's
    # (n_samples, n_classes) product) alone took 160 MB, 16 times the features
    n, n_classes = 20_000, 1_000
    rng = np.random.RandomState(0)
    F = np.tile(digits[0], (n // len(digits[0]) + 1, 1))[:n].astype(np.float64)
    y = rng.randint(0, n_classes, n)
    P = rng.dirichlet(np.ones(64), n)  # a source's predict_proba, as large as F
    compute = {
        "logme": lambda: logme_score(F, y),
        "h": lambda: h_score(F, y, shrinkage="auto"),
        "leep": lambda: leep_score(P, y),
    }[score]
    tracemalloc.start()
    try:
        assert np.isfinite(compute())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * F.nbytes, f"{peak / 2**20:.0f} MB for {F.nbytes / 2**20:.0f} MB"


def test_informative_features_beat_noise_on_digits(digits):
    X, y = digits
    rng = np.random.RandomState(0)
    noise = rng.randn(*X.shape)
    assert logme_score(X / 16, y) > logme_score(noise, y)
    assert h_score(X, y) > h_score(noise, y) + 1


def test_informative_glove_beats_random_vectors_on_newsgroups(glove, news):
    from sktransfer import EmbeddingVectorizer

    real = EmbeddingVectorizer(glove).fit_transform(news["X"])
    from gensim.models import KeyedVectors

    fake = KeyedVectors(vector_size=50)
    fake.add_vectors(glove.index_to_key, np.random.RandomState(0).randn(len(glove), 50))
    random = EmbeddingVectorizer(fake).fit_transform(news["X"])
    assert logme_score(real, news["y"]) > logme_score(random, news["y"])
    # 60 documents of 50 features: the plain H-score is near its maximum for
    # both (warned); the shrinkage H-score tells them apart by far
    with pytest.warns(UserWarning, match="60 samples with 50 features"):
        plain = [h_score(F, news["y"]) for F in (real, random)]
    shrunk = [h_score(F, news["y"], shrinkage="auto") for F in (real, random)]
    assert plain[0] > plain[1]
    assert shrunk[0] > 2 * shrunk[1]  # measured 2.23 and 0.43 (plain: 2.89, 2.47)


@pytest.mark.parametrize("score", [logme_score, h_score])
def test_bad_input(score):
    with pytest.raises(ValueError, match="only one class"):
        score(np.ones((4, 2)), [1, 1, 1, 1])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        score(np.ones((4, 2)), [0, 1, 1])
    with pytest.raises(ValueError, match="NaN"):
        score(np.full((4, 2), np.nan), [0, 1, 0, 1])


def test_continuous_labels_are_refused_where_a_score_takes_classes(digits):
    X, y = digits
    values = np.random.RandomState(0).rand(len(y))  # each float would be a class
    proba = np.full((len(y), 2), 0.5)
    with pytest.raises(ValueError, match="y holds continuous values"):
        h_score(X, values)
    with pytest.raises(ValueError, match="y holds continuous values"):
        leep_score(proba, values)
    with pytest.raises(ValueError, match=r"source_labels \(the source model's predict"):
        nce_score(values, y)
    # LogME takes them as a regression target; float-typed class labels pass
    assert np.isfinite(logme_score(X, values))
    assert h_score(X, y.astype(float)) == pytest.approx(h_score(X, y))


@pytest.mark.parametrize(
    "score, outputs",
    [
        (logme_score, np.eye(20, 3)),
        (h_score, np.eye(20, 3)),
        (leep_score, np.full((20, 2), 0.5)),
        (nce_score, np.arange(20) % 3),
    ],
)
def test_missing_labels_are_refused_without_a_cast_warning(score, outputs):
    """NaN labels are named as such, before scikit-learn's type_of_target
    casts them to int (a RuntimeWarning on the way to its error)."""
    y = np.tile([0.0, 1.0], 10)
    y[3] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="Input y contains NaN"):
            score(outputs, y)
    # string labels with None, or pandas' NA (numpy failed on them before)
    named = np.tile(np.array(["a", "b"], dtype=object), 10)
    named[3] = None
    pd = pytest.importorskip("pandas")
    for labels in (named, pd.Series(named, dtype="string")):
        with pytest.raises(ValueError, match=r"y holds 1 missing label\(s\).*\[3\]"):
            score(outputs, labels)
    if score is nce_score:  # its source labels too
        with pytest.raises(ValueError, match="source_labels holds 1 missing"):
            score(named, np.arange(20) % 2)


def test_torch_tensors_are_scored_as_their_values(digits):
    # features straight from a model (requiring grad) or in bfloat16
    X, y = digits
    features = X[:300] / 16
    expected = {score: score(features, y[:300]) for score in (logme_score, h_score)}
    tensor = torch.tensor(features, dtype=torch.float32, requires_grad=True)
    labels = torch.from_numpy(y[:300])
    for score, value in expected.items():
        assert score(tensor, labels) == pytest.approx(value, rel=1e-5)
    half = torch.tensor(features).bfloat16()  # multiples of 1/16: exact
    assert logme_score(half, labels) == pytest.approx(expected[logme_score], rel=1e-5)
    probabilities = torch.softmax(tensor[:, :10] * 4, dim=1)  # grad too
    assert leep_score(probabilities, labels) == pytest.approx(
        leep_score(probabilities.detach().numpy(), y[:300])
    )
    assert nce_score(labels % 3, labels) == pytest.approx(
        nce_score(y[:300] % 3, y[:300])
    )
