"""How each counted section's regions become tables (one call per CPU model). The regions'
`what` fields are the ones its guest script (guest/) records."""

from __future__ import annotations

from collections import defaultdict

from arm_cost.counter import Region
from arm_cost.table import Column, Table

FLOOR = "floor 0.250: one 4-lane FMLA per 4 MACs"
COUNT, RATIO = ",", ".3f"
# Whole forwards are compared with ncnn's fp32 ones; without the ncnn section in the run, with
# these counts of it (ncnn 1.0.20261020 on cortex-a72, as this report gave them).
NCNN = "ncnn fp32"
CORE = "_core."  # pyprune's extension module: _core.cpython-311-aarch64-linux-gnu.so
NCNN_STATED = {"cortex-a72": {"MobileNetV1": 171_600_000, "MobileNetV2": 101_200_000}}


def depthwise(regions: list[Region], cpu: str) -> list[Table]:
    table = Table(f"Depthwise, instructions per MAC on {cpu}: one call, 32 channels 112x112, padding k//2, "
                  f"batch 1, 1 thread; {FLOOR}",
                  [Column("layer"), Column("call"), Column("MACs", COUNT), Column("instructions", COUNT),
                   Column("/MAC", RATIO)],
                  notes=["depthwise_conv2d(): the one-shot call (dispatched kernel, weight layout included); "
                         "<ukernel>: PackedDepthwiseConv2d(ukernel=...), weights laid out beforehand"])
    for r in regions:
        table.add(r.what["layer"], short(r.what["call"]), r.what["macs"], r.instructions,
                  r.instructions / r.what["macs"])
    return [table]


def depthwise_layers(regions: list[Region], cpu: str) -> list[Table]:
    calls = list(dict.fromkeys(r.what["call"] for r in regions))
    layers: dict[str, dict] = {}
    for r in regions:
        layer = layers.setdefault(r.what["layer"], dict(r.what))
        layer[r.what["call"]] = r.instructions
    table = Table(f"MobileNet depthwise layers, instructions per MAC on {cpu}: 3x3, padding 1, ReLU6, batch 1, "
                  f"1 thread; {FLOOR}",
                  [Column("layer"), Column("V1", "d"), Column("V2", "d"), Column("MACs", COUNT),
                   Column("instructions", COUNT), *(Column(short(c), RATIO) for c in calls)],
                  notes=["instructions: the dispatched kernel's, one layer; V1, V2: the layer's uses in "
                         "MobileNetV1, MobileNetV2; <ukernel>: PackedDepthwiseConv2d(ukernel=...), blank where "
                         "it has another stride"])
    for name, layer in layers.items():
        table.add(name, layer["v1"], layer["v2"], layer["macs"], layer["dispatched"],
                  *(layer[c] / layer["macs"] if c in layer else None for c in calls))
    table.rule()
    for model in ("v1", "v2"):
        total = sum(layer[model] * layer["dispatched"] for layer in layers.values())
        table.add(f"MobileNet{model.upper()} (summed)", None, None,
                  sum(layer[model] * layer["macs"] for layer in layers.values()), total,
                  *([None] * len(calls)))
    return [table]


def pointwise(regions: list[Region], cpu: str) -> list[Table]:
    calls = list(dict.fromkeys(r.what["call"] for r in regions))
    layers: dict[int, dict] = {}
    for r in regions:
        layer = layers.setdefault(r.what["layer"], {"shape": r.what["shape"], "macs": r.what["macs"]})
        layer[r.what["call"]] = r.instructions
    table = Table(f"Pointwise, instructions per MAC on {cpu}: the 13 MobileNetV1 1x1 layers, batch 1, 1 thread; "
                  f"{FLOOR}",
                  [Column("layer"), Column("MACs", COUNT), *(Column(short(c), RATIO) for c in calls)],
                  notes=["pointwise_conv2d(): the one-shot call, weight packing included; "
                         "<ukernel>: PackedConv2d(ukernel=...), weights packed beforehand"])
    for i, layer in layers.items():
        table.add(f"{i:2}  {layer['shape']}", layer["macs"], *(layer[c] / layer["macs"] for c in calls))
    table.rule()
    macs = sum(layer["macs"] for layer in layers.values())
    totals = [sum(layer[c] for layer in layers.values()) for c in calls]
    table.add("all 13 (summed)", macs, *(t / macs for t in totals))
    table.add("  instructions", None, *(f"{t:,}" for t in totals))
    return [table]


