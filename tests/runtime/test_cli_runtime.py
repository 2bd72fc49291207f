"""The command line on packed files, torch-free: pyprune run (outputs, top classes), pyprune
bench FILE (whole forwards, per node, JSON), pyprune inspect (the graph); every mistake one
line on stderr with exit code 2."""

import json

import numpy as np
import pytest
from packed_files import with_metadata
from runtime_cases import constants_graph, write

from pyprune.cli import main
from pyprune.graph import ir


def run(capsys, *argv):
    """(exit code, stdout, stderr) of `pyprune argv`."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:  # argparse: usage errors
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(result, *fragments):
    code, out, err = result
    lines = err.strip().splitlines()
    assert code == 2 and out == "" and len(lines) == 1 and "Traceback" not in err, err
    assert all(f in lines[0] for f in fragments), err


def classifier():
    """x (batch, 10) -> logits (batch, 10): the scores are the input."""
    return ir.Graph([ir.TensorSpec("x", (1, 10))], ["logits"],
                    [ir.Node("reshape", ["x"], ["logits"], {"shape": [-2, -1]}, "head")], dynamic_batch=True)


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    paths = {"model": write(tmp_path / "model.pyprune", classifier()),
             "constants": write(tmp_path / "constants.pyprune", constants_graph(rng)),
             "folder": tmp_path}
    scores = np.zeros((2, 10), np.float32)
    scores[0, [7, 3, 9, 1, 4]] = [5, 4, 3, 2, 1]
    scores[1, 2] = 1
    for name, array in {"x": scores, "x64": scores.astype(np.float64), "x3d": scores[None],
                        "xF": np.asfortranarray(np.tile(scores, (1, 2))[:, ::2])}.items():
        np.save(tmp_path / f"{name}.npy", array)
        paths[name] = tmp_path / f"{name}.npy"
    np.savez(tmp_path / "x.npz", x=scores)
    paths["npz"] = tmp_path / "x.npz"
    (tmp_path / "text.npy").write_text("not an array")
    paths["text"] = tmp_path / "text.npy"
    header = np.lib.format.header_data_from_array_1_0(scores)
    with open(tmp_path / "huge.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(f, {**header, "shape": (2**20, 2**20)})
    paths["huge"] = tmp_path / "huge.npy"
    with open(tmp_path / "short.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(f, {**header, "shape": (2, 1000)})
        f.write(scores.tobytes())
    paths["short"] = tmp_path / "short.npy"
    no_graph = tmp_path / "nograph.pyprune"
    no_graph.write_bytes(with_metadata(paths["model"].read_bytes(), lambda m: m.update(graph=None)))
    paths["nograph"] = no_graph
    hostile = tmp_path / "hostile.pyprune"
    hostile.write_bytes(with_metadata(paths["model"].read_bytes(),
                                      lambda m: m["graph"]["ir"]["nodes"][0].update(op="resize")))
    paths["hostile"] = hostile
    return paths


def test_run_prints_the_outputs_and_the_top_classes(files, capsys):
    code, out, err = run(capsys, "run", files["model"], "--input", files["x"], "--threads", "2")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"{files['model']}: 1 output in ") and "2 threads" in lines[0]
    assert lines[1] == "output 'logits': shape (2, 10)"
    assert lines[2].startswith("top-5 of 'logits', sample 0: 7: 5 (p ")
    assert [int(c.split(":")[0]) for c in lines[2].split(": ", 1)[1].split("  ")] == [7, 3, 9, 1, 4]
    assert lines[3].startswith("top-5 of 'logits', sample 1: 2: 1 (p ")
    code, out, _ = run(capsys, "run", files["model"], "--input", files["xF"])  # Fortran order is copied
    assert code == 0 and "shape (2, 10)" in out


def test_run_prints_every_output(files, capsys):
    x = np.ones((2, 3, 4), np.float32)
    np.save(files["folder"] / "ones.npy", x)
    code, out, _ = run(capsys, "run", files["constants"], "--input", files["folder"] / "ones.npy")
    assert code == 0
    assert "6 outputs" in out and "output 'flat': shape (2, 12)" in out and "output 'scale': shape ()" in out
    assert "top-5 of 'fc.weight', sample 0:" in out and "... 48 more samples" in out


MISTAKES = {
    "missing model": (["run", "{folder}/nope.pyprune", "--input", "{x}"], ["no such file", "nope.pyprune"]),
    "missing input": (["run", "{model}", "--input", "{folder}/nope.npy"], ["argument --input", "no such file"]),
    "no input": (["run", "{model}"], ["--input"]),
    "float64 input": (["run", "{model}", "--input", "{x64}"], ["x64.npy holds float64 values", "float32"]),
    "wrong rank": (["run", "{model}", "--input", "{x3d}"], ["does not run on inputs of shape (1, 2, 10)",
                                                            "input 'x' must have 2 dims"]),
    "two inputs for one": (["run", "{model}", "--input", "{x}", "--input", "{x}"], ["takes 1 inputs (x), got 2"]),
    "not an npy": (["run", "{model}", "--input", "{text}"], ["text.npy is not a .npy array file"]),
    "npz archive": (["run", "{model}", "--input", "{npz}"], ["x.npz is not a .npy array file"]),
    "huge npy": (["run", "{model}", "--input", "{huge}"], ["huge.npy holds 1,099,511,627,776 values, more than"]),
    "truncated npy": (["run", "{model}", "--input", "{short}"], ["short.npy is truncated"]),
    "model not packed": (["run", "{x}", "--input", "{x}"], ["x.npy: not a pyprune pack file"]),
    "model without a graph": (["run", "{nograph}", "--input", "{x}"], ["nograph.pyprune: the file holds no graph"]),
    "hostile graph": (["run", "{hostile}", "--input", "{x}"], ["hostile.pyprune: graph: node 0 (resize 'head')",
                                                                "unknown op"]),
    "threads 0": (["run", "{model}", "--input", "{x}", "--threads", "0"], ["argument --threads", "got 0"]),
    "bench layers without file": (["bench", "--layers"], ["--layers needs a packed FILE"]),
    "bench keep without file": (["bench", "--keep-compressed"], ["--keep-compressed needs a packed FILE"]),
    "bench file and suite": (["bench", "{model}", "--suite", "model"], ["--suite times the kernel suites"]),
    "bench missing file": (["bench", "{folder}/nope.pyprune"], ["argument FILE", "no such file"]),
    "bench folder": (["bench", "{folder}"], ["is a directory, not a file"]),
    "bench no graph": (["bench", "{nograph}"], ["the file holds no graph"]),
    "bench hostile": (["bench", "{hostile}", "--layers"], ["unknown op"]),
    "inspect hostile": (["inspect", "{hostile}"], ["hostile.pyprune: graph: node 0", "unknown op"]),
}


@pytest.mark.parametrize("argv,fragments", MISTAKES.values(), ids=MISTAKES.keys())
def test_every_mistake_is_one_line_and_exit_code_2(files, capsys, argv, fragments):
    names = {k: str(v) for k, v in files.items()}
    assert_one_line_error(run(capsys, *[a.format(**names) for a in argv]), *[f.format(**names) for f in fragments])


def test_bench_times_forwards_and_nodes(files, capsys):
    code, out, err = run(capsys, "bench", files["constants"], "--rounds", "3", "--threads", "1", "2", "--layers")
    assert code == 0, err
    assert out.count("forward  min ") == 2 and "input 2x3x4" in out and "isa " in out
    assert "flatten" in out and "reshape to (d0, -1)" in out and "outside the kernels" in out
    code, out, _ = run(capsys, "bench", files["model"], "--rounds", "2", "--json", "--keep-compressed")
    assert code == 0
    (timing,) = json.loads(out).values()
    assert timing["runs"] == 2 and timing["layers"] is None and 0 < timing["min_ms"] <= timing["median_ms"]
    code, out, _ = run(capsys, "bench", files["model"], "--rounds", "2", "--json", "--layers")
    (timing,) = json.loads(out).values()
    assert [layer["name"] for layer in timing["layers"]] == ["head"] and timing["macs"] == 0


def test_inspect_shows_the_graph_as_it_runs(files, capsys):
    code, out, _ = run(capsys, "inspect", files["constants"])
    assert code == 0
    assert "the graph's own constants:" in out and "graph: 1 nodes, 5 constants of its own" in out
    table = out[out.index("#  node"):]
    assert "flatten" in table and "reshape to (d0, -1)" in table and "2x3x4 -> 2x12" in table
    assert "1 nodes, 0.00 MMACs, weights " in table and "(inputs 2x3x4)" in table
    code, out, _ = run(capsys, "inspect", files["nograph"])
    assert code == 0 and "graph: none (pyprune.runtime cannot run this file)" in out
