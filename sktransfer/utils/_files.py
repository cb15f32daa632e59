"""Paths the estimators read: clear errors for a missing file or a folder."""

import os


def check_file(path, what, suffixes=()):
    """Raise a ValueError unless ``path`` (a str) is an existing file.

    ``what`` names the file in the message ("word vectors file"). For a
    folder, the message lists up to three files in it that end in one of
    ``suffixes`` (the ones the caller reads), in case the user meant one.

    Examples
    --------
    >>> from sktransfer.utils._files import check_file
    >>> check_file("/no/such/vectors.txt", "word vectors file")
    Traceback (most recent call last):
    ...
    ValueError: word vectors file '/no/such/vectors.txt' does not exist.
    """
    if os.path.isfile(path):
        return
    if not os.path.isdir(path):
        raise ValueError(f"{what} {path!r} does not exist.")
    inside = sorted(
        entry.name
        for entry in os.scandir(path)
        if entry.is_file() and suffixes and entry.name.endswith(suffixes)
    )
    hint = f"; it holds {', '.join(inside[:3])}" if inside else ""
    raise ValueError(f"{what} {path!r} is a folder, not a file{hint}.")
