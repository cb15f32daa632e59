import threading

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from sktransfer.utils import resolve_device, seed_from, seeded


def test_resolve_device():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device(torch.device("cpu")) == "cpu"
    assert resolve_device("cpu:0") == resolve_device(torch.device("cpu", 0)) == "cpu"
    for bad in ("gpu", "cuda:x", 3, None):
        with pytest.raises(ValueError, match="is not a device"):
            resolve_device(bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_requested_without_cuda():
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda")


def test_seeded_restores_the_callers_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    with seeded(7):
        inside = torch.rand(3)
    assert torch.equal(torch.rand(3), expected)
    with seeded(7):
        assert torch.equal(torch.rand(3), inside)


def test_a_seeded_context_has_the_generator_to_itself():
    entered = threading.Event()

    def other_thread():
        with seeded(1):
            entered.set()
            torch.rand(100)

    with seeded(0):
        first = torch.rand(2)
        other = threading.Thread(target=other_thread)
        other.start()
        assert not entered.wait(0.2)  # waits for this context to end
        with seeded(0):  # the same thread may nest
            pass
        second = torch.rand(2)
    other.join()
    assert entered.is_set()
    with seeded(0):  # this context's stream was not disturbed
        assert torch.equal(torch.cat([first, second]), torch.rand(4))


def test_seeded_fits_in_threads_equal_one_fit_alone(digits):
    from sktransfer import FineTunedCNNClassifier

    X, y = digits

    def fit():
        clf = FineTunedCNNClassifier(
            max_epochs=3, dropout=0.3, random_state=0, device="cpu"
        )
        return clf.fit(X[:300], y[:300]).predict_proba(X[300:500])

    alone = fit()
    together = [None, None]

    def run(i):
        together[i] = fit()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for proba in together:  # shuffles and dropout masks drawn from their own seed
        np.testing.assert_array_equal(proba, alone)


def test_seed_from():
    assert seed_from(5) == 5
    rng = np.random.RandomState(0)
    assert seed_from(rng) != seed_from(rng)
    assert seed_from(np.random.RandomState(1)) == seed_from(np.random.RandomState(1))


def test_paths_starting_with_a_tilde_are_in_the_home_folder(
    tmp_path, monkeypatch, digits, glove
):
    import sktransfer
    from sktransfer import FineTunedCNNClassifier, PretrainedEmbeddingClassifier

    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    X, y = digits
    small = type(glove)(vector_size=50)
    small.add_vectors(glove.index_to_key[:2000], glove.vectors[:2000])
    small.save_word2vec_format(str(home / "vectors.txt"))
    texts = ["a good film", "a bad film", "good plot", "bad plot"] * 3
    text = PretrainedEmbeddingClassifier("~/vectors.txt", max_epochs=2, device="cpu")
    assert text.fit(texts, [1, 0, 1, 0] * 3).n_pretrained_ > 0

    class PowerCut(Callback):  # after epoch 1 was checkpointed
        def on_epoch_end(self, net, **kwargs):
            if len(net.history) == 2:
                raise RuntimeError("power cut")

    clf = FineTunedCNNClassifier(
        max_epochs=3, checkpoint_dir="~/ckpt", callbacks=[PowerCut()], device="cpu"
    )
    with pytest.raises(RuntimeError, match="power cut"):
        clf.fit(X[:50], y[:50])
    assert len(list((home / "ckpt").glob("checkpoint-*.pt"))) == 1
    clf.set_params(callbacks=None).fit(X[:50], y[:50])  # resumed, then removed
    assert list((home / "ckpt").glob("checkpoint-*.pt")) == []
    sktransfer.save(clf, "~/model.skt")
    assert sktransfer.load("~/model.skt").predict(X[:5]).tolist() == (
        clf.predict(X[:5]).tolist()
    )
    assert list(work.iterdir()) == []  # no folder named "~" here


@pytest.fixture(params=["float64", "meta"])
def other_defaults(request):
    """torch's defaults for new tensors changed: float64 (as GPyTorch and
    BoTorch advise), or a device other than the CPU ("meta" stands for a GPU,
    whose tensors would not meet the CPU's either)."""
    if request.param == "float64":
        torch.set_default_dtype(torch.float64)
    else:
        torch.set_default_device("meta")
    yield request.param
    torch.set_default_dtype(torch.float32)
    torch.set_default_device(None)


def _fits_and_outputs(digits, glove, tmp_path):
    """Each torch-running estimator fitted and used, as plain numbers."""
    import sktransfer
    from sktransfer import (
        EmbeddingVectorizer,
        FineTunedCNNClassifier,
        PretrainedEmbeddingClassifier,
        PretrainedFeatureExtractor,
    )

    X, y = digits
    docs = ["the goalie saved the puck", "the rocket reached orbit"] * 4
    labels = ["sport", "space"] * 4
    outputs = {}
    for transfer in ("fine_tune", "feature_extraction"):
        cnn = FineTunedCNNClassifier(
            transfer=transfer, max_epochs=2, device="cpu", random_state=0
        ).fit(X[:100], y[:100])
        outputs[transfer] = cnn.predict_proba(X[100:120])
    sktransfer.save(cnn, tmp_path / "cnn.skt")
    outputs["loaded"] = sktransfer.load(tmp_path / "cnn.skt").predict_proba(X[:5])
    outputs["extractor"] = (
        PretrainedFeatureExtractor(device="cpu", random_state=0)
        .fit(X[:20])
        .transform(X[:5])
    )
    for encoder in ("mean", "cnn"):
        text = PretrainedEmbeddingClassifier(
            glove,
            encoder=encoder,
            transfer="fine_tune",
            max_epochs=2,
            device="cpu",
            random_state=0,
        ).fit(docs, labels)
        outputs[encoder] = text.predict_proba(docs[:2])
    outputs["vectorizer"] = EmbeddingVectorizer(glove).fit(docs).transform(docs[:2])
    return outputs


def test_torch_defaults_of_the_caller_change_nothing(
    digits, glove, tmp_path, other_defaults
):
    # every fit failed with torch's dtype or device errors; now each runs as
    # under torch's own defaults, and the caller's stay as they were
    changed = _fits_and_outputs(digits, glove, tmp_path)
    if other_defaults == "float64":
        assert torch.get_default_dtype() is torch.float64
        torch.set_default_dtype(torch.float32)
    else:
        assert torch.get_default_device() == torch.device("meta")
        torch.set_default_device(None)
    assert torch.empty(1).dtype is torch.float32 and torch.empty(1).device.type == "cpu"
    plain = _fits_and_outputs(digits, glove, tmp_path)
    assert changed.keys() == plain.keys()
    for name, output in changed.items():
        np.testing.assert_array_equal(output, plain[name], err_msg=name)


def test_a_fit_after_torch_2_3s_default_device_reset(digits, monkeypatch):
    # torch 2.3's get_default_device raises AttributeError once
    # set_default_device(None) has run in the thread (the reset above): every
    # fit after it failed there (a suite run on torch 2.3.1: 106 tests)
    from sktransfer import FineTunedCNNClassifier

    def after_a_reset():
        raise AttributeError("'NoneType' object has no attribute 'device'")

    monkeypatch.setattr(torch, "get_default_device", after_a_reset)
    X, y = digits
    clf = FineTunedCNNClassifier(max_epochs=1, device="cpu", random_state=0)
    assert clf.fit(X[:50], y[:50]).predict(X[:5]).shape == (5,)


def test_fits_in_threads_share_the_float32_default(digits, glove):
    # torch's default dtype is one for the process: a fit that ended restored
    # float64 while another, in a thread beside it, still built its model
    from concurrent.futures import ThreadPoolExecutor

    from sktransfer import FineTunedCNNClassifier, PretrainedEmbeddingClassifier

    X, y = digits
    docs = ["the goalie saved the puck", "the rocket reached orbit"] * 20
    labels = ["sport", "space"] * 20

    def short(_):  # many fits that end while the long one runs
        return FineTunedCNNClassifier(max_epochs=1, device="cpu").fit(X[:40], y[:40])

    def long(_):
        return [
            PretrainedEmbeddingClassifier(
                glove,
                encoder=encoder,
                transfer="fine_tune",
                max_epochs=1,
                device="cpu",
            ).fit(docs, labels)
            for encoder in ("mean", "cnn") * 10
        ]

    torch.set_default_dtype(torch.float64)
    try:
        with ThreadPoolExecutor(2) as pool:
            longs = pool.submit(long, None)
            shorts = list(pool.map(short, range(20)))
            fitted = longs.result()
        assert torch.get_default_dtype() is torch.float64
    finally:
        torch.set_default_dtype(torch.float32)
    assert len(shorts) == 20 and len(fitted) == 20
    assert all(np.isfinite(m.predict_proba(docs[:2])).all() for m in fitted)
