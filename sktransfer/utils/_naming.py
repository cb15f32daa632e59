"""Display names of things given without one."""

import collections


def distinct_names(names):
    """``names`` with the repeated ones numbered in order: ``["A", "B", "A"]``
    gives ``["A #1", "B", "A #2"]``.

    Examples
    --------
    >>> from sktransfer.utils._naming import distinct_names
    >>> distinct_names(["FunctionTransformer", "small_cnn", "FunctionTransformer"])
    ['FunctionTransformer #1', 'small_cnn', 'FunctionTransformer #2']
    """
    counts = collections.Counter(names)
    seen = collections.Counter()
    unique = []
    for name in names:
        seen[name] += 1
        unique.append(f"{name} #{seen[name]}" if counts[name] > 1 else name)
    return unique
