"""Named backbones: the registry users extend with register_backbone."""

import importlib
import warnings

import numpy as np
import pytest
import torch

from sktransfer import FineTunedCNNClassifier, PretrainedFeatureExtractor
from sktransfer.utils import seeded
from sktransfer.utils._testing import FAST_PROBE, FlatteningCNN
from sktransfer.vision import (
    BACKBONES,
    Backbone,
    SmallCNN,
    register_backbone,
    resolve_backbone,
)


@pytest.fixture
def registry(monkeypatch):
    """BACKBONES as it was after the test, whatever the test registered."""
    from sktransfer.vision import _backbones

    monkeypatch.setattr(_backbones, "BACKBONES", dict(BACKBONES))
    monkeypatch.setattr(_backbones, "_CARRIED", set())
    monkeypatch.setattr(_backbones, "_NOT_CARRIED", {})
    return _backbones.BACKBONES


def _widths(clf):
    convs = [
        m for m in clf.net_.module_.backbone.modules() if isinstance(m, torch.nn.Conv2d)
    ]
    return [conv.out_channels for conv in convs]


def test_a_registered_factory_builds_the_backbone_by_name(registry, digits, fast):
    X, y = digits[0][:100], digits[1][:100]
    calls = []

    def wide(channels, pretrained):
        calls.append((channels, pretrained))
        return Backbone(SmallCNN(channels, widths=(8, 16, 16)), channels, name="wide")

    register_backbone("wide", wide)
    assert registry["wide"] is wide
    clf = FineTunedCNNClassifier("wide", random_state=0, **fast).fit(X, y)
    assert _widths(clf) == [8, 16, 16] and calls == [(1, True)]
    assert clf.score(X, y) > 0.3  # trains; chance 0.1
    # a bare module is accepted too, declaring nothing about its input
    register_backbone(
        "bare", lambda channels, pretrained: SmallCNN(channels, (4, 4, 4))
    )
    assert _widths(FineTunedCNNClassifier("bare", **fast).fit(X, y)) == [4, 4, 4]


def test_a_backbone_given_directly_declares_its_input_as_a_registered_one(
    registry, digits, fast
):
    """backbone=Backbone(module, ...) needs no name: the declarations apply
    (grey 8x8 digits reach the module as normalised 3-channel 16x16 images),
    the module is copied, and the model is the one its registered name gives."""
    X, y = digits[0][:100], digits[1][:100]
    module = SmallCNN(3, widths=(8, 16, 16))
    before = {k: v.clone() for k, v in module.state_dict().items()}
    source = Backbone(module, 3, mean=(0.2,) * 3, std=(0.4,) * 3, min_size=16)
    direct = FineTunedCNNClassifier(source, random_state=0, **fast).fit(X, y)
    inputs = []
    copy = direct.net_.module_.backbone
    copy.register_forward_pre_hook(lambda m, args: inputs.append(args[0]))
    direct.extract_features(X[:4])
    assert inputs[0].shape == (4, 3, 16, 16)
    grey = torch.tensor(X[:4] / 16, dtype=torch.float32).view(4, 1, 8, 8)  # 0-16
    upsampled = torch.nn.functional.interpolate(grey, size=(16, 16), mode="bilinear")
    expected = ((upsampled - 0.2) / 0.4).expand(-1, 3, -1, -1)
    np.testing.assert_allclose(inputs[0].numpy(), expected.numpy(), atol=1e-6)
    for name, tensor in module.state_dict().items():
        assert torch.equal(tensor, before[name]), name
    register_backbone("grey16", lambda channels, pretrained: source)
    named = FineTunedCNNClassifier("grey16", random_state=0, **fast).fit(X, y)
    np.testing.assert_array_equal(direct.predict_proba(X), named.predict_proba(X))
    with pytest.raises(TypeError, match="module of a sktransfer.vision.Backbone"):
        FineTunedCNNClassifier(Backbone("small_cnn")).fit(X, y)


