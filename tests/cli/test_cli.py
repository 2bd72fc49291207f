"""The command line: every subcommand on good and bad input (one-line errors, exit code 2),
and the demo end to end in its quick mode, its table checked for consistency."""

import argparse
import os
import platform
import re
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from pyprune.cli import build_parser, main  # noqa: E402

SUBCOMMANDS = ("demo", "prune", "pack", "inspect", "convert", "run", "bench")
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
    """Exit code 2, nothing on stdout (no work before the mistake is found, or none shown), and
    one line on stderr holding every fragment and no internal name."""
    code, out, err = result
    assert code == 2
    lines = err.strip().splitlines()
    assert "Traceback" not in err
    assert any(all(f in line for f in fragments) for line in lines), err
    assert len(lines) == 1, err
    assert out == "", out
    assert "invalid _" not in err and "<function" not in err, err


def test_help_lists_every_subcommand_each_with_an_example(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for sub in SUBCOMMANDS:
        assert sub in out
        code, sub_help, _ = run(capsys, sub, "--help")
        assert code == 0 and "example: pyprune " + sub in sub_help


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The quick demo with its progress bars, stdout and stderr in one stream, as in a terminal."""
    out_dir = tmp_path_factory.mktemp("demo")
    import contextlib
    import io

    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        code = main(["demo", "--quick", "--out", str(out_dir)])
    return code, output.getvalue(), out_dir


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
    # The packed file runs on pyprune.runtime as the same weights in torch do, timed beside them.
    runtime = re.search(r"pyprune.runtime \(no torch\): logits within (\S+) of torch's on the test images; "
                        r"(\S+) ms per forward, torch (\S+) ms", out)
    assert runtime, out
    assert float(runtime.group(1)) < 1e-3 and float(runtime.group(2)) > 0 and float(runtime.group(3)) > 0
    assert (out_dir / "sensitivity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, report, _ = run(capsys, "inspect", str(out_dir / "digits.pyprune"))
    assert code == 0 and "after Huffman coding" in report


def stage_output(text):
    """{stage number: every line printed while it ran} (progress bars redraw with \\r, so
    each redraw is a line of its own)."""
    stages, current = {}, None
    for line in text.splitlines():
        m = re.match(r"(\d)/7 ", line)
        if m:
            current = int(m.group(1))
        if current is not None:
            stages.setdefault(current, []).append(line)
    return stages


def bar_counts(lines, desc, unit):
    """(done, total) of every redraw of the bar `desc` counting `unit`s."""
    pattern = re.compile(rf"{desc}:.*\| *(\d+)/(\d+) \[.*(?:{unit}/s|s/{unit})")
    return [tuple(map(int, m.groups())) for m in map(pattern.search, lines) if m]


def test_demo_shows_progress_in_every_stage_that_takes_long(demo):
    """Training and fine-tuning bars move with every batch, not every epoch or pruning step,
    and the other long stages have their own bars."""
    from pyprune.demo import DemoConfig
    from pyprune.demo.data import load_digits

    quick = DemoConfig.quick()
    batches = -(-len(load_digits(quick.image_size, seed=quick.seed).train_y) // 64)
    _, out, _ = demo
    stages = stage_output(out)
    assert sorted(stages) == [1, 2, 3, 4, 5, 6, 7]
    expected = {1: [("train", "batch", quick.epochs * batches)],
                2: [("sensitivity", "eval", None)],
                3: [("fine-tune", "batch", quick.finetune_epochs * batches)],
                4: [("prune", "step", quick.sparsity_steps), ("fine-tune", "batch", quick.finetune_epochs * batches)],
                5: [("fine-tune", "batch", quick.finetune_epochs * batches)],
                7: [("latency", "round", 5 * quick.timing_rounds)]}  # 4 stages and pyprune.runtime
    for stage, bars in expected.items():
        for desc, unit, total in bars:
            counts = bar_counts(stages[stage], desc, unit)
            assert counts, f"no {desc} bar in stage {stage}:\n" + "\n".join(stages[stage])
            assert total is None or {t for _, t in counts} == {total}
            if unit == "batch":  # seconds of work: redrawn as it moved (tqdm redraws at most 10 times a second)
                assert len({done for done, _ in counts}) >= 2
    # the bars are gone when their work is: the table is printed as it always was
    assert re.search(r"^stage +params +MMACs +file KB", out, re.M)


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
    assert "runs without torch" in out and f"pyprune run {packed} --input x.npy" in out
    np.save(tmp_path / "x.npy", np.ones((2, 3, 32, 32), np.float32))
    code, out, _ = run(capsys, "run", str(packed), "--input", str(tmp_path / "x.npy"))
    assert code == 0 and "shape (2, 1000)" in out
    code, out, _ = run(capsys, "inspect", str(packed))
    assert code == 0 and str(packed) in out and "runs any batch, other sizes where the operators allow them" in out
    code, out, _ = run(capsys, "convert", *SMALL, "--weights", str(packed), "--rounds", "2")
    assert code == 0 and "conv2d 3x3 depthwise" in out and "speedup" in out


def test_pack_says_why_a_file_needs_torch(tmp_path, capsys):
    code, out, _ = run(capsys, "pack", *SMALL, "--graph", "no", "-o", str(tmp_path / "a.pyprune"))
    assert code == 0 and "needs torch and the model's code" in out and "not asked for" in out
    assert "pyprune run" not in out
    detector = ["zoo:Detector", "--input-shape", "1,3,32,32"]  # data-dependent post-processing
    code, out, _ = run(capsys, "pack", *detector, "-o", str(tmp_path / "d.pyprune"))
    assert code == 0 and "needs torch and the model's code" in out
    assert_user_error(run(capsys, "pack", *detector, "--graph", "yes", "-o", str(tmp_path / "e.pyprune")),
                      "the model's graph cannot be stored")


def test_run_prints_integer_outputs_with_their_dtype_and_no_classes(tmp_path, capsys):
    labels = tmp_path / "labels.pyprune"
    code, out, _ = run(capsys, "pack", "small_nets:Labels", "--input-shape", "1,4,6,5", "-o", str(labels))
    assert code == 0 and "runs without torch" in out
    np.save(tmp_path / "x.npy", np.ones((2, 4, 6, 5), np.float32))
    code, out, _ = run(capsys, "run", str(labels), "--input", str(tmp_path / "x.npy"))
    assert code == 0 and "shape (2, 6, 5), int64" in out and "shape (2, 3), int32" in out and "top-" not in out


def test_run_takes_the_integers_a_model_takes(tmp_path, capsys):
    from small_nets import Pixels

    from pyprune import pack

    pixels = tmp_path / "pixels.pyprune"
    pack.save(Pixels().eval(), pixels, example_inputs=torch.zeros((1, 12, 10, 3), dtype=torch.uint8), graph=True)
    for dtype in (np.uint8, np.float32):  # the engine holds the integers as float32
        np.save(tmp_path / "x.npy", np.full((2, 12, 10, 3), 7, dtype))
        code, out, _ = run(capsys, "run", str(pixels), "--input", str(tmp_path / "x.npy"))
        assert code == 0 and "shape (2, 5)" in out
    np.save(tmp_path / "x.npy", np.full((2, 12, 10, 3), 7, np.int16))
    assert_user_error(run(capsys, "run", str(pixels), "--input", str(tmp_path / "x.npy")),
                      "must have dtype uint8, got int16")
    np.save(tmp_path / "x.npy", np.full((2, 12, 10, 3), 7, np.float64))
    assert_user_error(run(capsys, "run", str(pixels), "--input", str(tmp_path / "x.npy")), "holds float64 values")
    tokens = tmp_path / "tokens.pyprune"
    code, out, _ = run(capsys, "pack", "small_nets:Tokens", "--input-shape", "2,7", "--input-dtype", "int64",
                       "-o", str(tokens))
    assert code == 0 and "runs without torch" in out
    np.save(tmp_path / "ids.npy", np.arange(21, dtype=np.int64).reshape(3, 7))
    code, out, _ = run(capsys, "run", str(tokens), "--input", str(tmp_path / "ids.npy"))
    assert code == 0 and "shape (3, 4)" in out


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


MODEL = ["pyprune.models:MobileNetV1", "--input-shape", "1,3,32,32"]

# (arguments, fragments of the one line on stderr); {tmp} is a fresh folder holding a FIFO
# `fifo`, a folder `folder`, a file `file` and a model module `mymodels.py`.
MISTAKES = {
    # counts: zero, negative, not a number, too many
    "convert threads 0": (["convert", *MODEL, "--threads", "0"], ["argument --threads", "1..256", "got 0"]),
    "convert threads word": (["convert", *MODEL, "--threads", "two"], ["argument --threads", "whole number", "'two'"]),
    "convert threads huge": (["convert", *MODEL, "--threads", "100000"], ["argument --threads", "1..256"]),
    "convert rounds 0": (["convert", *MODEL, "--rounds", "0"], ["argument --rounds", "at least 1"]),
    "convert rounds negative": (["convert", *MODEL, "--rounds", "-3"], ["argument --rounds", "at least 1"]),
    "bench threads 0": (["bench", "--threads", "1", "0"], ["argument --threads", "got 0"]),
    "bench rounds 0": (["bench", "--rounds", "0"], ["argument --rounds", "at least 1"]),
    "bench rounds float": (["bench", "--rounds", "1.5"], ["argument --rounds", "whole number"]),
    "demo seed negative": (["demo", "--seed", "-1"], ["argument --seed", "got -1"]),
    "demo seed word": (["demo", "--seed", "x"], ["argument --seed", "whole number"]),
    "prune amount negative": (["prune", *MODEL, "--amount", "-0.1", "-o", "{tmp}/o"], ["argument --amount", "[0, 1)"]),
    "prune amount nan": (["prune", *MODEL, "--amount", "nan", "-o", "{tmp}/o"], ["argument --amount", "[0, 1)"]),
    "prune amount word": (["prune", *MODEL, "--amount", "half", "-o", "{tmp}/o"], ["argument --amount", "'half'"]),
    "pack bits word": (["pack", *MODEL, "--conv-bits", "x", "-o", "{tmp}/o"], ["argument --conv-bits"]),
    # shapes
    "shape 1 dim": (["convert", "pyprune.models:MobileNetV1", "--input-shape", "3"], ["--input-shape", "at least 2"]),
    "shape zero": (["convert", "pyprune.models:MobileNetV1", "--input-shape", "1,0,32,32"], ["--input-shape", "positive"]),
    "shape huge": (["convert", "pyprune.models:MobileNetV1", "--input-shape", "64,3,4096,4096"],
                   ["--input-shape", "3,221,225,472 elements"]),
    "shape wrong rank": (["convert", "pyprune.models:MobileNetV1", "--input-shape", "1,3"],
                         ["does not run on an input of shape 1,3", "RuntimeError"]),
    "shape wrong channels": (["prune", "pyprune.models:MobileNetV1", "--input-shape", "1,1,32,32", "-o", "{tmp}/o"],
                             ["does not run on an input of shape 1,1,32,32"]),
    # model specs
    "factory no colon": (["convert", "pyprune.models"], ["module:function"]),
    "factory empty function": (["convert", "pyprune.models:"], ["module:function"]),
    "factory empty module": (["prune", ":MobileNetV1", "-o", "{tmp}/o"], ["module:function"]),
    "factory missing module": (["convert", "nosuchmodule:build"], ["cannot import module 'nosuchmodule'"]),
    "factory module raises": (["convert", "mymodels_raising:build"], ["importing module 'mymodels_raising' failed",
                                                                     "RuntimeError: at import"]),
    "factory syntax error": (["convert", "mymodels_broken:build"], ["importing module 'mymodels_broken' failed",
                                                                   "SyntaxError"]),
    "factory raises": (["convert", "mymodels:boom"], ["mymodels:boom() failed: ValueError: bad width"]),
    "factory not a module": (["convert", "mymodels:number"], ["must return a torch.nn.Module, got int"]),
    "factory untraceable": (["prune", "mymodels:branching", "-o", "{tmp}/o"], ["torch.export can capture"]),
    # files given as inputs
    "weights missing": (["convert", *MODEL, "--weights", "{tmp}/nope.pt"], ["argument --weights", "no such file"]),
    "weights folder": (["convert", *MODEL, "--weights", "{tmp}/folder"], ["folder is a directory, not a file"]),
    "weights fifo": (["pack", *MODEL, "--weights", "{tmp}/fifo", "-o", "{tmp}/o"], ["fifo is a FIFO"]),
    "weights not weights": (["convert", *MODEL, "--weights", "{tmp}/file"], ["neither a pyprune packed file"]),
    "inspect folder": (["inspect", "{tmp}/folder"], ["folder is a directory, not a file"]),
    "inspect fifo": (["inspect", "{tmp}/fifo"], ["fifo is a FIFO"]),
    # files given as outputs
    "output folder": (["prune", *MODEL, "-o", "{tmp}/folder"], ["argument -o/--output", "is a directory"]),
    "output fifo": (["prune", *MODEL, "-o", "{tmp}/fifo"], ["argument -o/--output", "is a FIFO"]),
    "output no folder": (["prune", *MODEL, "-o", "{tmp}/nope/x.pyprune"], ["no such directory", "nope"]),
    "output under a file": (["prune", *MODEL, "-o", "{tmp}/file/x.pyprune"], ["{tmp}/file is not a directory"]),
    "output empty": (["prune", *MODEL, "-o", ""], ["argument -o/--output", "file name"]),
    "demo out is a file": (["demo", "--quick", "--out", "{tmp}/file"], ["cannot write to", "Not a directory"]),
    "demo out under a file": (["demo", "--quick", "--out", "{tmp}/file/sub"], ["cannot write to", "file/sub"]),
    "demo out cannot be made": (["demo", "--quick", "--out", "/proc/pyprune-demo"], ["cannot write to /proc/pyprune-demo"]),
    # the command itself
    "no command": ([], ["required: COMMAND"]),
    "unknown command": (["prunes"], ["invalid choice: 'prunes'"]),
    "unknown option": (["convert", *MODEL, "--thread", "2"], ["unrecognized arguments", "--thread"]),
    "missing output": (["prune", *MODEL], ["-o/--output"]),
    "unknown allocation": (["prune", *MODEL, "--target-macs", "0.5", "--allocation", "greedy", "-o", "{tmp}/o"],
                           ["argument --allocation", "invalid choice: 'greedy'"]),
    "allocation without target": (["prune", *MODEL, "--allocation", "global", "-o", "{tmp}/o"],
                                  ["--allocation applies to --target-macs"]),
}

MODELS_PY = """
import torch
from torch import nn


class Branching(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)

    def forward(self, x):
        return self.conv(x) if x.sum() > 0 else -self.conv(x)


def branching():
    return Branching()


def boom():
    raise ValueError("bad width")


def number():
    return 3
"""


@pytest.fixture
def mistake_files(tmp_path, monkeypatch):
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("not weights")
    (tmp_path / "mymodels.py").write_text(MODELS_PY)
    (tmp_path / "mymodels_raising.py").write_text("raise RuntimeError('at import')\n")
    (tmp_path / "mymodels_broken.py").write_text("x = (\n")
    monkeypatch.chdir(tmp_path)  # factories are found on the current directory
    yield tmp_path
    for name in ("mymodels", "mymodels_raising", "mymodels_broken"):
        sys.modules.pop(name, None)


def test_convert_takes_what_it_can_of_an_uncapturable_model(mistake_files, capsys):
    code, out, _ = run(capsys, "convert", "mymodels:branching", "--rounds", "2")
    assert code == 0
    assert "capture: in parts: torch.export could not capture Branching" in out and "converted conv" in out


@pytest.mark.parametrize("argv,fragments", MISTAKES.values(), ids=MISTAKES.keys())
def test_every_mistake_is_one_line_and_exit_code_2(argv, fragments, mistake_files, capsys):
    argv = [a.replace("{tmp}", str(mistake_files)) for a in argv]
    assert_user_error(run(capsys, *argv), *[f.replace("{tmp}", str(mistake_files)) for f in fragments])


WITHOUT_TORCH = """
import sys
sys.modules["torch"] = None
from pyprune.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("argv,extra", [
    (["prune", *MODEL, "-o", "x.pyprune"], "torch"),
    (["convert", *MODEL], "torch"),
    (["demo", "--quick"], "demo"),
    (["bench"], "torch"),
    (["pack", *MODEL, "-o", "x.pyprune"], "torch"),
])
def test_without_torch_every_command_says_what_to_install(argv, extra, tmp_path):
    result = subprocess.run([sys.executable, "-c", WITHOUT_TORCH, *argv], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith(f"pyprune {argv[0]}: error: ")
    assert result.stderr.strip().endswith(f"needs torch, which is not installed: pip install 'pyprune[{extra}]'")


@pytest.mark.parametrize("value", ["AVX2", "avx", "", "sse", "neon" if platform.machine() in ("x86_64", "AMD64") else "avx2"])
def test_a_bad_pyprune_isa_is_a_one_line_error(value, tmp_path):
    env = {**os.environ, "PYPRUNE_ISA": value}
    result = subprocess.run([sys.executable, "-m", "pyprune", "bench", "--suite", "model"], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"pyprune bench: error: PYPRUNE_ISA='{value}' ")
    assert len(result.stderr.strip().splitlines()) == 1


def help_texts(subcommand):
    """The description, epilog and option help of a subcommand, as written."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[subcommand]
    return [sub.description, sub.epilog, *[a.help for a in sub._actions if a.help]]


@pytest.mark.parametrize("columns", [40, 60, 80, 132])
@pytest.mark.parametrize("subcommand", SUBCOMMANDS)
def test_help_wraps_between_words_and_keeps_the_example_whole(subcommand, columns, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", str(columns))
    code, out, _ = run(capsys, subcommand, "--help")
    assert code == 0
    texts = help_texts(subcommand)
    example = next(t for t in texts if t.startswith("example:"))
    assert example in [line.strip() for line in out.splitlines()]
    words = set(out.split())
    for text in texts:
        broken = [w for w in (text % {}).split() if w not in words]
        assert not broken, f"{broken} broken across lines in:\n{out}"
