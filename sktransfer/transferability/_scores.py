"""Transferability scores: how well a source suits a target, without training.

All scores are "higher is better" and computed in float64 with vectorized
numpy; none fits a classifier on the target.
"""

import warnings
from numbers import Real
from typing import Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike
from sklearn.covariance import ledoit_wolf_shrinkage
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import (
    _assert_all_finite,
    check_array,
    check_consistent_length,
    column_or_1d,
)

from sktransfer.utils._arrays import from_torch, refuse_bad_labels
from sktransfer.utils._warnings import caller_stacklevel


def _features(features, name="features", accept_sparse=False):
    features = check_array(
        from_torch(features),
        accept_sparse="csr" if accept_sparse else False,
        dtype=np.float64,
        ensure_min_samples=2,
    )
    if features.shape[1] < 1:
        raise ValueError(f"{name} must have at least one column.")
    return features


def _labels(y, n_samples, name="y"):
    y = column_or_1d(from_torch(y), warn=True)
    refuse_bad_labels(y)
    check_consistent_length(y, np.empty(n_samples))
    _check_discrete(y, name)
    classes, index = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError("y contains only one class; a score needs at least 2.")
    return index, len(classes)


def _one_hot(index, n_classes):
    """Class indicators of ``index``, ``(n_samples, n_classes)``, as a sparse
    matrix: the dense one held ``n_samples x n_classes`` floats (50,000
    samples of 1,000 classes: 400 MB, four times their 512 features)."""
    n = len(index)
    return sp.csr_matrix(
        (np.ones(n), (np.arange(n), index)), shape=(n, n_classes), dtype=np.float64
    )


def _check_discrete(labels, name):
    """Class labels, not continuous values: each float would be a class."""
    if labels.dtype.kind == "f":  # before type_of_target casts NaN to int
        _assert_all_finite(labels, input_name=name)
    if type_of_target(labels) == "continuous":
        raise ValueError(
            f"{name} holds continuous values ({labels[:3].tolist()}, ...); this "
            "score takes class labels."
        )


def _logme_evidence(s, along, outside, n, max_iter=100, tol=1e-3):
    """Per-target evidence of a Bayesian linear model (You et al. 2021, Alg. 1).

    ``s`` (R,) are the nonzero singular values of the ``n`` features ``F = u
    diag(s) v^T``; ``along`` (R, K) the targets in the basis ``u``
    (``u^T t``) and ``outside`` (K,) their squared norms outside its span
    (see :func:`_spectral_targets`). Returns (K,) evidences / N.

    No more is needed: in the basis ``v`` the posterior mean is ``m = v c``
    with ``|m| = |c|`` and ``F m = u (s c)``, so ``|t - F m|^2`` is
    ``outside + |u^T t - s c|^2``, R numbers an iteration instead of N. The
    directions where ``F`` is zero add ``log(alpha)/2 - log(alpha)/2 = 0`` to
    the evidence and nothing else, so they are left out: the same value, and
    no ``log(0)`` when no direction remains (all-zero features).
    """
    rank = len(s)
    sigma = s**2  # eigenvalues of F^T F
    projected = s[:, None] * along  # (R, K): v^T F^T t
    evidences = []
    for k in range(along.shape[1]):
        alpha, beta = 1.0, 1.0
        for _ in range(max_iter):
            gamma = (beta * sigma / (alpha + beta * sigma)).sum()
            c = beta * projected[:, k] / (alpha + beta * sigma)
            alpha_de = float(c @ c)
            beta_de = outside[k] + float(((along[:, k] - s * c) ** 2).sum())
            # alpha is the prior precision of w: without a direction it is free
            new_alpha = gamma / (alpha_de + 1e-5) if rank else alpha
            new_beta = (n - gamma) / (beta_de + 1e-5)
            converged = abs(new_alpha / new_beta - alpha / beta) / (alpha / beta) < tol
            alpha, beta = new_alpha, new_beta
            if converged:
                break
        c = beta * projected[:, k] / (alpha + beta * sigma)
        alpha_de = float(c @ c)
        beta_de = outside[k] + float(((along[:, k] - s * c) ** 2).sum())
        evidence = (
            rank / 2 * np.log(alpha)
            + n / 2 * np.log(beta)
            - 0.5 * np.sum(np.log(alpha + beta * sigma))
            - beta / 2 * beta_de
            - alpha / 2 * alpha_de
            - n / 2 * np.log(2 * np.pi)
        )
        evidences.append(evidence / n)
    return np.array(evidences)