def sparse(regions: list[Region], cpu: str) -> list[Table]:
    instructions: dict[str, int] = defaultdict(int)
    macs: dict[str, int] = defaultdict(int)
    for r in regions:
        instructions[r.what["weights"]] += r.instructions
        macs[r.what["weights"]] += r.what["macs"]
    dense = instructions["dense"]
    table = Table(f"Sparse pointwise on {cpu}: the 13 MobileNetV1 1x1 layers, batch 1, 1 thread, operators "
                  "built beforehand; MACs = non-zero weights x pixels",
                  [Column("weights"), Column("MACs", COUNT), Column("instructions", COUNT), Column("/MAC", RATIO),
                   Column("fewer than dense", ".2f", "x")])
    for weights in instructions:
        table.add(weights, macs[weights], instructions[weights], instructions[weights] / macs[weights],
                  dense / instructions[weights])
    return [table]


def gemv(regions: list[Region], cpu: str) -> list[Table]:
    table = Table(f"Matrix times vector, instructions per MAC on {cpu}: linear heads and squeeze-excitation "
                  f"1x1 convolutions of a pooled tensor, 1 thread; {FLOOR}",
                  [Column("layer"), Column("op"), Column("batch", "d"), Column("MACs", COUNT),
                   Column("instructions", COUNT), Column("/MAC", RATIO)],
                  notes=["a one-node graph built beforehand (weights packed once): batch 1 runs the GEMV kernel, "
                         "batch 3 the GEMM kernel over the same panels"])
    for r in regions:
        table.add(r.what["layer"], r.what["op"], r.what["batch"], r.what["macs"], r.instructions,
                  r.instructions / r.what["macs"])
    return [table]


def winograd(regions: list[Region], cpu: str) -> list[Table]:
    table = Table(f"Dense 3x3 stride-1 convolutions by Winograd F(4x4, 3x3) and im2col + GEMM, instructions on "
                  f"{cpu}: padding 1, batch 1, 1 thread",
                  [Column("layer"), Column("tiles", "d"), Column("MACs", COUNT), Column("gemm", COUNT),
                   Column("winograd", COUNT), Column("gemm / winograd", RATIO), Column("F(6x6)", COUNT),
                   Column("F(6x6) / winograd", RATIO)],
                  notes=["MACs of the direct convolution; tiles: 4x4 output tiles of the call; winograd: F(4x4, 3x3), "
                         "as the engine runs it; F(6x6): PackedWinogradConv2d(tile=6)"])
    by_layer: dict[str, dict[str, Region]] = defaultdict(dict)
    for r in regions:
        by_layer[r.what["layer"]][r.what["algorithm"]] = r
    for layer, runs in by_layer.items():
        gemm, winograd, f6 = runs["gemm"], runs["winograd"], runs["winograd F(6x6)"]
        table.add(layer, gemm.what["tiles"], gemm.what["macs"], gemm.instructions, winograd.instructions,
                  gemm.instructions / winograd.instructions, f6.instructions, f6.instructions / winograd.instructions)
    return [table]


def imports(regions: list[Region], cpu: str) -> list[Table]:
    table = Table(f"Imports in the guest Python on {cpu} (modules compiled to bytecode, as installed)",
                  [Column("import"), Column("instructions", COUNT), Column("with those above", COUNT)],
                  notes=["in this order, in one process: each after the ones above it"])
    total = 0
    for r in regions:
        total += r.instructions
        table.add(f"import {r.what['module']}", r.instructions, total)
    return [table]


def models(regions: list[Region], cpu: str, peer: list[Region] | None = None) -> list[Table]:
    """Whole forwards (what: model, runtime, macs) and, where the guest counts them, single
    layers (what: also layer, type, shape, macs). Each forward against ncnn fp32's forward of the
    model: in these regions or the peer's (counted in the same run), else NCNN_STATED."""
    forwards = [r for r in regions if "layer" not in r.what]
    layers: dict[tuple[str, str], list[Region]] = defaultdict(list)
    for r in regions:
        if "layer" in r.what:
            layers[r.what["model"], r.what["runtime"]].append(r)
    ncnn = {r.what["model"]: r.instructions for r in [*regions, *(peer or [])]
            if "layer" not in r.what and r.what["runtime"] == NCNN}
    reference = f"vs {NCNN}: its forward counted in this run"
    if not ncnn:
        ncnn = NCNN_STATED.get(cpu, {})
        reference = (f"vs {NCNN}: NOT counted in this run; against the stated counts "
                     f"{', '.join(f'{m} {n:,}' for m, n in ncnn.items()) or '(none for this CPU model)'}")
    summary = Table(f"Whole models on {cpu}: one forward, 224x224, batch 1, 1 thread",
                    [Column("model"), Column("runtime"), Column("MACs", COUNT), Column("instructions", COUNT),
                     Column("/MAC", RATIO), Column("layers summed", COUNT), Column("/MAC", RATIO),
                     Column(f"vs {NCNN}", RATIO, "x"), Column(f"outside {CORE}", ".1%")],
                    notes=["layers summed: the same network run one layer per marked region (ncnn: the final "
                           "output's conversion excluded; pyprune: each node a one-node graph, one call from "
                           "Python into the engine each)", reference])
    for r in forwards:
        per_layer = layers.get((r.what["model"], r.what["runtime"]), [])
        summed = sum(x.instructions for x in per_layer) if per_layer else None
        base = ncnn.get(r.what["model"])
        summary.add(r.what["model"], r.what["runtime"], r.what["macs"], r.instructions,
                    r.instructions / r.what["macs"], summed, None if summed is None else summed / r.what["macs"],
                    None if base is None else r.instructions / base, outside_core(r))
    tables = [summary, by_object(forwards, cpu)]
    for (model, runtime), rs in layers.items():
        total = sum(r.instructions for r in rs)
        table = Table(f"{model}, {runtime}, per layer on {cpu}",
                      [Column("#", "d"), Column("type"), Column("layer"), Column("output"), Column("MACs", COUNT),
                       Column("instructions", COUNT), Column("/MAC", RATIO), Column("share", ".1%")])
        for i, r in enumerate(rs, 1):
            macs = r.what["macs"]
            table.add(i, r.what["type"], r.what["layer"], "x".join(map(str, r.what["shape"])), macs or None,
                      r.instructions, r.instructions / macs if macs else None, r.instructions / total)
        table.rule()
        macs = sum(r.what["macs"] for r in rs)
        table.add(None, "all layers", None, None, macs, total, total / macs, 1.0)
        tables.append(table)
    return tables