def test_a_declared_channels_last_layout_is_tried_before_training(digits, fast):
    """A module that .view()s its maps fails in the channels-last layout it
    declares: at the start of fit, saying what to declare, not in a batch."""
    X, y = digits[0][:60], digits[1][:60]

    viewing = Backbone(FlatteningCNN(), 1, channels_last=True)
    with pytest.raises(ValueError, match="FlatteningCNN declares channels_last=True"):
        FineTunedCNNClassifier(viewing).fit(X, y)
    for reshape, channels_last in ((False, False), (True, True)):
        source = Backbone(FlatteningCNN(reshape), 1, channels_last=channels_last)
        clf = FineTunedCNNClassifier(source, random_state=0, **fast).fit(X, y)
        assert clf.score(X, y) > 0.3  # trains; chance 0.1


def test_a_factory_that_keeps_its_module_never_has_it_trained(registry, digits, fast):
    """A factory may hand out one model it holds (a notebook's pretrained
    network): each fit trains a copy, so the model stays as it was and each
    fit starts from it, not from the last fit's weights."""
    X, y = digits[0][:100], digits[1][:100]
    with seeded(0):
        kept = SmallCNN(1, (4, 4, 4))
    before = {k: v.clone() for k, v in kept.state_dict().items()}
    register_backbone("kept", lambda channels, pretrained: Backbone(kept, 1))
    register_backbone("kept_bare", lambda channels, pretrained: kept)
    for name in ("kept", "kept_bare"):
        first, second = (
            FineTunedCNNClassifier(name, random_state=0, **fast).fit(X, y)
            for _ in range(2)
        )
        np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
        for key, tensor in kept.state_dict().items():
            assert torch.equal(tensor, before[key]), (name, key)


def test_a_registered_architecture_loads_a_weights_file(registry, tmp_path, digits):
    X, y = digits[0][:100], digits[1][:100]
    register_backbone(
        "wide", lambda c, pretrained: Backbone(SmallCNN(c, (8, 16, 16)), c, name="wide")
    )
    weights = SmallCNN(1, (8, 16, 16)).state_dict()
    torch.save(weights, tmp_path / "wide.pt")
    clf = FineTunedCNNClassifier(
        ("wide", str(tmp_path / "wide.pt")),
        transfer="feature_extraction",
        **FAST_PROBE,
    ).fit(X, y)
    trained = clf.net_.module_.backbone.state_dict()
    for name, tensor in weights.items():
        np.testing.assert_array_equal(trained[name].numpy(), tensor.numpy())


def test_bad_registrations_and_factories(registry, digits, fast):
    X, y = digits[0][:60], digits[1][:60]
    with pytest.raises(TypeError, match="takes a str and a callable"):
        register_backbone("x", "not callable")
    register_backbone("broken", lambda channels, pretrained: None)
    with pytest.raises(TypeError, match="'broken' returned NoneType; it must return"):
        FineTunedCNNClassifier("broken", **fast).fit(X, y)


@pytest.mark.parametrize(
    "shape, size", [((1, 8, 32), (16, 32)), ((1, 20, 20), None), ((1, 16, 9), (16, 16))]
)
def test_images_under_a_backbones_least_size_grow_on_the_short_sides(
    registry, shape, size
):
    """Each side under ``min_size`` is upsampled to it, the others kept."""
    register_backbone(
        "needs16",
        lambda channels, pretrained: Backbone(
            SmallCNN(channels, (4, 4, 4)), channels, min_size=16
        ),
    )
    X = np.random.RandomState(0).rand(3, *shape)
    extractor = PretrainedFeatureExtractor("needs16", device="cpu").fit(X)
    assert extractor.net_.module_.preprocess.size == size


