"""Paths the estimators read and write: clear errors for a missing file or a
folder; files written whole or not at all."""

import contextlib
import os
import uuid


def user_path(path):
    """``path`` (str or path-like) as a str, a leading ``~`` expanded to the
    home folder as shells and scikit-learn's ``data_home`` do (otherwise
    ``"~/ckpt"`` is a folder named ``~`` in the working directory).

    Examples
    --------
    >>> import os
    >>> from sktransfer.utils._files import user_path
    >>> home = os.path.expanduser("~")
    >>> user_path("~/vectors.txt") == os.path.join(home, "vectors.txt")
    True
    """
    return os.path.expanduser(os.fspath(path))


def absolute_source_path(source):
    """The absolute path of ``source`` when it is a relative path to a file
    or folder that exists now (a str, or a ``pathlib.Path`` for a path-like);
    None for anything else (a name, an absolute path, an object).

    Examples
    --------
    >>> import os
    >>> from sktransfer.utils._files import absolute_source_path
    >>> absolute_source_path(".") == os.getcwd()
    True
    >>> absolute_source_path("glove-wiki-gigaword-50") is None
    True
    """
    if not isinstance(source, (str, os.PathLike)):
        return None
    path = user_path(source)
    if os.path.isabs(path) or not os.path.exists(path):
        return None
    absolute = os.path.abspath(path)
    return absolute if isinstance(source, str) else type(source)(absolute)


def path_stamp(path):
    """What the file or folder at ``path`` holds now, cheaply: its absolute
    path with its size and modification time, or for a folder the name, size
    and modification time of each file in it; ``()`` where there is none (a
    name). Written again, it stamps otherwise."""
    path = user_path(path)
    if os.path.isfile(path):
        stat = os.stat(path)
        return (os.path.abspath(path), stat.st_size, stat.st_mtime_ns)
    if not os.path.isdir(path):
        return ()
    with os.scandir(path) as entries:  # closed if a file goes meanwhile
        files = sorted(
            (entry.name, stat.st_size, stat.st_mtime_ns)
            for entry in entries
            if entry.is_file()
            for stat in (entry.stat(),)
        )
    return (os.path.abspath(path), *files)


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
    with os.scandir(path) as entries:
        inside = sorted(
            entry.name
            for entry in entries
            if entry.is_file() and suffixes and entry.name.endswith(suffixes)
        )
    hint = f"; it holds {', '.join(inside[:3])}" if inside else ""
    raise ValueError(f"{what} {path!r} is a folder, not a file{hint}.")


@contextlib.contextmanager
def replaced_atomically(path):
    """A temporary path beside ``path`` to write; renamed to ``path`` when the
    block ends, removed if it raises.

    An interrupted write (an error, Ctrl-C, a full disk) leaves the file that
    was there, never a truncated one, and processes writing one path at once
    (each process of a distributed fit) leave one whole file.

    Examples
    --------
    >>> import os, pathlib, tempfile
    >>> from sktransfer.utils._files import replaced_atomically
    >>> path = os.path.join(tempfile.mkdtemp(), "model.skt")
    >>> with replaced_atomically(path) as tmp:
    ...     with open(tmp, "w") as f:
    ...         _ = f.write("whole")
    >>> pathlib.Path(path).read_text(), os.listdir(os.path.dirname(path))
    ('whole', ['model.skt'])
    """
    path = os.fspath(path)
    folder, name = os.path.split(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot write {path!r}: it is a folder.")
    if not os.path.isdir(folder or "."):
        raise FileNotFoundError(
            f"cannot write {path!r}: the folder {folder!r} does not exist."
        )
    tmp = os.path.join(folder, f".{name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
