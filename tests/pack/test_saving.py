"""Saving says what it did to the outputs (measured, stored, returned, shown), lossless saving
keeps every weight bit for bit, files are written like any other (umask, atomic, a clear error
for a missing folder), module versions survive, example input shapes from a file must fit the
model, and loading again and again leaks nothing."""

import gc
import json
import linecache
import os
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from packed_files import join, metadata_of, signed_header, split  # noqa: E402

from pyprune import cli, pack  # noqa: E402
from pyprune.models import MobileNetV1  # noqa: E402
from pyprune.pack import PackError  # noqa: E402

X = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def _mobilenet(sparsity=0.0, seed=0):
    torch.manual_seed(seed)
    model = MobileNetV1(num_classes=10, width=0.25).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_var.uniform_(0.5, 1.5)
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) and sparsity:
                m.weight[torch.rand_like(m.weight) < sparsity] = 0
    return model


def _factory():
    return MobileNetV1(num_classes=10, width=0.25)


# ---- G: what saving did to the outputs --------------------------------------------------------


def test_lossy_saving_measures_stores_returns_and_shows_the_output_error(tmp_path, capsys):
    model = _mobilenet()
    path = tmp_path / "m.pyprune"
    result = pack.save(model, path, example_inputs=X)
    assert isinstance(result, pack.SaveResult) and result.file_bytes == path.stat().st_size and not result.lossless
    error = result.output_error
    with torch.inference_mode():
        want, got = model(X), pack.load(path, _factory, fast=False)(X)
    assert error.max_abs == pytest.approx(float((got - want).abs().max()), rel=1e-6)
    assert error.output_range == pytest.approx(float(want.max() - want.min()), rel=1e-6)
    assert 0 < error.relative < 1
    assert metadata_of(path.read_bytes())["output_error"] == {"max_abs": error.max_abs, "output_range": error.output_range}
    assert pack.inspect(path).output_error == error
    assert f"{error.relative:.2%}" in str(pack.inspect(path)) and f"{error.relative:.2%}" in str(result)
    assert cli.main(["inspect", str(path)]) == 0
    assert "of their range" in capsys.readouterr().out
    with pytest.raises(AttributeError):
        result.file_bytes = 0  # frozen
    assert model.training is False


def test_saving_without_example_inputs_says_the_error_is_unmeasured(tmp_path):
    result = pack.save(_mobilenet(), tmp_path / "m.pyprune")
    assert result.output_error is None and "not measured" in str(result)
    assert "not measured" in str(pack.inspect(tmp_path / "m.pyprune"))


def test_measuring_leaves_a_training_model_in_training_mode(tmp_path):
    model = _mobilenet().train()
    stats = [b.clone() for b in model.buffers()]
    pack.save(model, tmp_path / "m.pyprune", example_inputs=X)
    assert model.training and all(m.training for m in model.modules())
    assert all(torch.equal(a, b) for a, b in zip(stats, model.buffers()))  # no BatchNorm update


@pytest.mark.parametrize("sparsity", [0.0, 0.8], ids=["dense", "pruned"])
def test_lossless_saving_keeps_every_weight_bit_for_bit(tmp_path, sparsity):
    model = _mobilenet(sparsity)
    with torch.no_grad():
        model.features[0][0].weight[0, 0, 0, 0] = -0.0
    path = tmp_path / "m.pyprune"
    result = pack.save(model, path, example_inputs=X, lossless=True, graph=False)  # the state_dict's bytes alone
    assert result.lossless and result.output_error.max_abs == 0 and "identical" in str(result)
    loaded = pack.load(path, _factory, fast=False)
    for name, want in model.state_dict().items():
        got = loaded.state_dict()[name]
        assert got.dtype == want.dtype and torch.equal(got.view(-1).view(torch.uint8), want.view(-1).view(torch.uint8)), name
    raw = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    assert result.file_bytes < (0.5 if sparsity else 0.97) * raw
    lossy = pack.save(model, tmp_path / "lossy.pyprune").file_bytes
    assert lossy < result.file_bytes