def test_pixels_scale_by_the_largest_magnitude():
    X = -np.random.RandomState(0).rand(4, 1, 8, 8) * 16  # negative pixels
    X[0, 0, 0, 0] = 3.0
    scale = PretrainedFeatureExtractor(device="cpu").fit(X).pixel_scale_
    assert scale == pytest.approx(np.abs(X).max())


class _ImageNetShaped(torch.nn.Module):
    """The layout of torchvision's and timm's models: features, pooling, then
    a classifier of ImageNet's 1000 classes as the last child."""

    def __init__(self, classifier):
        super().__init__()
        self.features = SmallCNN(1, (4, 4, 8))  # digits: one channel
        self.avgpool = torch.nn.Sequential(
            torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()
        )
        self.fc = classifier

    def forward(self, x):
        return self.fc(self.avgpool(self.features(x)))


@pytest.mark.parametrize(
    "classifier",
    [
        torch.nn.Linear(8, 1000),  # ResNet's fc
        torch.nn.Sequential(  # MobileNetV3's classifier
            torch.nn.Linear(8, 16), torch.nn.Hardswish(), torch.nn.Linear(16, 1000)
        ),
    ],
)
def test_a_module_ending_in_an_imagenet_classifier_is_warned_about(
    digits, fast, classifier
):
    X, y = digits[0][:60], digits[1][:60]
    module = _ImageNetShaped(classifier)
    with pytest.warns(UserWarning, match=r"ends in 'fc', a classifier of 1000"):
        clf = FineTunedCNNClassifier(module, **fast).fit(X, y)
    # it still trains, on the 1000 scores, as the warning says
    assert clf.net_.module_.head[0].in_features == 1000
    module.fc = torch.nn.Identity()  # as the warning advises: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = FineTunedCNNClassifier(module, **fast).fit(X, y)
    assert clf.net_.module_.head[0].in_features == 8


def test_a_module_ending_in_another_linear_layer_is_not_warned_about(digits, fast):
    module = _ImageNetShaped(torch.nn.Linear(8, 32))  # a projection, say
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FineTunedCNNClassifier(module, **fast).fit(digits[0][:60], digits[1][:60])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_a_module_in_another_float_dtype_trains_in_float32(digits, fast, dtype):
    # it failed on the float32 images: "Input type (float) and bias type
    # (double) should be the same"; the source itself stays as it was
    X, y = digits[0][:200], digits[1][:200]
    with seeded(0):
        module = SmallCNN(in_channels=1)
    source = module.to(dtype)
    as_float32 = SmallCNN(in_channels=1)
    as_float32.load_state_dict({k: v.float() for k, v in source.state_dict().items()})
    for transfer in ("fine_tune", "feature_extraction"):
        settings = dict(fast, transfer=transfer, optimizer="adamw", random_state=0)
        model = FineTunedCNNClassifier(source, **settings).fit(X, y)
        reference = FineTunedCNNClassifier(as_float32, **settings)
        np.testing.assert_array_equal(
            model.predict_proba(X), reference.fit(X, y).predict_proba(X)
        )
        assert model.net_.module_.backbone.block1[0].weight.dtype == torch.float32
    assert next(source.parameters()).dtype == dtype
    features = PretrainedFeatureExtractor(source).fit_transform(X)
    assert features.dtype == np.float32 and np.isfinite(features).all()


def test_greyscale_images_for_a_bare_three_channel_module_say_what_to_do(
    registry, digits, fast
):
    X, y = digits[0][:60], digits[1][:60]  # one channel
    with seeded(0):
        module = SmallCNN(3, (4, 4, 4))
    with pytest.raises(
        ValueError, match=r"Backbone\(module, in_channels=3\), and greyscale"
    ):
        FineTunedCNNClassifier(module, **fast).fit(X, y)
    # as the message says: the channels are replicated; seeded: unseeded, this
    # 4-channel network once predicted a single class (0.1) in CI; seeds 0-29
    # score 0.23-0.67
    rgb = FineTunedCNNClassifier(Backbone(module, in_channels=3), random_state=0)
    rgb = rgb.set_params(**fast).fit(X, y)
    assert rgb.score(X, y) > 0.3  # measured 0.52; chance 0.1
    register_backbone("rgb", lambda channels, pretrained: Backbone(module, 3))
    named = FineTunedCNNClassifier("rgb", random_state=0, **fast).fit(X, y)
    np.testing.assert_array_equal(named.predict_proba(X), rgb.predict_proba(X))


