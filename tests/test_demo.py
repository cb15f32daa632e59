import subprocess
import sys

import pytest

from sktransfer._demo import digits_gain_curve, main, newsgroups_gain_curve


def test_digits_curve_shows_what_transfer_buys():
    lines = []
    curve = digits_gain_curve(n_per_class=(1, None), n_repeats=1, log=lines.append)
    assert curve.sizes == [1, None]
    assert curve.models == ["feature_extraction", "fine_tune", "structure"]
    assert len(lines) == 1 + 2 * 3 and lines[-1].startswith("[6/6]")
    assert curve._by(None, "fine_tune")["mean"] > 0.95
    assert curve._by(1, "fine_tune")["mean"] > curve._by(1, "structure")["mean"]


def test_text_curve():
    try:
        curve = newsgroups_gain_curve(n_per_class=(3,))
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    assert curve.models == ["frozen", "fine_tune", "structure", "tfidf_logreg"]
    frozen, scratch = curve._by(3, "frozen")["mean"], curve._by(3, "structure")["mean"]
    assert frozen > scratch + 0.05  # pretrained vectors pay with 3 labels per class


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