def test_lossless_keeps_already_shared_weights_as_their_codebook(tmp_path):
    model = _mobilenet(0.5)
    pack.tie_shared_weights(model, {"conv": 4, "linear": 3})
    pack.bake_shared_weights(model)
    pack.save(model, tmp_path / "m.pyprune", lossless=True)
    records = metadata_of((tmp_path / "m.pyprune").read_bytes())["tensors"]
    assert records["classifier.weight"]["encoding"].startswith("huffman-shared") and records["classifier.weight"]["bits"] <= 3
    loaded = pack.load(tmp_path / "m.pyprune", _factory, fast=False)
    assert all(torch.equal(t, loaded.state_dict()[name]) for name, t in model.state_dict().items())


def test_lossless_excludes_bits(tmp_path):
    with pytest.raises(ValueError, match="lossless"):
        pack.save(_mobilenet(), tmp_path / "m.pyprune", lossless=True, bits=4)


@pytest.fixture
def tiny_factory(tmp_path, monkeypatch):
    """A model factory the command line finds in the current folder: tiny:build."""
    (tmp_path / "tiny.py").write_text(
        "import torch\n"
        "def build():\n"
        "    return torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3), torch.nn.ReLU(), torch.nn.Conv2d(16, 16, 3),\n"
        "                               torch.nn.Flatten(), torch.nn.Linear(16 * 4 * 4, 10))\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return ["tiny:build", "--input-shape", "1,3,8,8"]


def test_the_command_line_prints_the_error_and_packs_losslessly(tmp_path, capsys, tiny_factory):
    args = tiny_factory
    assert cli.main(["pack", *args, "-o", str(tmp_path / "lossy.pyprune")]) == 0
    assert re.search(r"wrote .* outputs differ from the original's by at most .* of their range", capsys.readouterr().out)
    assert cli.main(["pack", *args, "--lossless", "-o", str(tmp_path / "exact.pyprune")]) == 0
    assert "lossless): outputs identical to the original's" in capsys.readouterr().out
    assert cli.main(["prune", *args, "--amount", "0.5", "-o", str(tmp_path / "half.pyprune")]) == 0
    assert "of their range" in capsys.readouterr().out


# ---- H: module versions ------------------------------------------------------------------------


class Versioned(torch.nn.Module):
    """Version 1 stored its weight transposed; version 2 stores it as is and converts old files,
    as torchvision's modules do: loading without the version converts by mistake."""

    _version = 2

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.arange(12.0).reshape(3, 4))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing, unexpected, errors):
        if local_metadata.get("version", 1) < 2:
            state_dict[prefix + "weight"] = state_dict[prefix + "weight"].t()
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing, unexpected, errors)

    def forward(self, x):
        return x @ self.weight.t()


def test_module_versions_are_stored_and_given_back(tmp_path):
    model = torch.nn.Sequential(Versioned(), torch.nn.ReLU())
    pack.save(model, tmp_path / "m.pyprune", lossless=True)
    meta = metadata_of((tmp_path / "m.pyprune").read_bytes())
    assert meta["state_dict_metadata"]["0"] == {"version": 2}
    loaded = pack.load(tmp_path / "m.pyprune", lambda: torch.nn.Sequential(Versioned(), torch.nn.ReLU()), fast=False)
    assert torch.equal(loaded[0].weight, model[0].weight)


# ---- I: writing ----------------------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_files_are_written_with_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        pack.save(_mobilenet(), tmp_path / "m.pyprune")
    finally:
        os.umask(old)
    assert (tmp_path / "m.pyprune").stat().st_mode & 0o777 == 0o666 & ~umask
    assert os.listdir(tmp_path) == ["m.pyprune"]


def test_a_missing_folder_is_named(tmp_path, capsys, tiny_factory):
    missing = tmp_path / "no" / "such"
    with pytest.raises(FileNotFoundError, match="no such folder") as e:
        pack.save(_mobilenet(), missing / "m.pyprune")
    assert e.value.filename == str(missing)
    args = [*tiny_factory, "-o", str(missing / "m.pyprune")]
    for command in ("pack", "prune"):
        with pytest.raises(SystemExit) as refused:  # the output is checked while the arguments are read
            cli.main([command, *args])
        assert refused.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err == (f"pyprune {command}: error: argument -o/--output: cannot write {missing / 'm.pyprune'}: "
                       f"no such directory: {missing}")