def layers(regions: list[Region], cpu: str, peer: list[Region] | None = None) -> list[Table]:
    """One-layer networks (common_layers.py) of pyprune's runtime against ncnn fp32's, in these
    regions and the peer's: per network, its layer regions summed (pyprune: one node; ncnn: its
    layers but Input, the final output's conversion excluded)."""
    per_runtime: dict[tuple[str, str], list[Region]] = defaultdict(list)
    for r in [*regions, *(peer or [])]:
        if "layer" in r.what:
            per_runtime[r.what["model"], r.what["runtime"]].append(r)
    table = Table(f"Common convolutions on {cpu}: one layer, batch 1, 1 thread",
                  [Column("layer"), Column("pyprune kernel"), Column("MACs", COUNT), Column("pyprune", COUNT),
                   Column("/MAC", RATIO), Column(NCNN, COUNT), Column("/MAC", RATIO),
                   Column(f"vs {NCNN}", RATIO, "x")],
                  notes=["each count: the layer's regions summed, one call into the runtime each "
                         "(its cost is in the count)"])
    for model in dict.fromkeys(r.what["model"] for r in [*regions, *(peer or [])]):
        ours, theirs = per_runtime.get((model, "pyprune"), []), per_runtime.get((model, NCNN), [])
        macs = next((r.what["macs"] for r in [*ours, *theirs] if r.what["macs"]), None)
        mine = sum(r.instructions for r in ours) if ours else None
        base = sum(r.instructions for r in theirs) if theirs else None
        table.add(model, ", ".join(r.what["type"] for r in ours) or None, macs, mine,
                  None if mine is None or not macs else mine / macs, base,
                  None if base is None or not macs else base / macs,
                  None if mine is None or base is None else mine / base)
    return [table]


def outside_core(region: Region) -> float | None:
    """The share of a pyprune region's instructions spent outside pyprune's extension module
    (Python, numpy, libc, the loader); None for regions without it."""
    core = sum(n for o, n in region.objects.items() if o.startswith(CORE))
    return 1 - core / region.instructions if core else None


def by_object(forwards: list[Region], cpu: str) -> Table:
    """Each forward's instructions by the shared object that executed them, the largest first
    (those under 0.1 % summed on one line)."""
    table = Table(f"Whole forwards on {cpu} by shared object",
                  [Column("model"), Column("runtime"), Column("object"), Column("instructions", COUNT),
                   Column("share", ".1%")])
    for r in forwards:
        small = 0
        for name, n in sorted(r.objects.items(), key=lambda item: -item[1]):
            if n >= r.instructions / 1000:
                table.add(r.what["model"], r.what["runtime"], name, n, n / r.instructions)
            else:
                small += n
        if small:
            table.add(r.what["model"], r.what["runtime"], "(the rest)", small, small / r.instructions)
    return table


def short(name: str) -> str:
    """A microkernel's name without the operator prefix: pp_f32_gemm_minmax_ukernel_8x8__neon -> 8x8__neon."""
    for prefix in ("pp_f32_dwconv2d_chw_", "pp_f32_gemm_minmax_ukernel_", "pp_f32_gemv_minmax_ukernel_",
                   "pp_f32_spmm_minmax_ukernel_"):
        name = name.removeprefix(prefix)
    return name
