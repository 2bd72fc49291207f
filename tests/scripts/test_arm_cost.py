"""The NEON cost tool (scripts/arm_cost.py) on the host: regions from the counter's report,
inner loops found in assembly, llvm-mca's report read, ncnn graphs read, tables, the sections
table and the command line. The counting itself runs under emulation (python scripts/arm_cost.py)."""

import importlib.util
import inspect
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from arm_cost import common_layers, counter, mca, ncnn_peer, reports, sections, whole_models
from arm_cost.counter import CountError, Region
from arm_cost.guest import marks
from arm_cost.sections import SECTIONS, Counted, Run, pointwise_guest, pyprune_guest
from arm_cost.table import Column, Table

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / "scripts" / "arm_cost.py"
has_cross_compiler = shutil.which(mca.CXX) is not None
has_llvm_mca = any(shutil.which(name) for name in mca.LLVM_MCA)


# ---- regions: the guest's records joined with the counter's report ------------------------------


def report(totals):
    return {"total": max(totals.values()), "marks": [{"tag": t, "total": n, "counts": {}} for t, n in totals.items()]}


def test_regions_take_the_empty_regions_count_off_every_other():
    records = [{"start": 1, "end": 2, "what": {"empty": True}},
               {"start": 3, "end": 4, "what": {"call": "a"}},
               {"start": 5, "end": 6, "what": {"call": "b"}}]
    totals = {1: 100, 2: 1_900, 3: 5_000, 4: 15_000, 5: 20_000, 6: 21_800}
    assert counter.regions(records, report(totals)) == [Region({"call": "a"}, 8_200), Region({"call": "b"}, 0)]


def test_regions_split_each_regions_instructions_by_shared_object():
    records = [{"start": 1, "end": 2, "what": {"empty": True}}, {"start": 3, "end": 4, "what": {"call": "a"}}]
    counts = {1: {"0": 10, "1": 5}, 2: {"0": 13, "1": 5}, 3: {"0": 20, "1": 5}, 4: {"0": 40, "1": 905, "2": 7}}
    report = {"objs": ["/usr/lib/libc.so.6", "/site/pyprune/_core.cpython-311-aarch64-linux-gnu.so", "/x/numpy.so"],
              "marks": [{"tag": t, "total": sum(c.values()), "counts": c} for t, c in counts.items()]}
    (region,) = counter.regions(records, report)
    assert region.instructions == 20 + 900 + 7 - 3
    assert region.objects == {"libc.so.6": 17, "_core.cpython-311-aarch64-linux-gnu.so": 900, "numpy.so": 7}
    assert reports.outside_core(region) == pytest.approx(1 - 900 / 924)


def test_regions_refuse_records_without_the_empty_region_first():
    records = [{"start": 1, "end": 2, "what": {"call": "a"}}]
    with pytest.raises(CountError, match="empty"):
        counter.regions(records, report({1: 0, 2: 10}))
    with pytest.raises(CountError, match="empty"):
        counter.regions([], report({1: 0}))


def test_regions_name_markers_missing_from_the_report():
    records = [{"start": 1, "end": 2, "what": {"empty": True}}, {"start": 3, "end": 4, "what": {"call": "a"}}]
    with pytest.raises(CountError, match=r"markers \[4\] of region \{'call': 'a'\}"):
        counter.regions(records, report({1: 0, 2: 10, 3: 20}))


def test_guest_marks_record_tag_pairs_in_order_after_the_empty_region(tmp_path):
    # On the host the marker system call does not exist either: it fails harmlessly.
    regions = marks.Regions()
    with regions.count(layer=1) as what:
        what["shape"] = [3, 4]
    with regions.count(layer=2):
        pass
    regions.save(str(tmp_path / "r.json"))
    records = json.loads((tmp_path / "r.json").read_text())
    assert [(r["start"], r["end"]) for r in records] == [(1, 2), (3, 4), (5, 6)]
    assert [r["what"] for r in records] == [{"empty": True}, {"layer": 1, "shape": [3, 4]}, {"layer": 2}]


# ---- inner loops in assembly --------------------------------------------------------------------