def test_a_folder_or_a_file_in_place_of_a_folder_is_named(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder"):
        pack.save(_mobilenet(), tmp_path)
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(NotADirectoryError, match="not a folder"):
        pack.save(_mobilenet(), tmp_path / "file" / "m.pyprune")


# ---- C: example input shapes from the file -------------------------------------------------------


def _with_inputs(tmp_path, data, shapes):
    header, body = split(data)
    meta = metadata_of(data)
    meta["example_inputs"] = shapes
    path = tmp_path / "m.pyprune"
    path.write_bytes(join(signed_header(header, json.dumps(meta)), body))
    return path


@pytest.mark.parametrize("shapes", [
    [[1, 3, 8]], [[3, 8, 8, 1, 1]], [[1, 4, 8, 8]], [[1, 3, 8, 8], [1, 3, 8, 8]], [[1, 3, 16, 16]], [[1, 3, 2, 2]],
], ids=["rank-3", "rank-5", "channels", "two-inputs", "size", "too-small"])
def test_example_inputs_that_do_not_fit_the_model_are_refused_before_allocating(tmp_path, real_files, seeds, shapes):
    path = _with_inputs(tmp_path, real_files["dense-shared"], shapes)
    with pytest.raises(PackError, match="do not fit the model"):
        pack.load(path, seeds.small_model)


def test_huge_example_inputs_are_refused_before_allocating(tmp_path, real_files, seeds):
    import tracemalloc

    path = _with_inputs(tmp_path, real_files["dense-shared"], [[1, 3, 8192, 8192]])
    tracemalloc.start()
    with pytest.raises(PackError, match="example_inputs"):
        pack.load(path, seeds.small_model)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 100 << 20


def test_example_inputs_that_fit_load(tmp_path, real_files, seeds):
    path = _with_inputs(tmp_path, real_files["dense-shared"], [[2, 3, 8, 8]])
    with torch.inference_mode():
        assert pack.load(path, seeds.small_model)(seeds.X).shape == (1, 10)


class StridedHead(torch.nn.Module):
    """YOLO's Detect head: its strides a plain tensor attribute (not a buffer, so a shape-only
    run meets them on the CPU), a grid cached for the size it last saw, and a count read with
    .item()."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, 2, 1)
        self.stride = torch.tensor([2.0])
        self.shape, self.grid = None, None

    def forward(self, x):
        p = self.conv(x)
        if self.shape != p.shape:
            self.shape, self.grid = p.shape, torch.arange(p.shape[-1], dtype=p.dtype)
        return (p + self.grid) * self.stride + (p > 0).sum().item()


def test_a_model_holding_plain_tensors_loads_converted_and_wrong_shapes_are_still_refused(tmp_path):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 16, 16)
    pack.save(StridedHead().eval(), tmp_path / "head.pyprune", example_inputs=x)
    fast = pack.load(tmp_path / "head.pyprune", StridedHead)
    plain = pack.load(tmp_path / "head.pyprune", StridedHead, fast=False)
    with torch.inference_mode():
        torch.testing.assert_close(fast(x), plain(x))
    data = (tmp_path / "head.pyprune").read_bytes()
    with pytest.raises(PackError, match=r"do not fit the model: RuntimeError: Invalid channel dimensions"):
        pack.load(_with_inputs(tmp_path, data, [[2, 4, 16, 16]]), StridedHead)


class GridHead(torch.nn.Module):
    """A detection head decoding onto a grid it makes itself (torch.arange, no device given), as
    YOLOv5's and YOLOX's do."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, 2, 1)

    def forward(self, x):
        p = self.conv(x)
        ys, xs = torch.meshgrid(torch.arange(p.shape[2]), torch.arange(p.shape[3]), indexing="ij")
        return (p[:, :2].sigmoid() + torch.stack((xs, ys)).to(p.dtype)) * 2, p[:, 2:].exp()


def test_a_model_making_its_own_tensors_loads_converted(tmp_path):
    torch.manual_seed(0)
    pack.save(GridHead().eval(), tmp_path / "head.pyprune", example_inputs=torch.randn(2, 3, 16, 16))
    fast = pack.load(tmp_path / "head.pyprune", GridHead)  # its input shapes checked on shape-only tensors
    slow = pack.load(tmp_path / "head.pyprune", GridHead, fast=False)
    x = torch.randn(3, 3, 16, 16)
    with torch.inference_mode():
        for got, want in zip(fast(x), slow(x)):
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_a_model_wrapped_in_data_parallel_loads_converted(tmp_path):
    """A checkpoint's DataParallel wrapper (its keys under module.): torch.func cannot run it,
    the shape check runs the module it wraps."""
    def wrapped():
        torch.manual_seed(0)
        return torch.nn.DataParallel(GridHead())

    pack.save(wrapped().eval(), tmp_path / "head.pyprune", example_inputs=torch.randn(2, 3, 16, 16))
    fast = pack.load(tmp_path / "head.pyprune", wrapped)
    slow = pack.load(tmp_path / "head.pyprune", wrapped, fast=False)
    x = torch.randn(3, 3, 16, 16)
    with torch.inference_mode():
        for got, want in zip(fast(x), slow(x)):
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_a_bfloat16_model_is_saved_and_loaded_bit_for_bit(tmp_path):
    def bfloat16_model():
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Conv2d(3, 32, 3), torch.nn.BatchNorm2d(32), torch.nn.ReLU(),
                                   torch.nn.Conv2d(32, 4, 1)).eval().to(torch.bfloat16)

    model = bfloat16_model()
    x = torch.randn(2, 3, 8, 8).to(torch.bfloat16)
    saved = pack.save(model, tmp_path / "m.pyprune", example_inputs=x, lossless=True)
    assert saved.output_error.max_abs == 0.0
    loaded = pack.load(tmp_path / "m.pyprune", bfloat16_model, fast=False)  # biases and norms stored raw too
    for name, want in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], want), name


