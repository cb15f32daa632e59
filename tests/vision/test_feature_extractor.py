import copy

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sktransfer import FineTunedCNNClassifier, PretrainedFeatureExtractor
from sktransfer.utils._testing import runs_in_a_head_search
from sktransfer.vision import Backbone, SmallCNN


def test_features_of_a_fitted_source_feed_a_linear_probe(digits_split, source_model):
    extractor = PretrainedFeatureExtractor(backbone=source_model, device="cpu")
    features = extractor.fit_transform(digits_split["X_pool"])
    assert features.shape == (len(digits_split["X_pool"]), 64)
    assert features.dtype == np.float32
    assert extractor.n_features_out_ == 64
    names = extractor.get_feature_names_out()
    assert names[0] == "pretrainedfeatureextractor0" and len(names) == 64

    probe = make_pipeline(
        PretrainedFeatureExtractor(backbone=source_model, device="cpu"),
        LogisticRegression(max_iter=2000),
    ).fit(digits_split["X_pool"], digits_split["y_pool"])
    assert probe.score(digits_split["X_test"], digits_split["y_test"]) > 0.85


def test_random_features_are_small_and_need_scaling_for_a_linear_probe(digits):
    # what the docstring says: a randomly initialised SmallCNN gives features
    # near 0.005, where LogisticRegression's penalty dominates; scaled, the
    # random-features baseline is as strong as it really is
    from sklearn.model_selection import cross_val_score
    from sklearn.preprocessing import StandardScaler

    X, y = digits[0][:300], digits[1][:300]
    random = PretrainedFeatureExtractor("small_cnn", random_state=0)
    assert np.median(random.fit_transform(X).std(axis=0)) < 0.05
    probe = LogisticRegression(max_iter=3000)
    plain = cross_val_score(make_pipeline(random, probe), X, y, cv=2).mean()
    scaled = make_pipeline(random, StandardScaler(), probe)
    assert cross_val_score(scaled, X, y, cv=2).mean() > plain + 0.2  # 0.84, 0.23


def test_features_equal_the_classifiers_backbone_output(digits, source_model):
    X, _ = digits
    features = (
        PretrainedFeatureExtractor(backbone=source_model, device="cpu")
        .fit(X)
        .transform(X[:20])
    )
    module = source_model.net_.module_.eval()
    with torch.no_grad():
        expected = module.features(
            torch.as_tensor(X[:20], dtype=torch.float32).view(-1, 1, 8, 8)
        )
    np.testing.assert_allclose(features, expected.numpy(), rtol=1e-5, atol=1e-6)


def test_user_module_is_copied_not_modified(digits):
    X, _ = digits
    module = SmallCNN(1)
    before = {k: v.clone() for k, v in module.state_dict().items()}
    extractor = PretrainedFeatureExtractor(backbone=module, device="cpu").fit(X[:10])
    assert extractor.net_.module_.backbone is not module
    for k, v in module.state_dict().items():
        assert torch.equal(v, before[k])


def test_user_module_that_cannot_take_the_images(digits):
    X, _ = digits
    module = torch.nn.Linear(3, 2)
    with pytest.raises(ValueError, match="cannot process images of shape"):
        PretrainedFeatureExtractor(backbone=module, device="cpu").fit(X[:10])


def test_state_dict_and_safetensors_files_round_trip(tmp_path, digits, source_model):
    X, _ = digits
    state = source_model.net_.module_.backbone.state_dict()
    expected = (
        PretrainedFeatureExtractor(backbone=source_model, device="cpu")
        .fit(X)
        .transform(X[:10])
    )

    torch_path = tmp_path / "backbone.pt"
    torch.save(state, torch_path)
    got = (
        PretrainedFeatureExtractor(
            backbone=("small_cnn", str(torch_path)), pixel_scale=16.0, device="cpu"
        )
        .fit(X)
        .transform(X[:10])
    )
    np.testing.assert_allclose(got, expected, rtol=1e-6)

    safetensors = pytest.importorskip("safetensors.torch")
    st_path = tmp_path / "backbone.safetensors"
    safetensors.save_file({k: v.contiguous() for k, v in state.items()}, st_path)
    got = (
        PretrainedFeatureExtractor(
            backbone=("small_cnn", str(st_path)), pixel_scale=16.0, device="cpu"
        )
        .fit(X)
        .transform(X[:10])
    )
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    # a state dict in memory (torch.load's result, or numpy arrays), as well
    for weights in (state, {k: v.numpy() for k, v in state.items()}):
        extractor = PretrainedFeatureExtractor(
            backbone=("small_cnn", weights), pixel_scale=16.0, device="cpu"
        ).fit(X)
        np.testing.assert_allclose(extractor.transform(X[:10]), expected, rtol=1e-6)
    assert extractor.source_path_ is None
    classifier = FineTunedCNNClassifier(
        ("small_cnn", state), transfer="feature_extraction", random_state=0
    ).fit(X[:100], digits[1][:100])
    assert classifier.score(X[100:400], digits[1][100:400]) > 0.5