ASM = """
func:
    mov x2, 0
.L2:                        // outer loop: holds the inner one, so not innermost
    mov x3, 0
.L3:                        // inner loop, with the clamp
    ldr q0, [x0], 16
    fmla v1.4s, v0.4s, v2.4s
    fmla v3.4s, v0.4s, v4.4s
    fmax v1.4s, v1.4s, v5.4s
    add x3, x3, 1
    cmp x3, x4
    bne .L3
    add x2, x2, 1
    cbnz x2, .L2
    b .L9                   // forward: no loop
1:                          // inline-asm loop with a numeric label, no clamp
    ld1 {v0.4s}, [x1], 16
    fmla v1.4s, v0.4s, v2.s[0]
    subs x5, x5, 1
    b.ne 1b
.L9:
    ret
"""


def test_innermost_loops_are_the_branch_free_backward_loops_retargeted():
    loops = mca.innermost_loops(ASM)
    assert loops == [
        ["ldr q0, [x0], 16", "fmla v1.4s, v0.4s, v2.4s", "fmla v3.4s, v0.4s, v4.4s", "fmax v1.4s, v1.4s, v5.4s",
         "add x3, x3, 1", "cmp x3, x4", "bne .Lmca_loop"],
        ["ld1 {v0.4s}, [x1], 16", "fmla v1.4s, v0.4s, v2.s[0]", "subs x5, x5, 1", "b.ne .Lmca_loop"],
    ]


@pytest.mark.parametrize("clamp, fmla", [(None, 2), (True, 2), (False, 1)])
def test_main_loop_has_the_most_fmla_of_the_loops_with_or_without_a_clamp(clamp, fmla):
    loop = mca.main_loop(mca.innermost_loops(ASM), clamp)
    assert sum(x.startswith("fmla") for x in loop) == fmla
    if clamp is not None:
        assert any(x.startswith("fmax") for x in loop) == clamp


def test_main_loop_takes_the_shortest_of_equal_fmla_loops_and_refuses_none():
    short = ["fmla v1.4s, v2.4s, v3.4s", "b.ne .Lmca_loop"]
    long = ["add x1, x1, 1", *short]
    assert mca.main_loop([long, short]) == short
    with pytest.raises(mca.MCAError, match="no inner loop"):
        mca.main_loop([["add x1, x1, 1", "b.ne .Lmca_loop"]])
    with pytest.raises(mca.MCAError, match="clamp True"):
        mca.main_loop([short], clamp=True)


MCA_REPORT = """Iterations:        200
Instructions:      1000
Total Cycles:      1003

Resource pressure by instruction:
[0]    [1.0]  [1.1]  [2]    [3]    [4]    [5]    [6]    Instructions:
 -     0.50   0.50   1.00    -      -      -      -     ldr	q0, [x0], #16
 -      -      -      -      -      -      -     2.00   fmla	v1.4s, v0.4s, v2.4s
 -      -      -      -      -      -     2.00    -     fmla	v3.4s, v0.4s, v4.4s
1.00    -      -      -      -      -      -      -     b.ne	.Lmca_loop
"""


def test_mca_report_gives_cycles_per_iteration_and_the_models_fmla_cycles_per_pipe():
    loop = ["ldr q0, [x0], 16", "fmla v1.4s, v0.4s, v2.4s", "fmla v3.4s, v0.4s, v4.4s", "b.ne .Lmca_loop"]
    cost = mca.parse_mca(MCA_REPORT, loop, pipes=2)
    assert cost == mca.LoopCost(instructions=4, fmla=2, cycles=1003 / 200, model_fmla=2.0)
    assert cost.fma_bound(2) == 1.0
    with pytest.raises(mca.MCAError, match="Total Cycles"):
        mca.parse_mca("Iterations: 10\n", loop, pipes=2)


def test_neon_rows_of_the_operator_lists_name_their_sources():
    gemm = mca.neon_ukernels(mca.CSRC / "f32-gemm" / "f32-gemm.inc")
    assert gemm and all("__neon" in u.name and u.source.suffix == ".cc" for u in gemm)
    assert all(u.name in u.source.read_text() and len(u.params) == 2 for u in gemm)
    dw_list = mca.CSRC / "f32-dwconv2d-chw" / "f32-dwconv2d-chw.inc"
    dw = mca.neon_ukernels(dw_list)
    production = {u.params[:2] for u in dw if u.production}
    cases = re.findall(r"pp_isa_scalar, \w+, (\d+), (\d+),", dw_list.read_text())  # the reference rows
    assert production == {(int(k), int(s)) for k, s in cases}