def test_weights_that_are_not_finite_are_named_and_kept_by_a_lossless_save(tmp_path):
    def model():
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3), torch.nn.ReLU(), torch.nn.Conv2d(16, 8, 3)).eval()

    broken = model()
    with torch.no_grad():
        broken[2].weight[1, 2, 0, 0] = float("nan")
        broken[2].weight[3, 0, 1, 1] = float("inf")
    with pytest.raises(ValueError, match=r"tensor '2.weight' holds values that are not finite .*lossless=True"):
        pack.save(broken, tmp_path / "m.pyprune")
    pack.save(broken, tmp_path / "m.pyprune", lossless=True)
    loaded = pack.load(tmp_path / "m.pyprune", model, fast=False)
    assert torch.equal(loaded[2].weight.isnan(), broken[2].weight.isnan())
    assert torch.equal(loaded[2].weight.nan_to_num(), broken[2].weight.nan_to_num())


# ---- K: loading again and again ---------------------------------------------------------------


def test_fast_loads_leave_no_generated_source_behind(tmp_path, real_files, seeds):
    from torch.fx.graph_module import _loader

    path = tmp_path / "m.pyprune"
    path.write_bytes(real_files["pruned-shared"])

    def cached():
        gc.collect()
        return len(linecache.cache), len(_loader.eval_cache)

    for _ in range(2):
        pack.load(path, seeds.small_model)
    before = cached()
    for _ in range(20):
        model = pack.load(path, seeds.small_model)
    assert type(model).forward.__code__.co_filename in linecache.cache  # kept while the model lives
    del model
    assert cached() == before


def test_a_model_keeps_its_source_while_it_lives(tmp_path, real_files, seeds):
    path = tmp_path / "m.pyprune"
    path.write_bytes(real_files["pruned-shared"])
    model = pack.load(path, seeds.small_model)
    gc.collect()
    assert linecache.getlines(type(model).forward.__code__.co_filename)
    with torch.inference_mode():
        np.testing.assert_array_equal(model(seeds.X).shape, (1, 10))