@pytest.mark.parametrize(
    "saved",
    [
        lambda state: {"epoch": 9, "state_dict": state, "optimizer": {"lr": 0.1}},
        lambda state: {"model": state, "best_acc": 0.9},
        lambda state: {f"module.{k}": v for k, v in state.items()},  # DataParallel
        lambda state: {f"_orig_mod.{k}": v for k, v in state.items()},  # compile
        lambda state: {
            "model_state_dict": {f"module._orig_mod.{k}": v for k, v in state.items()}
        },
    ],
    ids=["checkpoint", "model-key", "data-parallel", "compiled", "all-three"],
)
def test_checkpoints_and_wrapped_modules_give_their_weights(
    tmp_path, digits, source_model, saved
):
    # training checkpoints keep the state dict beside the epoch; DataParallel
    # and torch.compile prefix every name: the same module's weights all the same
    X, _ = digits
    state = source_model.net_.module_.backbone.state_dict()
    expected = (
        PretrainedFeatureExtractor(backbone=("small_cnn", state), device="cpu")
        .fit(X)
        .transform(X[:10])
    )
    path = tmp_path / "checkpoint.pth"
    torch.save(saved(state), path)
    for weights in (str(path), saved(state)):
        extractor = PretrainedFeatureExtractor(
            backbone=("small_cnn", weights), device="cpu"
        ).fit(X)
        np.testing.assert_array_equal(extractor.transform(X[:10]), expected)


def test_a_module_whose_own_names_begin_like_a_wrapper_keeps_them():
    from sktransfer.vision._backbones import unwrapped_state_dict

    state = {"module.fc.bias": torch.zeros(2)}  # a submodule named "module"
    assert list(unwrapped_state_dict(state, "w", ["module.fc.bias"])) == [
        "module.fc.bias"
    ]
    assert list(unwrapped_state_dict(state, "w", ["fc.bias"])) == ["fc.bias"]


def test_a_checkpoint_of_several_state_dicts_is_asked_which(tmp_path, digits):
    X, _ = digits
    state = SmallCNN(1).state_dict()
    torch.save({"model": state, "state_dict": state}, tmp_path / "two.pt")
    with pytest.raises(ValueError, match=r"several state dicts \(state_dict, model\)"):
        PretrainedFeatureExtractor(
            backbone=("small_cnn", str(tmp_path / "two.pt"))
        ).fit(X[:5])
    torch.save({"epoch": 3, "weights": state}, tmp_path / "other.pt")
    with pytest.raises(TypeError, match="'epoch' holds a int. A training checkpoint"):
        PretrainedFeatureExtractor(
            backbone=("small_cnn", str(tmp_path / "other.pt"))
        ).fit(X[:5])


def test_a_state_dict_that_is_not_one_is_a_clear_error(digits, source_model):
    X, _ = digits
    state = dict(source_model.net_.module_.backbone.state_dict())
    with pytest.raises(TypeError, match="'block1.0.weight' holds a list"):
        bad = {**state, "block1.0.weight": [1.0]}
        PretrainedFeatureExtractor(backbone=("small_cnn", bad)).fit(X[:5])
    del state["block1.0.weight"]
    # counted and named, not torch's list of every name
    missing = (
        r"architecture 'small_cnn' .*: weights missing: 1 of 18 \(block1.0.weight\)\.$"
    )
    with pytest.raises(ValueError, match=missing):
        PretrainedFeatureExtractor(backbone=("small_cnn", state)).fit(X[:5])


class _Payload:
    def __reduce__(self):
        return (print, ("pwned",))


def test_weights_files_never_run_code(tmp_path, digits, capsys):
    X, _ = digits
    path = tmp_path / "evil.pt"
    torch.save({"weight": _Payload()}, path)
    with pytest.raises(ValueError, match="holds pickled objects besides tensors"):
        PretrainedFeatureExtractor(backbone=("small_cnn", str(path))).fit(X[:5])
    assert "pwned" not in capsys.readouterr().out
    torch.save(SmallCNN(1), path)  # a whole module: told how to pass it
    with pytest.raises(ValueError, match=r"backbone=torch.load\(path, weights_only"):
        PretrainedFeatureExtractor(backbone=("small_cnn", str(path))).fit(X[:5])


@pytest.mark.parametrize(
    "backbone, match",
    [
        (("small_cnn", "/no/such/file.pt"), "does not exist"),
        (("small_cnn",), r"\(architecture_name, weights\)"),
        (("resnet", "x.pt"), "Unknown backbone 'resnet'"),
        (  # the weights summarized, not their numbers
            ("small_cnn", SmallCNN(1).state_dict(), 1),
            r"got \('small_cnn', <state dict: 18 tensors, [\d,]+ values>, 1\)\.$",
        ),
    ],
)
def test_bad_weights_specs(digits, backbone, match):
    X, _ = digits
    with pytest.raises(ValueError, match=match):
        PretrainedFeatureExtractor(backbone=backbone).fit(X[:5])