def test_neon_rows_need_exactly_one_source(tmp_path):
    inc = tmp_path / "f32-x.inc"
    inc.write_text("PP_X_UKERNEL(pp_isa_neon, pp_f32_x_ukernel_4x4__neon, 4, 4, PP_PRODUCTION)\n")
    with pytest.raises(mca.MCAError, match="defined in 0 files"):
        mca.neon_ukernels(inc)
    inc.write_text("PP_X_UKERNEL(pp_isa_avx2, pp_f32_x_ukernel_4x4__avx2, 4, 4, PP_PRODUCTION)\n")
    with pytest.raises(mca.MCAError, match="no NEON row"):
        mca.neon_ukernels(inc)


# ---- ncnn graphs --------------------------------------------------------------------------------

PARAM = """7767517
5 5
Input                    in0                      0 1 in0
Convolution              convrelu_0               1 1 in0 1 0=32 1=3 6=864 9=1
Split                    splitncnn_0              1 2 1 2 3
BinaryOp                 add_0                    2 1 2 3 4 0=0
InnerProduct             linear_1                 1 1 4 out0 0=10 1=1 2=320 -23310=2,1.0,2.0
"""


def test_ncnn_graph_lists_layers_in_order_with_their_first_output_and_weights():
    graph = ncnn_peer.ncnn_graph(PARAM)
    assert graph["input"] == "in0" and graph["output"] == "out0"
    assert graph["layers"] == [
        {"layer": "convrelu_0", "type": "Convolution", "top": "1", "weights": 864},
        {"layer": "splitncnn_0", "type": "Split", "top": "2", "weights": 0},
        {"layer": "add_0", "type": "BinaryOp", "top": "4", "weights": 0},
        {"layer": "linear_1", "type": "InnerProduct", "top": "out0", "weights": 320},
    ]


@pytest.mark.parametrize("param, message", [
    ("", "magic"),
    ("7767518\n1 1\nInput in0 0 1 in0\n", "magic"),
    ("7767517\n1 1\nInput in0 0 1 in0\n", "one Input"),
    ("7767517\n1 1\nConvolution c 0 1 x 6=9\n", "one Input"),
])
def test_ncnn_graph_refuses_what_is_not_a_one_input_network(param, message):
    with pytest.raises(ncnn_peer.PeerError, match=message):
        ncnn_peer.ncnn_graph(param)


# ---- tables and reports -------------------------------------------------------------------------


def test_table_sizes_columns_to_fit_and_aligns_numbers_right():
    table = Table("T", [Column("name"), Column("count", ","), Column("ratio", ".2f", "x")], notes=["a note"])
    table.add("a", 1234567, 0.5)
    table.rule()
    table.add("longer name", None, "n/a")
    assert str(table).splitlines() == [
        "T",
        "  a note",
        "name             count  ratio",
        "-----------------------------",
        "a            1,234,567  0.50x",
        "-----------------------------",
        "longer name               n/a",
    ]
    with pytest.raises(ValueError, match="2 cells for 3 columns"):
        table.add("a", 1)


def test_pointwise_report_sums_layers_per_call():
    calls = (("pointwise_conv2d()", 40), ("pp_f32_gemm_minmax_ukernel_8x8__neon", 30))
    regions = [Region({"layer": i, "shape": f"L{i}", "call": call, "macs": 100 * i}, n * i)
               for i in (1, 2) for call, n in calls]
    (table,) = reports.pointwise(regions, "cortex-a72")
    assert [c.header for c in table.columns] == ["layer", "MACs", "pointwise_conv2d()", "8x8__neon"]
    assert table.rows[-2] == ["all 13 (summed)", 300, 0.4, 0.3]
    assert table.rows[-1] == ["  instructions", None, "120", "90"]


def test_gemv_report_gives_each_layer_and_batch_per_mac():
    regions = [Region({"layer": "head", "op": "linear", "batch": b, "macs": 1000 * b}, 400 * b * b) for b in (1, 3)]
    (table,) = reports.gemv(regions, "cortex-a72")
    assert table.rows == [["head", "linear", 1, 1000, 400, 0.4], ["head", "linear", 3, 3000, 3600, 1.2]]


