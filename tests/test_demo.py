import subprocess
import sys

from sktransfer._demo import digits_transfer, format_table


def test_demo_rows_show_what_transfer_buys():
    lines = []
    rows = digits_transfer(n_per_class=(1, "all"), random_state=0, log=lines.append)
    assert [row["n_per_class"] for row in rows] == [1, "all"]
    assert len(lines) == 1 + 2 * 3 and lines[-1].startswith("[6/6]")
    few, full = rows
    assert full["fine_tune"] > 0.95 and full["structure"] > 0.95
    assert few["fine_tune"] > few["structure"]  # one label per class
    table = format_table(rows)
    assert "feature_extraction" in table and "all" in table


def test_command_line_help():
    result = subprocess.run(
        [sys.executable, "-m", "sktransfer", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "demo" in result.stdout
    result = subprocess.run(
        [sys.executable, "-m", "sktransfer", "nonsense"], capture_output=True, text=True
    )
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_text_demo_rows():
    import pytest

    from sktransfer._demo import TEXT_MODES, newsgroups_transfer

    try:
        rows = newsgroups_transfer(n_per_class=(3,), random_state=0)
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    (row,) = rows
    assert set(TEXT_MODES) <= set(row)
    assert row["frozen"] > row["structure"] + 0.05  # transfer pays with 3 labels
    assert all(0.0 <= row[m] <= 1.0 for m in TEXT_MODES)