def _tiny(widths):
    """A factory, local: pickled by value, as a notebook's would be."""

    def factory(channels, pretrained=True):
        return Backbone(SmallCNN(channels, widths=widths), channels, name="tiny")

    return factory


def test_a_registered_name_reaches_the_workers_of_a_parallel_search(
    registry, digits, fast
):
    from sklearn.model_selection import GridSearchCV, cross_validate

    X, y = digits[0][:200], digits[1][:200]
    register_backbone("tiny", _tiny((4, 8, 8)))
    model = FineTunedCNNClassifier("tiny", random_state=0, **fast)
    # loky's worker processes: their registry holds the built-in names only,
    # and they get the estimator by pickle, which carries the registration
    apart = cross_validate(model, X, y, cv=2, n_jobs=2, return_estimator=True)
    assert [_widths(clf) for clf in apart["estimator"]] == [[4, 8, 8]] * 2
    assert (apart["test_score"] > 0.3).all()  # 10 classes: chance 0.1
    # a grid over names: the worker sets the name after unpickling
    search = GridSearchCV(
        FineTunedCNNClassifier(random_state=0, **fast),
        {"backbone": ["small_cnn", "tiny"]},
        cv=2,
        n_jobs=2,
        error_score="raise",
    ).fit(X, y)
    assert (search.cv_results_["mean_test_score"] > 0.3).all()


def test_a_pickle_carries_the_registration_and_never_overrides_one(registry):
    import pickle
    import threading

    from sktransfer import PretrainedEmbeddingClassifier
    from sktransfer.transferability import SourceSelector

    key = "_sktransfer_registered_backbones"
    assert key not in FineTunedCNNClassifier().__getstate__()  # built-in only
    register_backbone("tiny", _tiny((4, 8, 8)))
    assert key not in PretrainedEmbeddingClassifier().__getstate__()  # text
    selector = SourceSelector(FineTunedCNNClassifier(), ["small_cnn"])
    for carrier in (FineTunedCNNClassifier(), selector):  # names it or not
        blob = pickle.dumps(carrier)  # the standard pickler: the factory is bytes
        del registry["tiny"]
        pickle.loads(blob)  # as in a fresh worker process
        assert _widths_of(registry["tiny"]) == [4, 8, 8]
    own = _tiny((2, 2, 2))
    register_backbone("tiny", own)  # this process's own: kept
    pickle.loads(blob)
    assert registry["tiny"] is own
    lock = threading.Lock()

    def locked(channels, pretrained=True):
        with lock:
            return SmallCNN(channels)

    register_backbone("locked", locked)
    blob = pickle.dumps(FineTunedCNNClassifier("locked"))  # pickles all the same
    del registry["locked"]
    model = pickle.loads(blob)
    with pytest.raises(ValueError, match=r"'locked' was registered in the process"):
        model.fit(np.zeros((4, 64)), [0, 1, 0, 1])


def _widths_of(factory):
    built = factory(1, True)
    return [m.out_channels for m in built.module.modules() if hasattr(m, "groups")]


def test_the_backbones_fit_does_not_try_in_channels_last_are_the_built_in_ones():
    from sktransfer.vision._base import _TESTED_CHANNELS_LAST

    for module, name in _TESTED_CHANNELS_LAST:
        assert hasattr(importlib.import_module(module), name), (module, name)
    assert resolve_backbone("small_cnn", 1).channels_last
