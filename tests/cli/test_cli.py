"""The command line: every subcommand on good and bad input (one-line errors, exit code 2),
and the demo end to end in its quick mode, its table checked for consistency."""

import re

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from pyprune.cli import main  # noqa: E402

SUBCOMMANDS = ("demo", "prune", "pack", "inspect", "convert", "bench")
SMALL = ["pyprune.models:MobileNetV1", "--input-shape", "1,3,32,32"]


def run(capsys, *argv):
    """(exit code, stdout, stderr) of `pyprune argv`."""
    try:
        code = main(list(argv))
    except SystemExit as e:  # argparse: usage errors and --help
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(result, *fragments):
    code, _, err = result
    assert code == 2
    lines = err.strip().splitlines()
    assert "Traceback" not in err
    assert any(all(f in line for f in fragments) for line in lines), err


def test_help_lists_every_subcommand_each_with_an_example(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for sub in SUBCOMMANDS:
        assert sub in out
        code, sub_help, _ = run(capsys, sub, "--help")
        assert code == 0 and "example: pyprune " + sub in sub_help


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("demo")
    import contextlib
    import io

    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(["demo", "--quick", "--no-progress", "--out", str(out_dir)])
    return code, stdout.getvalue(), out_dir


def table_rows(text):
    rows = {}
    for line in text.splitlines():
        m = re.match(r"(original \(torch\)|pruned \(torch\)|pyprune dense|pyprune sparse)\s+(.*)", line)
        if m:
            params, macs, kb, smaller, acc, ms, speedup = m.group(2).split()
            rows[m.group(1)] = dict(params=int(params.replace(",", "")), macs=float(macs), kb=float(kb),
                                    accuracy=float(acc.rstrip("%")), ms=float(ms))
    return rows


def test_demo_runs_end_to_end_and_its_table_is_consistent(demo, capsys):
    code, out, out_dir = demo
    assert code == 0, out
    rows = table_rows(out)
    assert list(rows) == ["original (torch)", "pruned (torch)", "pyprune dense", "pyprune sparse"]
    original, pruned, dense, sparse = rows.values()
    assert pruned["params"] < original["params"] / 2 and pruned["macs"] < original["macs"] / 2
    assert sparse["kb"] == dense["kb"] < original["kb"] / 4  # the packed file
    assert original["accuracy"] > 80  # quick mode: a few epochs on real digits
    assert pruned["accuracy"] >= original["accuracy"] - 5
    # The packed file holds the pruned model exactly: the same accuracy on pyprune's kernels.
    assert dense["accuracy"] == pytest.approx(pruned["accuracy"], abs=0.3)
    assert sparse["accuracy"] == pytest.approx(pruned["accuracy"], abs=0.3)
    assert (out_dir / "sensitivity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, report, _ = run(capsys, "inspect", str(out_dir / "digits.pyprune"))
    assert code == 0 and "after Huffman coding" in report


def test_prune_pack_inspect_convert_on_good_input(tmp_path, capsys):
    pruned = tmp_path / "half.pyprune"
    code, out, _ = run(capsys, "prune", *SMALL, "--amount", "0.5", "--criterion", "fpgm", "-o", str(pruned))
    assert code == 0 and f"wrote {pruned}" in out and "total" in out
    import pyprune
    from pyprune.models import MobileNetV1

    model = pyprune.pack.load(pruned, MobileNetV1, fast=False)
    assert sum(p.numel() for p in model.parameters()) < sum(p.numel() for p in MobileNetV1().parameters()) / 2

    weights = tmp_path / "weights.pt"
    torch.save(MobileNetV1().state_dict(), weights)
    packed = tmp_path / "packed.pyprune"
    code, out, _ = run(capsys, "pack", *SMALL, "--weights", str(weights), "--conv-bits", "6", "-o", str(packed))
    assert code == 0 and "Deep Compression breakdown" in out
    code, out, _ = run(capsys, "inspect", str(packed))
    assert code == 0 and str(packed) in out
    code, out, _ = run(capsys, "convert", *SMALL, "--weights", str(packed), "--rounds", "2")
    assert code == 0 and "SeparableConv2d" in out and "speedup" in out


def test_bench_prints_ratios_and_json(capsys):
    import json

    code, out, _ = run(capsys, "bench", "--suite", "depthwise/mobilenet_v1", "--rounds", "1", "--json")
    assert code == 0
    rows = json.loads(out)["depthwise/mobilenet_v1/threads=1"]
    assert len(rows) == 13 and all(r["pyprune_ms"] > 0 and r["torch_ms"] > 0 for r in rows)
    code, out, _ = run(capsys, "bench", "--suite", "depthwise/mobilenet_v1", "--rounds", "1")
    assert code == 0 and re.search(r"^total .* \d+\.\d+x$", out, re.M)


def test_bad_input_gives_one_line_and_exit_code_2(tmp_path, capsys):
    corrupt = tmp_path / "corrupt.pyprune"
    corrupt.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    assert_user_error(run(capsys, "inspect", str(tmp_path / "missing.pyprune")), "no such file")
    assert_user_error(run(capsys, "inspect", str(corrupt)), "corrupt.pyprune")
    assert_user_error(run(capsys, "pack", *SMALL, "--weights", str(corrupt), "-o", str(tmp_path / "o")),
                      "neither a pyprune packed file")
    assert_user_error(run(capsys, "pack", *SMALL, "--weights", str(tmp_path / "nope.pt"), "-o", str(tmp_path / "o")),
                      "no such file")
    assert_user_error(run(capsys, "convert", "nosuchmodule:build"), "cannot import module 'nosuchmodule'")
    assert_user_error(run(capsys, "convert", "pyprune.models:NoSuchNet"), "has no attribute 'NoSuchNet'")
    assert_user_error(run(capsys, "convert", "pyprune.models"), "module:function")
    assert_user_error(run(capsys, "convert", "pyprune.models:__name__"), "not callable")
    assert_user_error(run(capsys, "prune", *SMALL, "--amount", "1.5", "-o", "x"), "[0, 1)")
    assert_user_error(run(capsys, "prune", *SMALL, "--ignore", "no.such.layer", "-o", str(tmp_path / "x")), "no.such.layer")
    assert_user_error(run(capsys, "convert", "pyprune.models:MobileNetV1", "--input-shape", "1,x"), "--input-shape")
    assert_user_error(run(capsys, "pack", *SMALL, "--conv-bits", "9", "-o", "x"), "1..8")
    assert_user_error(run(capsys, "bench", "--suite", "nope"), "invalid choice")
    assert_user_error(run(capsys, "prune", *SMALL), "-o/--output")
    mismatched = tmp_path / "v2.pt"
    from pyprune.models import MobileNetV2

    torch.save(MobileNetV2().state_dict(), mismatched)
    assert_user_error(run(capsys, "pack", *SMALL, "--weights", str(mismatched), "-o", str(tmp_path / "o")),
                      "does not fit the model")