def _spectral_targets(F, targets):
    """``(s, along, outside)`` of :func:`_logme_evidence`: the nonzero
    singular values of ``F``, ``targets`` (N, K) in the basis of its left
    singular vectors, and their squared norms outside that basis' span.

    From the eigenvectors of the smaller of ``F F^T`` (N x N; sparse ``F``
    too, never made dense) and ``F^T F``, not an SVD of ``F``: 20,000 samples
    of 1,280 features take 0.7 s against the SVD's 6.4 s. A direction whose
    eigenvalue is under ``max(F.shape) * eps`` of the largest is rounding,
    not signal, and is left out (it would add nothing; see
    :func:`_logme_evidence`).
    """
    n, d = F.shape
    if sp.issparse(F) or n <= d:
        gram = F @ F.T
        w, u = np.linalg.eigh(gram.toarray() if sp.issparse(gram) else gram)
        keep = w > w.max(initial=0.0) * max(n, d) * np.finfo(np.float64).eps
        s, along = np.sqrt(w[keep]), _transposed_product(targets, u[:, keep])
    else:
        w, v = np.linalg.eigh(F.T @ F)
        keep = w > w.max(initial=0.0) * max(n, d) * np.finfo(np.float64).eps
        s = np.sqrt(w[keep])
        # u^T t, u = F v / s
        along = v[:, keep].T @ _transposed_product(targets, F) / s[:, None]
    squares = targets.multiply(targets) if sp.issparse(targets) else targets**2
    norms = np.asarray(squares.sum(axis=0)).ravel()
    outside = np.clip(norms - (along**2).sum(axis=0), 0.0, None)
    return s, along, outside


def _transposed_product(targets, basis):
    """``basis.T @ targets``, ``targets`` dense or sparse (:func:`_one_hot`):
    computed as ``(targets.T @ basis).T``, so a sparse ``targets`` is never
    made dense."""
    return np.asarray((targets.T @ basis).T)


def logme_score(
    features: ArrayLike, y: ArrayLike, *, regression: bool | None = None
) -> float:
    r"""LogME: the log marginal evidence of a linear model on the features.

    You, Liu, Wang, Long, "LogME: Practical Assessment of Pre-trained Models
    for Transfer Learning", ICML 2021. For each target column :math:`t` (a
    one-hot class indicator, or a regression target) the evidence of
    :math:`t = F w + \epsilon`, :math:`w \sim N(0, \alpha^{-1} I)`,
    :math:`\epsilon \sim N(0, \beta^{-1} I)` is maximised over
    :math:`\alpha, \beta` by the paper's fixed-point iteration, computed in the
    eigenbasis of :math:`F^T F` (one eigendecomposition, no per-class matrix inversion):

    .. math::
        \mathcal{L} = \frac{D}{2}\log\alpha + \frac{N}{2}\log\beta
        - \frac12\sum_i\log(\alpha + \beta\sigma_i)
        - \frac\beta2\lVert t - Fm\rVert^2 - \frac\alpha2\lVert m\rVert^2
        - \frac N2\log 2\pi

    The score is the mean over target columns of :math:`\mathcal{L} / N`.

    Parameters
    ----------
    features : {array-like, sparse matrix} of shape (n_samples, n_features)
        Sparse features (a ``TfidfVectorizer``'s) are scored through the
        ``n_samples`` x ``n_samples`` Gram matrix, never made dense.
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
    F = _features(features, accept_sparse=True)
    y = np.asarray(from_torch(y))
    refuse_bad_labels(y)
    if y.dtype.kind == "f":  # before type_of_target casts NaN to int
        _assert_all_finite(y, input_name="y")
    if regression is None:
        regression = type_of_target(y) in ("continuous", "continuous-multioutput")
    if regression:
        targets = check_array(y.reshape(len(y), -1), dtype=np.float64)
        check_consistent_length(F, targets)
    else:
        index, n_classes = _labels(y, F.shape[0])
        targets = _one_hot(index, n_classes)
    # One scale for F: the evidence is the same for any (the prior on w takes
    # it up), and at |F| <= 1 the fixed point's 1e-5 guards stay negligible
    # (features in the thousands lost up to 2 points of score to them).
    scale = abs(F).max()
    F = F / scale if scale > 0 else F
    s, along, outside = _spectral_targets(F, targets)
    return float(_logme_evidence(s, along, outside, F.shape[0]).mean())


def leep_score(source_probabilities: ArrayLike, y: ArrayLike) -> float:
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

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.transferability import leep_score
    >>> y = np.array([0, 0, 1, 1])
    >>> confident = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.2, 0.8]])
    >>> uniform = np.full((4, 2), 0.5)
    >>> leep_score(confident, y) > leep_score(uniform, y)
    True
    """
    theta = _features(source_probabilities, "source_probabilities")
    if (theta < 0).any() or not np.allclose(theta.sum(axis=1), 1.0, atol=1e-4):
        raise ValueError(
            "source_probabilities must be non-negative rows that sum to 1 "
            "(the source model's predict_proba)."
        )
    index, n_classes = _labels(y, len(theta))
    joint = _one_hot(index, n_classes).T @ theta / len(theta)  # (C, Z)
    conditional = joint / np.maximum(joint.sum(axis=0, keepdims=True), 1e-300)
    # each sample's own class only, not the (n_samples, n_classes) product
    expected = np.einsum("iz,iz->i", theta, conditional[index])
    return float(np.mean(np.log(np.maximum(expected, 1e-300))))