def test_sparse_report_compares_each_weight_kind_with_dense():
    regions = [Region({"layer": i, "weights": w, "macs": m}, n) for i in (1, 2)
               for w, m, n in (("dense", 1000, 300), ("90 % unstructured", 100, 50))]
    (table,) = reports.sparse(regions, "cortex-a72")
    assert table.rows == [["dense", 2000, 600, 0.3, 1.0], ["90 % unstructured", 200, 100, 0.5, 6.0]]


def test_models_report_puts_forwards_in_a_summary_and_layers_in_a_table_per_model():
    regions = [Region({"model": "M", "runtime": "r", "macs": 1000}, 400),
               Region({"model": "M", "runtime": "r2", "macs": 1000}, 500),
               Region({"model": "M", "runtime": "r", "layer": "c", "type": "Convolution", "shape": [8, 2, 2],
                       "macs": 1000}, 300),
               Region({"model": "M", "runtime": "r", "layer": "p", "type": "Pooling", "shape": [8], "macs": 0}, 120)]
    summary, objects, layers = reports.models(regions, "cortex-a72")
    assert summary.rows == [["M", "r", 1000, 400, 0.4, 420, 0.42, None, None],
                            ["M", "r2", 1000, 500, 0.5, None, None, None, None]]
    assert objects.rows == []
    assert layers.rows[0] == [1, "Convolution", "c", "8x2x2", 1000, 300, 0.3, 300 / 420]
    assert layers.rows[1] == [2, "Pooling", "p", "8", None, 120, None, 120 / 420]
    assert layers.rows[-1] == [None, "all layers", None, None, 1000, 420, 0.42, 1.0]


def guest_script(name, monkeypatch):
    """A guest script of guest/ imported on the host, as the guest imports it (marks.py beside it)."""
    monkeypatch.syspath_prepend(str(counter.GUEST))
    spec = importlib.util.spec_from_file_location(f"guest_{Path(name).stem}", counter.GUEST / name)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def forward(model, runtime, instructions):
    return Region({"model": model, "runtime": runtime, "macs": 1000}, instructions)


def test_models_report_compares_forwards_with_ncnn_fp32_in_the_regions_or_the_peers():
    ncnn = [forward("A", "ncnn fp32", 200), forward("A", "ncnn defaults", 100)]
    summary, _ = reports.models(ncnn, "cortex-a53")
    assert [row[-2] for row in summary.rows] == [1.0, 0.5]
    summary, _ = reports.models([forward("A", "pyprune", 150), forward("B", "pyprune", 10)], "cortex-a53", ncnn)
    assert [row[-2] for row in summary.rows] == [0.75, None]
    assert "counted in this run" in str(summary)


@pytest.mark.parametrize("cpu, ratio", [("cortex-a72", 85_800_000 / 171_600_000), ("cortex-a53", None)])
def test_models_report_without_ncnn_in_the_run_says_it_uses_the_stated_counts(cpu, ratio):
    summary, _ = reports.models([forward("MobileNetV1", "pyprune", 85_800_000)], cpu, None)
    assert summary.rows[0][-2] == ratio
    assert "NOT counted in this run" in str(summary)


def test_a_section_with_a_peer_reports_with_the_peers_regions_of_the_same_cpu(tmp_path, monkeypatch):
    counts = {"first.py": [forward("A", "x", 1)], "second.py": [forward("A", "y", 2)]}
    monkeypatch.setattr(sections, "count", lambda script, args, cpu, path: counts[script])
    seen = []
    first = Counted("first", "first.py", lambda regions, cpu: [])
    second = Counted("second", "second.py", lambda regions, cpu, peer: seen.append((cpu, regions, peer)) or [],
                     peer="first")
    run = Run(tmp_path, ["cortex-a53", "cortex-a72"], [], False, tmp_path)
    second.tables(run, sections.Guest([], []))  # its peer did not run
    first.tables(run, sections.Guest([], []))
    second.tables(run, sections.Guest([], []))
    assert seen == [(cpu, counts["second.py"], None) for cpu in run.cpus] + \
        [(cpu, counts["second.py"], counts["first.py"]) for cpu in run.cpus]


def test_the_models_section_comes_after_its_peer():
    names = [s.name for s in SECTIONS]
    for s in SECTIONS:
        if isinstance(s, Counted) and s.peer is not None:
            assert names.index(s.peer) < names.index(s.name)


