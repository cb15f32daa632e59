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
