"""python -m pyprune.bench.compression runs for minutes: each part shows progress on stderr
(bars that move with every decoder or batch), its figures go to stdout, and --help answers
without running anything."""

import re
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from pyprune.bench import compression  # noqa: E402


def bar_totals(err, desc, unit):
    return {int(m.group(1)) for m in re.finditer(rf"{re.escape(desc)}:.*?\| *\d+/(\d+) \[[^\]]*(?:{unit}/s|s/{unit})", err)}


def test_decoders_are_timed_with_a_bar_per_decoder(capsys):
    rows = compression.decode_throughput(n=20_000, rounds=1, progress=True)
    err = capsys.readouterr().err
    assert bar_totals(err, "Huffman decoders", "decoder") == {len(rows)}
    compression.decode_throughput(n=20_000, rounds=1)
    assert capsys.readouterr().err == ""  # progress is asked for, not imposed


def test_lenet_trainings_show_a_bar_moving_per_batch(capsys):
    result = compression.lenet_digits(epochs=1, retrain_epochs=2, progress=True)
    assert result.packed_bytes < result.state_dict_bytes
    err = capsys.readouterr().err
    batches = -(-(3 * 1797 // 4) // 64)  # the training quarter of the digits, batches of 64
    assert bar_totals(err, "LeNet: train", "batch") == {batches}
    assert bar_totals(err, "LeNet: retrain pruned", "batch") == {2 * batches}
    assert bar_totals(err, "LeNet: fine-tune centroids", "batch") == {batches}


def test_help_describes_and_runs_nothing(tmp_path):
    result = subprocess.run([sys.executable, "-m", "pyprune.bench.compression", "--help"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "Huffman decode throughput" in result.stdout
    assert "progress goes to stderr" in result.stdout