def test_pyprune_forward_runs_a_graph_node_by_node_as_one_node_graphs(monkeypatch):
    torch = pytest.importorskip("torch")
    from pyprune.capture.pipeline import inference_graph
    from pyprune.graph import engine
    from pyprune.models import MobileNetV2

    script = guest_script("pyprune_forward.py", monkeypatch)
    torch.manual_seed(0)
    x = torch.rand(1, 3, 32, 32)
    graph = inference_graph(MobileNetV2(num_classes=10, width=0.25).eval(), (x,))
    values = {graph.inputs[0].name: x.numpy()}
    shapes = {graph.inputs[0].name: tuple(x.shape)}
    for node in graph.nodes:
        one = script.node_graph(graph, node, shapes)
        assert [n.name for n in one.nodes] == [node.name] and set(one.constants) <= set(graph.constants)
        outputs = engine.Engine(one)(*(values[s.name] for s in one.inputs))
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        values.update(zip(node.outputs, outputs))
        shapes.update((t, v.shape) for t, v in zip(node.outputs, outputs))
    whole = engine.Engine(graph)(x.numpy())
    assert (values[graph.outputs[0]] == whole).all()


def test_models_are_packed_losslessly_for_the_runtime_with_a_plan_the_guest_takes(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    from pyprune import runtime

    monkeypatch.setattr(whole_models, "MODELS", ("MobileNetV2",))
    monkeypatch.setattr(whole_models, "INPUT_SHAPE", (1, 3, 32, 32))
    run = Run(tmp_path, ["cortex-a72"], [], False, tmp_path)
    guest = sections.models_guest(run)
    assert guest.pythonpath == [tmp_path]
    plan = json.loads(Path(guest.args[0]).read_text())
    model, = whole_models.build()
    assert [(p["model"], p["runtime"], p["macs"]) for p in plan] == [("MobileNetV2", "pyprune", model.macs)]
    with torch.no_grad():
        expected = model.module(model.example).numpy()
    assert runtime.load(plan[0]["file"])(model.example.numpy()) == pytest.approx(expected, abs=1e-4)
    inspect.signature(guest_script("pyprune_forward.py", monkeypatch).main).bind("regions.json", *guest.args)


def test_the_pruned_model_is_packed_beside_its_dense_one_and_runs_sparse(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from pyprune import runtime

    monkeypatch.setattr(whole_models, "MODELS", (whole_models.SPARSE_OF,))
    monkeypatch.setattr(whole_models, "INPUT_SHAPE", (1, 3, 32, 32))
    plan = json.loads(whole_models.pack(tmp_path).read_text())
    assert [p["model"] for p in plan] == [whole_models.SPARSE_OF, whole_models.SPARSE]
    assert plan[0]["macs"] == plan[1]["macs"]  # the same network: MACs as written
    kernels = [n.kernel for n in runtime.load(plan[1]["file"]).describe() if n.op == "conv2d"]
    assert sum(f" sparse block {whole_models.BLOCK} " in k for k in kernels) >= len(kernels) // 2, kernels


def test_common_layers_are_packed_for_the_runtime_with_their_shapes_in_the_plan(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    from pyprune import runtime

    chosen = ("depthwise 7x7 s1 384 @14 (ConvNeXt)", "grouped 3x3 g32 s2 256 @56 (ResNeXt)")
    monkeypatch.setattr(common_layers, "LAYERS", {name: common_layers.LAYERS[name] for name in chosen})
    layers = common_layers.build()
    plan = json.loads(whole_models.pack(tmp_path, layers, "layers.json").read_text())
    assert [p["model"] for p in plan] == list(chosen)
    assert [p["output_shape"] for p in plan] == [[1, 384, 14, 14], [1, 256, 28, 28]]
    for p, layer in zip(plan, layers):
        assert p["input_shape"] == list(layer.example.shape)
        net = runtime.load(p["file"])
        assert [n.op for n in net.describe()] == ["conv2d"]
        with torch.no_grad():
            expected = layer.module(layer.example).numpy()
        assert net(layer.example.numpy()) == pytest.approx(expected, rel=1e-4, abs=1e-4)


def test_layers_report_compares_each_layer_with_ncnn_fp32_of_the_same_run():
    def layer(model, runtime, instructions, kind="k"):
        return Region({"model": model, "runtime": runtime, "layer": "l", "type": kind, "shape": [1],
                       "macs": 1000}, instructions)

    ncnn = [forward("A", "ncnn fp32", 900), layer("A", "ncnn fp32", 300, "Convolution"),
            layer("A", "ncnn fp32", 100, "ReLU"), layer("B", "ncnn fp32", 500)]
    table, = reports.layers([forward("A", "pyprune", 999), layer("A", "pyprune", 200, "conv2d 3x3"),
                             layer("C", "pyprune", 50)], "cortex-a72", ncnn)
    assert table.rows == [["A", "conv2d 3x3", 1000, 200, 0.2, 400, 0.4, 0.5],
                          ["C", "k", 1000, 50, 0.05, None, None, None],
                          ["B", None, 1000, None, None, 500, 0.5, None]]


def test_sections_have_unique_names_and_their_guest_scripts_exist():
    names = [s.name for s in SECTIONS]
    assert len(names) == len(set(names))
    for s in SECTIONS:
        if isinstance(s, Counted):
            assert (counter.GUEST / s.script).is_file()


@pytest.mark.parametrize("reference", [False, True])
def test_pyprune_guest_scripts_take_the_arguments_their_host_side_gives(tmp_path, monkeypatch, reference):
    run = Run(tmp_path, ["cortex-a72"], [], reference, tmp_path)
    chosen = [s for s in SECTIONS if isinstance(s, Counted) and s.host in (pyprune_guest, pointwise_guest)]
    assert {s.name for s in chosen} >= {"depthwise", "pointwise", "sparse"}
    for s in chosen:
        inspect.signature(guest_script(s.script, monkeypatch).main).bind("regions.json", *s.prepare(run).args)


# ---- the command line ---------------------------------------------------------------------------


def tool(*args):
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, timeout=600)


def test_list_prints_every_section():
    run = tool("--list")
    assert run.returncode == 0 and run.stdout.split() == [s.name for s in SECTIONS]


@pytest.mark.parametrize("sections", ["nonsense", "depthwise,nonsense", ","])
def test_unknown_sections_are_a_usage_error(sections):
    run = tool("--sections", sections)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "unknown sections" in run.stderr or "no section" in run.stderr


def test_a_missing_wheel_is_named_before_anything_is_set_up(tmp_path):
    run = tool("--sections", "depthwise", "--wheel", str(tmp_path / "none.whl"))
    assert run.returncode == 1 and run.stderr.strip() == f"arm-cost: no wheel {tmp_path / 'none.whl'}"


@pytest.mark.skipif(not (has_cross_compiler and has_llvm_mca), reason="needs aarch64-linux-gnu-g++ and llvm-mca")
def test_an_inner_loop_section_runs_and_a_bad_cpu_is_one_error_line():
    # The real kernels of every inner-loop section: python scripts/arm_cost.py --sections
    # depthwise-loop,gemm-loop,spmm-loop (half a minute of compiling).
    run = tool("--sections", "gemm-loop", "--mca-cpus", "cortex-a53")
    assert run.returncode == 0, run.stderr
    # every NEON GEMM row, production or not, for one comparison
    for tile in ("8x12__neon", "8x8__neon", "8x8__neon_a53"):
        assert re.search(rf"^{tile} +cortex-a53 ", run.stdout, re.M), tile
    run = tool("--sections", "gemm-loop", "--mca-cpus", "no-such-cpu")
    assert run.returncode == 1 and run.stderr.startswith("arm-cost: ") and "Traceback" not in run.stderr


def test_models_report_splits_each_forward_by_shared_object_with_the_small_ones_summed():
    objects = {"_core.cpython-311-aarch64-linux-gnu.so": 9_900, "libpython3.11.so.1.0": 95, "libc.so.6": 4, "ld.so": 1}
    summary, by_object = reports.models([Region({"model": "M", "runtime": "pyprune", "macs": 1000}, 10_000, objects)],
                                        "cortex-a72")
    assert summary.rows[0][-1] == pytest.approx(0.01)
    assert by_object.rows == [["M", "pyprune", "_core.cpython-311-aarch64-linux-gnu.so", 9_900, 0.99],
                              ["M", "pyprune", "libpython3.11.so.1.0", 95, 0.0095],
                              ["M", "pyprune", "(the rest)", 5, 0.0005]]
