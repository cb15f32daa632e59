"""Transferability scores: how well a source suits a target, without training.

All scores are "higher is better" and computed in float64 with vectorized
numpy; none fits a classifier on the target.
"""

import numpy as np
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_array, check_consistent_length, column_or_1d


def _features(features, name="features"):
    features = check_array(features, dtype=np.float64, ensure_min_samples=2)
    if features.shape[1] < 1:
        raise ValueError(f"{name} must have at least one column.")
    return features


def _labels(y, n_samples, name="y"):
    y = column_or_1d(y, warn=True)
    check_consistent_length(y, np.empty(n_samples))
    _check_discrete(y, name)
    classes, index = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError("y contains only one class; a score needs at least 2.")
    return index, len(classes)


def _check_discrete(labels, name):
    """Class labels, not continuous values: each float would be a class."""
    if type_of_target(labels) == "continuous":
        raise ValueError(
            f"{name} holds continuous values ({labels[:3].tolist()}, ...); this "
            "score takes class labels."
        )


def _logme_evidence(F, s, vh, targets, max_iter=100, tol=1e-3):
    """Per-target evidence of a Bayesian linear model (You et al. 2021, Alg. 1).

    ``F`` is (N, D); ``s`` the squared singular values of ``F`` and ``vh`` its
    right singular vectors; ``targets`` is (N, K). Returns (K,) evidences / N.
    """
    n, d = F.shape
    sigma = np.zeros(d)
    sigma[: len(s)] = s  # eigenvalues of F^T F, zero beyond the rank
    projected = vh @ (F.T @ targets)  # (D, K): V^T F^T y
    evidences = []
    for k in range(targets.shape[1]):
        t = targets[:, k]
        alpha, beta = 1.0, 1.0
        for _ in range(max_iter):
            gamma = (beta * sigma / (alpha + beta * sigma)).sum()
            m = vh.T @ (beta * projected[:, k] / (alpha + beta * sigma))
            alpha_de = float(m @ m)
            beta_de = float(((t - F @ m) ** 2).sum())
            new_alpha = gamma / (alpha_de + 1e-5)
            new_beta = (n - gamma) / (beta_de + 1e-5)
            converged = abs(new_alpha / new_beta - alpha / beta) / (alpha / beta) < tol
            alpha, beta = new_alpha, new_beta
            if converged:
                break
        m = vh.T @ (beta * projected[:, k] / (alpha + beta * sigma))
        alpha_de = float(m @ m)
        beta_de = float(((t - F @ m) ** 2).sum())
        evidence = (
            d / 2 * np.log(alpha)
            + n / 2 * np.log(beta)
            - 0.5 * np.sum(np.log(alpha + beta * sigma))
            - beta / 2 * beta_de
            - alpha / 2 * alpha_de
            - n / 2 * np.log(2 * np.pi)
        )
        evidences.append(evidence / n)
    return np.array(evidences)


def logme_score(features, y, *, regression=None):
    r"""LogME: the log marginal evidence of a linear model on the features.

    You, Liu, Wang, Long, "LogME: Practical Assessment of Pre-trained Models
    for Transfer Learning", ICML 2021. For each target column :math:`t` (a
    one-hot class indicator, or a regression target) the evidence of
    :math:`t = F w + \epsilon`, :math:`w \sim N(0, \alpha^{-1} I)`,
    :math:`\epsilon \sim N(0, \beta^{-1} I)` is maximised over
    :math:`\alpha, \beta` by the paper's fixed-point iteration, computed in the
    eigenbasis of :math:`F^T F` (one SVD, no per-class matrix inversion):

    .. math::
        \mathcal{L} = \frac{D}{2}\log\alpha + \frac{N}{2}\log\beta
        - \frac12\sum_i\log(\alpha + \beta\sigma_i)
        - \frac\beta2\lVert t - Fm\rVert^2 - \frac\alpha2\lVert m\rVert^2
        - \frac N2\log 2\pi

    The score is the mean over target columns of :math:`\mathcal{L} / N`.

    Parameters
    ----------
    features : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
        Class labels, or continuous targets.
    regression : bool or None, default=None
        Treat ``y`` as continuous; ``None`` decides from ``y``'s type.

    Returns
    -------
    score : float
        Higher means the features suit the target better.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.transferability import logme_score
    >>> y = np.repeat([0, 1], 20)
    >>> informative = np.c_[y + 0.1 * np.random.RandomState(0).randn(40)]
    >>> noise = np.random.RandomState(1).randn(40, 1)
    >>> logme_score(informative, y) > logme_score(noise, y)
    True
    """
    F = _features(features)
    y = np.asarray(y)
    if regression is None:
        regression = type_of_target(y) in ("continuous", "continuous-multioutput")
    if regression:
        targets = check_array(y.reshape(len(y), -1), dtype=np.float64)
        check_consistent_length(F, targets)
    else:
        index, n_classes = _labels(y, len(F))
        targets = np.eye(n_classes)[index]
    _, s, vh = np.linalg.svd(F, full_matrices=True)
    return float(_logme_evidence(F, s**2, vh, targets).mean())


