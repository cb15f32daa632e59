"""Warnings that point at the user's line, however deep the call."""

import sys

_LIBRARIES = ("sktransfer", "sklearn", "skorch")


def caller_stacklevel():
    """The ``stacklevel`` for a ``warnings.warn`` in the function calling
    this one that points at the first caller outside sktransfer, scikit-learn
    and skorch: the line of the user's code (``predict``, ``transform``
    through scikit-learn's ``set_output`` wrapper, a ``Pipeline``...) whatever
    the number of calls in between.
    """
    frame, level = sys._getframe(2), 2
    while frame is not None and _in_libraries(frame.f_globals.get("__name__", "")):
        frame, level = frame.f_back, level + 1
    return level


def _in_libraries(module):
    """Whether ``module`` belongs to one of the libraries (not, say, a user's
    own ``sktransfer_experiments``)."""
    return module.split(".", 1)[0] in _LIBRARIES
