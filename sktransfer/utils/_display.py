"""How sktransfer's objects print: estimators holding weights in memory,
and results that read as tables (in Jupyter too).

scikit-learn prints an estimator's parameters with ``repr``, and its pretty
printer takes each value's ``repr`` again at every level of nesting before it
cuts the text to about 700 characters. A source given as weights in memory,
``backbone=("efficientnet_lite0", state_dict)``, is 294 tensors: printing the
estimator formatted 2,761 tensors (7.5 s), showing it in Jupyter took 15 s,
and what was left to read was the first digits of the first tensor. Printed,
such weights read as a summary instead: ``<state dict: 294 tensors, 3,413,073
values>``. Gain curves and source rankings print as tables; Jupyter showed
their records instead, each ranked candidate with its whole ``repr``.
"""

import html
from collections.abc import Mapping

import torch
from sklearn.base import BaseEstimator


class _Summary:
    """A value that prints as the text given."""

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text


def summarized(value):
    """``value`` with its tensors replaced by summaries, for printing.

    A mapping of tensors reads ``<state dict: N tensors, M values>`` and a
    lone tensor ``<tensor of shape (...), dtype>``, in tuples, lists and
    dicts too; an estimator inside that prints summarized (a fitted source)
    is summarized as well. Anything else is returned as it is.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.utils._display import summarized
    >>> summarized(("small_cnn", torch.nn.Linear(3, 2).state_dict()))
    ('small_cnn', <state dict: 2 tensors, 8 values>)
    """
    if isinstance(value, torch.Tensor):
        return _Summary(f"<tensor of shape {tuple(value.shape)}, {value.dtype}>")
    if isinstance(value, Mapping) and value:
        if all(isinstance(item, torch.Tensor) for item in value.values()):
            count = sum(item.numel() for item in value.values())
            return _Summary(f"<state dict: {len(value)} tensors, {count:,} values>")
        shown = {key: summarized(item) for key, item in value.items()}
        unchanged = all(shown[key] is item for key, item in value.items())
        return value if unchanged else shown
    if isinstance(value, (tuple, list)):
        shown = [summarized(item) for item in value]
        if all(a is b for a, b in zip(shown, value, strict=True)):
            return value
        return tuple(shown) if isinstance(value, tuple) else shown
    if hasattr(value, "_for_display"):
        return value._for_display()
    return value


def summarized_copy(estimator, names):
    """A shallow copy of ``estimator`` whose parameters ``names`` print
    summarized (built by hand: ``copy.copy`` would go through
    ``__getstate__``)."""
    shown = object.__new__(type(estimator))
    shown.__dict__.update(estimator.__dict__)
    for name in names:
        if name in shown.__dict__:
            shown.__dict__[name] = summarized(shown.__dict__[name])
    return shown


def lay_out_nested(repr_function):
    """Have scikit-learn's pretty printer lay out an estimator whose class
    prints by ``repr_function`` as it lays out any other, nested in a
    ``Pipeline`` or a search: the printer picks its layout by the class's
    ``__repr__``, and prints an estimator it does not know on one line."""
    try:
        from sklearn.utils._pprint import _EstimatorPrettyPrinter
    except ImportError:  # pragma: no cover - a scikit-learn without it
        return
    layout = getattr(_EstimatorPrettyPrinter, "_pprint_estimator", None)
    table = getattr(_EstimatorPrettyPrinter, "_dispatch", {})
    if layout is None or BaseEstimator.__repr__ not in table:
        return  # pragma: no cover - a scikit-learn that lays out otherwise

    def lay_out(printer, estimator, *args):
        layout(printer, estimator._for_display(), *args)

    table[repr_function] = lay_out


def html_table(header, rows):
    """An HTML table of ``rows`` (each a sequence of cell texts) under the
    column names ``header``, every text escaped: how Jupyter shows a result
    that prints as a table.

    Examples
    --------
    >>> from sktransfer.utils._display import html_table
    >>> html_table(["model", "accuracy"], [["<b>", "0.9"]])
    '<table><thead><tr><th>model</th><th>accuracy</th></tr></thead><tbody><tr><td>&lt;b&gt;</td><td>0.9</td></tr></tbody></table>'
    """
    cells = "".join(f"<th>{html.escape(str(name))}</th>" for name in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"