def test_weights_that_do_not_fit_the_architecture(tmp_path, digits):
    X, _ = digits
    path = tmp_path / "other.pt"
    torch.save(SmallCNN(3).state_dict(), path)
    with pytest.raises(ValueError, match="does not fit architecture 'small_cnn'") as e:
        PretrainedFeatureExtractor(backbone=("small_cnn", str(path))).fit(X[:5])
    assert str(e.value).endswith(
        "with 1 input channel(s): weights of another shape: 1 (block1.0.weight "
        "(32, 3, 3, 3) where it has (32, 1, 3, 3))."
    )
    efficientnet = {f"net.layer{i}.weight": torch.zeros(2) for i in range(294)}
    with pytest.raises(ValueError, match="architecture") as e:
        PretrainedFeatureExtractor(backbone=("small_cnn", efficientnet)).fit(X[:5])
    assert len(str(e.value)) < 400 and str(e.value).endswith(
        "weights missing: 18 of 18 (block1.0.weight, block1.1.weight, "
        "block1.1.bias, ...); weights it does not have: 294 (net.layer0.weight, "
        "net.layer1.weight, net.layer2.weight, ...)."
    )


def test_a_path_given_as_a_name_says_what_to_do(tmp_path, digits):
    X, _ = digits
    path = tmp_path / "w.pt"
    torch.save({}, path)
    with pytest.raises(ValueError, match="pass the architecture with it"):
        FineTunedCNNClassifier(backbone=str(path)).fit(X[:20], np.arange(20) % 2)


def test_memory_runs_the_backbone_once_per_fold_in_a_search(digits, tmp_path):
    X, y = digits[0][:300], digits[1][:300]
    plain, runs = runs_in_a_head_search(
        PretrainedFeatureExtractor(random_state=0, device="cpu"), "_features", X, y
    )
    cached, cached_runs = runs_in_a_head_search(
        PretrainedFeatureExtractor(random_state=0, device="cpu", memory=str(tmp_path)),
        "_features",
        X,
        y,
    )
    # 3 grid points x 3 folds x (train + test) + the refit = 19 backbone runs;
    # with memory, once per distinct input: 3 train + 3 test folds + the refit
    assert (runs, cached_runs) == (19, 7)
    np.testing.assert_allclose(
        cached.cv_results_["mean_test_score"], plain.cv_results_["mean_test_score"]
    )


def test_memory_keys_on_the_weights(digits, tmp_path):
    X = digits[0][:50]
    a = PretrainedFeatureExtractor(random_state=0, device="cpu", memory=str(tmp_path))
    b = PretrainedFeatureExtractor(random_state=1, device="cpu", memory=str(tmp_path))
    fa, fb = a.fit(X).transform(X), b.fit(X).transform(X)
    assert not np.allclose(fa, fb)  # other weights: not served from the cache
    np.testing.assert_array_equal(a.transform(X), fa)
    # the same weights, other preprocessing: not served from the cache either
    for other in ({"pixel_scale": 8.0}, {"resize": 16}):
        c = clone(a).set_params(**other).fit(X)
        fresh = clone(c).set_params(memory=None).fit(X).transform(X)
        np.testing.assert_array_equal(c.transform(X), fresh)
        assert not np.allclose(fresh, fa)


def test_memory_keys_on_what_the_backbone_declares_and_its_layers(digits, tmp_path):
    """One module's weights, declared with another smallest size or input
    channels, or run by layers of another stride, computes other features:
    none is served another's from the cache."""
    X = digits[0][:50]
    torch.manual_seed(0)
    module = SmallCNN(3, (8, 8, 8))
    strided = copy.deepcopy(module)
    strided.block1[0].stride = (2, 2)  # the same weights, another architecture
    sources = [
        Backbone(module, 3, min_size=16),
        Backbone(module, 3, min_size=32),
        Backbone(strided, 3, min_size=32),
    ]
    features = []
    for source in sources:
        cached = PretrainedFeatureExtractor(source, memory=str(tmp_path)).fit(X)
        fresh = PretrainedFeatureExtractor(source).fit(X).transform(X)
        np.testing.assert_array_equal(cached.transform(X), fresh)
        features.append(fresh)
    assert not np.allclose(features[0], features[1])
    assert not np.allclose(features[1], features[2])


def test_verbose_shows_progress_on_many_images_with_the_same_features(
    digits, source_model, capsys
):
    X, y = digits
    quiet = PretrainedFeatureExtractor(source_model, device="cpu").fit(X)
    loud = PretrainedFeatureExtractor(source_model, device="cpu", verbose=1).fit(X)
    capsys.readouterr()
    np.testing.assert_array_equal(loud.transform(X), quiet.transform(X))
    err = capsys.readouterr().err
    assert "features" in err and "/29" in err  # 1,797 images in batches of 64
    loud.transform(X[:100])  # few images: no bar
    assert capsys.readouterr().err == ""
    # the classifier's cached frozen features report the same way
    FineTunedCNNClassifier(
        source_model, transfer="feature_extraction", verbose=1, max_epochs=1
    ).set_params(device="cpu").fit(X, y)
    assert "features" in capsys.readouterr().err
