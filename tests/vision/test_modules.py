"""The image modules: preprocessing, pooling, and channels-last training and
prediction of the built-in backbones on a CPU."""

import copy

import numpy as np
import torch

from sktransfer import FineTunedCNNClassifier
from sktransfer.utils._testing import FlatteningCNN
from sktransfer.vision._modules import ImagePreprocess, pool_features


def _convs(module):
    return [m for m in module.modules() if isinstance(m, torch.nn.Conv2d)]


def _in_layout(module, memory_format):
    return all(
        c.weight.is_contiguous(memory_format=memory_format) for c in _convs(module)
    )


def test_small_cnn_trains_channels_last_with_the_same_predictions(digits, fast):
    X, y = digits[0][:300], digits[1][:300]
    # seeded: unseeded, the score hangs on the tests run before (0.85 once)
    clf = FineTunedCNNClassifier(random_state=0, **fast).fit(X, y)
    module = clf.net_.module_
    assert module.channels_last and _in_layout(module.backbone, torch.channels_last)
    # the same weights laid out as usual (NCHW) give the same probabilities
    plain = copy.deepcopy(module)
    plain.channels_last = False
    plain.backbone.to(memory_format=torch.contiguous_format)
    assert _in_layout(plain.backbone, torch.contiguous_format)
    images = torch.from_numpy(X.reshape(-1, 1, 8, 8).astype(np.float32))
    with torch.no_grad():
        expected = torch.softmax(plain.eval()(images), dim=1).numpy()
    np.testing.assert_allclose(clf.predict_proba(X), expected, rtol=1e-4, atol=1e-6)
    assert clf.score(X, y) > 0.9
    # a fitted model as the source passes the layout on
    target = FineTunedCNNClassifier(clf, **fast).fit(X, y)
    assert target.net_.module_.channels_last


def test_an_optimizer_class_keeps_the_weights_in_the_usual_layout(digits):
    # torch's LBFGS views each gradient flat, which fails on channels-last ones
    X, y = digits[0][:200], digits[1][:200]
    clf = FineTunedCNNClassifier(
        optimizer=torch.optim.LBFGS, max_epochs=2, random_state=0, device="cpu"
    ).fit(X, y)
    module = clf.net_.module_
    assert module.channels_last  # the input still is, which is safe
    assert _in_layout(module.backbone, torch.contiguous_format)
    assert np.isfinite(clf.net_.history[-1, "train_loss"])


def test_a_module_of_unknown_code_keeps_the_usual_layout(digits, fast):
    X, y = digits[0][:200], digits[1][:200]
    clf = FineTunedCNNClassifier(FlatteningCNN(), **fast).fit(X, y)
    module = clf.net_.module_
    assert not module.channels_last
    assert _in_layout(module.backbone, torch.contiguous_format)
    assert clf.score(X, y) > 0.5


def test_a_model_pickled_before_the_layout_existed_predicts_as_usual(digits, fast):
    X, y = digits[0][:200], digits[1][:200]
    clf = FineTunedCNNClassifier(**fast).fit(X, y)
    proba = clf.predict_proba(X)
    del clf.net_.module_.__dict__["channels_last"]  # as an older pickle has it
    assert not clf.net_.module_.channels_last
    np.testing.assert_allclose(clf.predict_proba(X), proba, rtol=1e-4, atol=1e-6)


def test_colour_images_reach_the_backbone_channels_last(digits, fast):
    # one-channel images are laid out either way; three channels are not
    X, y = digits[0][:200], digits[1][:200]
    colour = np.repeat(X.reshape(-1, 1, 8, 8), 3, axis=1)
    layouts = []

    def record(module, args):
        layouts.append(args[0].is_contiguous(memory_format=torch.channels_last))

    clf = FineTunedCNNClassifier(**{**fast, "max_epochs": 1}).fit(colour, y)
    clf.net_.module_.backbone.register_forward_pre_hook(record)
    clf.predict(colour)
    assert layouts and all(layouts)


def test_image_preprocess_scales_resizes_replicates_and_normalizes():
    # a 1x2 grey ramp 0, 255 -> [0, 1] -> bilinear to 1x4 (align_corners=False:
    # 0, 0.25, 0.75, 1) -> 3 channels -> (x - mean) / std per channel
    preprocess = ImagePreprocess(
        scale=1 / 255,
        out_channels=3,
        size=(1, 4),
        mean=(0.5, 0.0, 0.25),
        std=(0.5, 1.0, 0.25),
    )
    out = preprocess(torch.tensor([[[[0, 255]]]], dtype=torch.uint8))
    ramp = torch.tensor([0.0, 0.25, 0.75, 1.0])
    expected = torch.stack([(ramp - 0.5) / 0.5, ramp, (ramp - 0.25) / 0.25])
    assert out.shape == (1, 3, 1, 4)
    torch.testing.assert_close(out[0, :, 0], expected)


def test_feature_maps_are_average_pooled():
    maps = torch.arange(8.0).view(1, 2, 2, 2)  # channel 0: 0-3, channel 1: 4-7
    torch.testing.assert_close(pool_features(maps), torch.tensor([[1.5, 5.5]]))
    flat = torch.arange(6.0).view(1, 2, 3)
    torch.testing.assert_close(pool_features(flat), flat.view(1, 6))
