from sktransfer.utils._warnings import caller_stacklevel


def _module(name, source, **names):
    """Functions defined by ``source`` as if in the module ``name``."""
    namespace = {"__name__": name, **names}
    exec(source, namespace)
    return namespace


def test_the_stacklevel_points_at_the_first_caller_outside_the_libraries():
    library = _module(
        "sktransfer.somewhere",
        "def warns():\n    return caller_stacklevel()\n"
        "def calls():\n    return warns()\n",
        caller_stacklevel=caller_stacklevel,
    )
    # warns (1) <- calls, sktransfer's (skipped) <- this test (3)
    assert library["calls"]() == 3
    assert library["warns"]() == 2
    # a user's module whose name merely starts like a library's is the user's
    user = _module(
        "sktransfer_experiments.run",
        "def run():\n    return warns()\n",
        warns=library["warns"],
    )
    assert user["run"]() == 2
    sklearn_like = _module(
        "sklearn.pipeline", "def run():\n    return warns()\n", warns=library["warns"]
    )
    assert sklearn_like["run"]() == 3


def test_warnings_deep_in_the_package_name_the_callers_line(digits, monkeypatch):
    # fixed stack levels named a line of sktransfer when the call went
    # through more of it (the curve's subsamples, a backbone's resolution)
    import warnings

    import numpy as np
    import torch

    from sktransfer import FineTunedCNNClassifier
    from sktransfer.model_selection import stratified_subsample, transfer_gain_curve

    X, y = digits
    X, y = X[:100], np.r_[y[:99] % 3, [7]]  # class 7 has one sample
    classifier = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 1000))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        FineTunedCNNClassifier(classifier, max_epochs=1, device="cpu").fit(X, y)
        stratified_subsample(y, 5, 0)
        transfer_gain_curve(
            FineTunedCNNClassifier(max_epochs=1, device="cpu"),
            X,
            y,
            X,
            y,
            n_per_class=2,
            transfers="fine_tune",
            n_repeats=1,
        )
    texts = [str(w.message) for w in caught]
    assert sum("a classifier of 1000 outputs" in t for t in texts) == 1
    assert sum("these classes have fewer samples" in t for t in texts) == 2
    assert {w.filename for w in caught} == {__file__}, [
        (w.filename, str(w.message)[:60]) for w in caught
    ]
