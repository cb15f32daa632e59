"""Every public object has a numpydoc docstring that matches its signature.

What ``numpydoc.validate`` checks, as scikit-learn's own docstring test does:
each parameter documented (and none that does not exist), with a type and a
description; a Returns section, described, where something is returned; an
Examples section on each public class and function (their methods are shown
in the class's). The public objects are the classes and functions in the
``__all__`` of sktransfer and of its public subpackages, with their public
methods and properties, inherited ones included; a method that overrides a
torch, skorch or scikit-learn one (``forward``, ``on_epoch_begin``,
``set_params``) keeps that library's documentation.
"""

import importlib
import inspect
import pkgutil

import numpy as np
import pytest

import sktransfer

validate = pytest.importorskip("numpydoc.validate").validate

IGNORED = {
    "GL01",  # where the text starts and ends: the house style's layout
    "GL02",
    "GL03",
    "GL07",
    "ES01",  # an extended summary: many need none
    "SA01",  # See Also sections: optional
    "SA02",
    "SA03",
    "SA04",
    "SS01",  # the summary's wording and length: prose, as the house writes it
    "SS02",
    "SS03",
    "SS05",
    "SS06",
    "PR08",  # descriptions' capitals and full stops
    "PR09",
    "RT02",  # the return value's name (numpydoc wants the type alone)
    "RT04",
    "RT05",
    "YD01",  # a context manager's Yields (documented where it has one)
}


def _is_ours(cls):
    return cls.__module__.split(".")[0] == "sktransfer"


def _public_objects():
    """``(import path, object, is a method)`` of every public object, once."""
    modules = ["sktransfer"] + [
        info.name
        for info in pkgutil.walk_packages(sktransfer.__path__, "sktransfer.")
        if not info.name.rpartition(".")[2].startswith("_")
    ]
    seen = set()
    for module in map(importlib.import_module, modules):
        assert hasattr(module, "__all__"), f"{module.__name__} says no public names"
        for name in module.__all__:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)) or id(obj) in seen:
                continue
            seen.add(id(obj))
            path = f"{obj.__module__}.{obj.__qualname__}"
            yield path, False
            if inspect.isclass(obj):
                yield from _public_members(obj, path, seen)


def _public_members(cls, path, seen):
    for name in sorted(dir(cls)):
        if name.startswith("_"):
            continue
        owner = next(c for c in cls.__mro__ if name in vars(c))
        member = vars(owner)[name]
        if not (inspect.isfunction(member) or isinstance(member, property)):
            continue
        if not _is_ours(owner) or id(member) in seen:
            continue
        overrides = any(
            name in vars(base)
            for base in cls.__mro__
            if base is not object and not _is_ours(base)
        )
        seen.add(id(member))
        if not overrides:
            yield f"{path}.{name}", True


PUBLIC = list(_public_objects())


def test_the_public_api_is_found():
    paths = {path for path, _ in PUBLIC}
    cnn = "sktransfer.vision._cnn_classifier.FineTunedCNNClassifier"
    assert {f"{cnn}.fit", f"{cnn}.predict_proba"} <= paths  # inherited, once
    assert "sktransfer.transfer._freeze.freeze" in paths
    assert "sktransfer.utils.estimator_checks.check_text_estimator" in paths
    assert f"{cnn}.set_params" not in paths  # scikit-learn's, overridden
    assert len(PUBLIC) > 100


@pytest.mark.parametrize(("path", "method"), PUBLIC, ids=[p for p, _ in PUBLIC])
def test_docstring(path, method):
    errors = [
        f"{code}: {message}"
        for code, message in validate(path)["errors"]
        if code not in IGNORED and not (method and code == "EX01")
    ]
    assert not errors, "\n".join(errors)


def _fitted_estimators():
    """One fitted instance of each public estimator, on a few real samples."""
    from gensim.models import KeyedVectors
    from sklearn.datasets import load_digits

    from sktransfer import (
        EmbeddingVectorizer,
        FineTunedCNNClassifier,
        PretrainedEmbeddingClassifier,
        PretrainedFeatureExtractor,
    )
    from sktransfer.transferability import SourceSelector
    from sktransfer.utils.estimator_checks import default_data

    images, digits = load_digits(return_X_y=True)
    images, digits = images[:60], digits[:60]
    texts, topics = default_data()
    words = sorted({word for text in texts for word in text.split()})
    vectors = KeyedVectors(vector_size=4)
    vectors.add_vectors(words, np.random.RandomState(0).randn(len(words), 4))
    fast = {"max_epochs": 1, "random_state": 0, "device": "cpu"}
    fitted = [
        FineTunedCNNClassifier(**fast).fit(images, digits),
        PretrainedFeatureExtractor(device="cpu").fit(images),
        PretrainedEmbeddingClassifier(vectors, **fast).fit(texts, topics),
        EmbeddingVectorizer(vectors, weighting="sif").fit(texts),
        SourceSelector(FineTunedCNNClassifier(**fast), ["small_cnn"]).fit(
            images, digits
        ),
    ]
    try:
        import transformers  # noqa: F401
    except ImportError:
        return fitted
    from sktransfer import (
        FineTunedTransformerClassifier,
        TransformerVectorizer,
        ZeroShotClassifier,
    )

    return fitted + [
        FineTunedTransformerClassifier(max_length=16, **fast).fit(texts, topics),
        TransformerVectorizer(device="cpu").fit(texts),
        ZeroShotClassifier().fit(None, sorted(set(topics))),
    ]


def test_every_fitted_attribute_is_documented_and_every_documented_one_set():
    """The Attributes section of each estimator names what ``fit`` sets
    (public names ending in ``_``), properties included, and nothing else."""
    from numpydoc.docscrape import ClassDoc

    problems = []
    for estimator in _fitted_estimators():
        cls = type(estimator)
        documented = {
            name.strip()
            for attribute in ClassDoc(cls)["Attributes"]
            for name in attribute.name.split(",")
        }
        set_by_fit = {
            name
            for name in dir(estimator)
            if name.endswith("_")
            and not name.startswith("_")
            and hasattr(estimator, name)
        }
        for name in sorted(set_by_fit - documented):
            problems.append(f"{cls.__name__}.{name} is not documented")
        for name in sorted(documented - set_by_fit):
            problems.append(f"{cls.__name__}.{name} is documented but not set")
    assert not problems, "\n".join(problems)