def nce_score(source_labels: ArrayLike, y: ArrayLike) -> float:
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

    Examples
    --------
    >>> from sktransfer.transferability import nce_score
    >>> nce_score(["cat", "cat", "dog", "dog"], [0, 0, 1, 1])
    0.0
    >>> round(nce_score(["cat", "dog", "cat", "dog"], [0, 0, 1, 1]), 3)
    -0.693
    """
    shape = np.shape(source_labels)
    if len(shape) == 2 and shape[1] > 1:  # column_or_1d's error would blame y
        raise ValueError(
            f"source_labels has shape {shape}: it takes the labels the source "
            "model predicts (its predict), one per sample, not its probabilities "
            "(its predict_proba, which leep_score takes)."
        )
    z = column_or_1d(from_torch(source_labels), warn=True)
    refuse_bad_labels(z, name="source_labels")
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


def h_score(
    features: ArrayLike,
    y: ArrayLike,
    *,
    ridge: float = 1e-6,
    shrinkage: float | Literal["auto"] | None = None,
) -> float:
    r"""H-score: how much of the features' variance the class means explain.

    Bao, Li, Huang, Shao, Zheng, "An Information-Theoretic Approach to
    Transferability in Task Transfer Learning", ICIP 2019:

    .. math::
        H(f) = \operatorname{tr}\left(\operatorname{cov}(f)^{-1}
        \operatorname{cov}(\mathbb E[f \mid y])\right)

    The inverse is a pseudo-inverse of ``cov(f) + ridge * mean eigenvalue * I``
    (stable for rank-deficient features). Invariant to invertible linear maps
    of the features, such as rescaling.

    With few samples a feature, ``cov(f)`` is (near) singular and any
    features -- noise too -- score near the maximum, ``n_classes - 1``
    (noise alone scores about ``(n_classes - 1) * n_features / n_samples``;
    under two samples a feature warns). ``shrinkage`` is the remedy of Ibrahim,
    Ponomareva, Mazumder, "Newer is not always better: Rethinking
    transferability metrics, their peculiarities, stability and
    performance", ECML-PKDD 2022:
    :math:`H_\alpha = \operatorname{tr}(\operatorname{cov}_\alpha(f)^{-1}
    (1 - \alpha)\operatorname{cov}(\mathbb E[f \mid y]))` with
    :math:`\operatorname{cov}_\alpha = (1 - \alpha)\operatorname{cov}(f) +
    \alpha\,\bar\sigma I`, :math:`\bar\sigma` the mean variance (the
    ``metric="regularized_h_score"`` of :func:`rank_sources`).

    Parameters
    ----------
    features : array-like of shape (n_samples, n_features)
        The source model's features of the target inputs (dense).
    y : array-like of shape (n_samples,)
        Target labels.
    ridge : float, default=1e-6
        Relative regularisation of the feature covariance.
    shrinkage : "auto", float in [0, 1] or None, default=None
        The :math:`\alpha` of the shrinkage H-score: ``"auto"`` is the
        Ledoit-Wolf estimate (scikit-learn's ``ledoit_wolf_shrinkage``);
        None is the plain H-score. The covariances divide by ``n_samples``
        (Transfer-Learning-Library's ``regularized_h_score`` divides the
        class means' by ``n_samples - 1``: its scores are ``n / (n - 1)``
        times these).

    Returns
    -------
    score : float
        Between 0 and min(n_features, n_classes - 1); higher is better.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.transferability import h_score
    >>> y = np.repeat([0, 1], 20)
    >>> informative = np.c_[y + 0.1 * np.random.RandomState(0).randn(40)]
    >>> noise = np.random.RandomState(1).randn(40, 1)
    >>> round(h_score(informative, y), 2), round(h_score(noise, y), 2)
    (0.95, 0.0)
    """
    if sp.issparse(features):
        raise TypeError(
            "h_score takes dense features (it inverts their n_features x "
            "n_features covariance); score sparse features with logme_score."
        )
    if not (isinstance(ridge, Real) and ridge >= 0):  # NaN fails too
        raise ValueError(f"ridge must be a number >= 0; got {ridge!r}.")
    if not (
        shrinkage is None
        or (isinstance(shrinkage, str) and shrinkage == "auto")
        or (
            isinstance(shrinkage, Real)
            and not isinstance(shrinkage, bool)
            and 0 <= shrinkage <= 1
        )
    ):
        raise ValueError(
            f"shrinkage must be 'auto', a number in [0, 1] or None; got {shrinkage!r}."
        )
    F = _features(features)
    index, n_classes = _labels(y, len(F))
    # the score does not depend on the features' scale: computed at unit
    # scale, their covariances neither overflow (features of 1e200 raised a
    # LinAlgError) nor underflow (1e-200 gave 0)
    peak = np.abs(F).max(initial=0.0)
    F = F / peak if peak > 0 else F
    F = F - F.mean(axis=0)
    eig, energy = _spectrum(F, index, n_classes)
    scale = eig.sum() / F.shape[1] if eig.sum() > 0 else 1.0  # mean variance
    if shrinkage is None:
        # noise alone scores about (n_classes - 1) * n_features / n_samples
        if len(F) < 2 * F.shape[1] and n_classes - 1 < F.shape[1]:
            warnings.warn(
                f"h_score of {len(F)} samples with {F.shape[1]} features: with "
                "fewer than two samples a feature, their covariance is (near) "
                "singular, and any features -- noise too -- score near the "
                f"maximum ({n_classes - 1}). Pass shrinkage='auto' "
                "(metric='regularized_h_score'), or use logme_score.",
                UserWarning,
                stacklevel=caller_stacklevel(),
            )
        alpha = 0.0
    else:
        alpha = ledoit_wolf_shrinkage(F) if shrinkage == "auto" else float(shrinkage)
    # tr(pinv(cov_alpha + ridge * scale * I) (1 - alpha) cov(E[f|y])) on the
    # covariance's eigenvectors; the class means' covariance lies in their
    # span, so the rest of the feature space adds nothing
    denominator = (1 - alpha) * eig + (alpha + ridge) * scale
    kept = denominator > F.shape[1] * np.finfo(float).eps * denominator.max(initial=0)
    return float(((1 - alpha) * energy[kept] / denominator[kept]).sum())


def _spectrum(F, index, n_classes):
    """The nonzero eigenvalues of the covariance of the centred features
    ``F``, and the variance of the class means along each eigenvector.

    With ``u`` the left singular vectors of ``F`` (singular values ``s``), a
    class's mean along eigenvector ``k`` is ``s_k`` times the class's sum of
    ``u_k`` over its size: the one-hot targets of :func:`_spectral_targets`,
    which works from the smaller Gram matrix (50 samples of 5,000 features
    take milliseconds, not the 16 s the covariance's inverse took).
    """
    n = len(F)
    counts = np.bincount(index, minlength=n_classes)
    s, along, _ = _spectral_targets(F, _one_hot(index, n_classes))
    eig = s**2 / n
    return eig, eig * (along**2 / counts).sum(axis=1)