def leep_score(source_probabilities, y):
    r"""LEEP: log expected empirical prediction of a source classifier.

    Nguyen, Hassner, Seeger, Archambeau, "LEEP: A New Measure to Evaluate
    Transferability of Learned Representations", ICML 2020. With
    :math:`\theta(x_i)` the source's class probabilities (Z source classes):

    .. math::
        \hat P(y, z) = \frac1N\sum_{i: y_i = y}\theta(x_i)_z,\quad
        \hat P(y \mid z) = \frac{\hat P(y, z)}{\sum_{y'}\hat P(y', z)},\quad
        T = \frac1N\sum_i \log\sum_z \hat P(y_i \mid z)\,\theta(x_i)_z

    Parameters
    ----------
    source_probabilities : array-like of shape (n_samples, n_source_classes)
        ``predict_proba`` of the source model on the target inputs.
    y : array-like of shape (n_samples,)
        Target labels.

    Returns
    -------
    score : float
        At most 0; higher is better.
    """
    theta = _features(source_probabilities, "source_probabilities")
    if (theta < 0).any() or not np.allclose(theta.sum(axis=1), 1.0, atol=1e-4):
        raise ValueError(
            "source_probabilities must be non-negative rows that sum to 1 "
            "(the source model's predict_proba)."
        )
    index, n_classes = _labels(y, len(theta))
    joint = np.eye(n_classes)[index].T @ theta / len(theta)  # (C, Z)
    conditional = joint / np.maximum(joint.sum(axis=0, keepdims=True), 1e-300)
    expected = (theta @ conditional.T)[np.arange(len(theta)), index]
    return float(np.mean(np.log(np.maximum(expected, 1e-300))))


def nce_score(source_labels, y):
    r"""NCE: negative conditional entropy of target labels given source labels.

    Tran, Nguyen, Hassner, "Transferability and Hardness of Supervised
    Classification Tasks", ICCV 2019: :math:`-H(Y \mid Z) = \sum_{y, z}
    \hat P(y, z)\log\hat P(y \mid z)`, with :math:`z` the source model's
    predicted label of each target input.

    Parameters
    ----------
    source_labels : array-like of shape (n_samples,)
        Labels the source model predicts for the target inputs.
    y : array-like of shape (n_samples,)
        Target labels.

    Returns
    -------
    score : float
        At most 0 (0: the source label determines the target label).
    """
    z = column_or_1d(source_labels, warn=True)
    check_consistent_length(z, y)
    _check_discrete(z, "source_labels (the source model's predict, not its scores)")
    index, n_classes = _labels(y, len(z))
    _, z_index = np.unique(z, return_inverse=True)
    joint = np.zeros((n_classes, z_index.max() + 1))
    np.add.at(joint, (index, z_index), 1.0)
    joint /= len(z)
    marginal = joint.sum(axis=0, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(joint > 0, joint * np.log(joint / marginal), 0.0)
    return float(terms.sum())


def h_score(features, y, *, ridge=1e-6):
    r"""H-score: how much of the features' variance the class means explain.

    Bao, Li, Huang, Shao, Zheng, "An Information-Theoretic Approach to
    Transferability in Task Transfer Learning", ICIP 2019:

    .. math::
        H(f) = \operatorname{tr}\left(\operatorname{cov}(f)^{-1}
        \operatorname{cov}(\mathbb E[f \mid y])\right)

    The inverse is a pseudo-inverse of ``cov(f) + ridge * mean eigenvalue * I``
    (stable for rank-deficient features). Invariant to invertible linear maps
    of the features, such as rescaling.

    Parameters
    ----------
    features : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    ridge : float, default=1e-6
        Relative regularisation of the feature covariance.

    Returns
    -------
    score : float
        Between 0 and min(n_features, n_classes - 1); higher is better.
    """
    F = _features(features)
    index, n_classes = _labels(y, len(F))
    F = F - F.mean(axis=0)
    cov = F.T @ F / len(F)
    means = np.eye(n_classes)[index].T @ F / np.bincount(index)[:, None]
    g = means[index]
    cov_g = g.T @ g / len(F)
    scale = np.trace(cov) / len(cov) if np.trace(cov) > 0 else 1.0
    inv = np.linalg.pinv(cov + ridge * scale * np.eye(len(cov)), hermitian=True)
    return float(np.trace(inv @ cov_g))
