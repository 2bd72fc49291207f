"""pyprune.progress: tqdm bars on stderr that count what they are told and vanish when done."""

import pytest

pytest.importorskip("tqdm")

from pyprune.progress import progress_bar  # noqa: E402


def test_a_bar_counts_on_stderr_and_is_cleared(capsys):
    with progress_bar(3, "work", "item") as bar:
        for _ in range(3):
            bar.update()
    err = capsys.readouterr().err
    assert "work:" in err and "0/3" in err and "item" in err
    assert err.rstrip(" ").endswith("\r")  # cleared: the line is free for what follows


def test_a_hidden_bar_prints_nothing(capsys):
    with progress_bar(3, "work", "item", enabled=False) as bar:
        bar.update()
    assert capsys.readouterr().err == ""
