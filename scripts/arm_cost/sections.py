"""The sections of the cost report, in one table (SECTIONS), and the two kinds of section. Every
section first prepares on the host (all of them before any measuring starts, so that a missing
host tool fails at once), then measures:

- Counted: a guest script (guest/) runs the aarch64 wheel under the instruction counter on each
  CPU model and marks regions; a report function (reports.py) turns the regions into tables.
  `host` makes what the guest needs: its arguments and the extra path it imports from. A section
  with a `peer` compares with that section's regions of the same run (counted before it: SECTIONS
  order), which its report gets as a third argument (None when the peer did not run).
- InnerLoop: llvm-mca on the main inner loop of NEON microkernels picked from an operator list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from arm_cost import common_layers, mca, ncnn_peer, reports, whole_models
from arm_cost.counter import Region, count
from arm_cost.table import Column, Table


@dataclass(frozen=True)
class Run:
    """What every section of one run shares."""

    wheel_site: Path | None  # the aarch64 wheel, unpacked (for counted sections)
    cpus: list[str]  # CPU models the counts run on
    mca_cpus: list[str]  # CPU models llvm-mca schedules for
    reference: bool  # also count the scalar reference GEMM kernel (pointwise)
    work: Path  # scratch directory for what the host makes
    counted: dict[tuple[str, str], list[Region]] = field(default_factory=dict)  # (section, CPU model) -> regions


@dataclass(frozen=True)
class Guest:
    args: list[str]
    pythonpath: list[Path]


def pyprune_guest(run: Run) -> Guest:
    return Guest([], [run.wheel_site])


def pointwise_guest(run: Run) -> Guest:
    return Guest(["--reference"] if run.reference else [], [run.wheel_site])


def imports_guest(run: Run) -> Guest:
    return Guest([], [run.wheel_site, ncnn_peer.guest_site()])


def ncnn_guest(run: Run) -> Guest:
    return Guest([str(ncnn_peer.export(run.work))], [ncnn_peer.guest_site()])


def models_guest(run: Run) -> Guest:
    return Guest([str(whole_models.pack(run.work))], [run.wheel_site])


def ncnn_layers_guest(run: Run) -> Guest:
    return Guest([str(ncnn_peer.export(run.work, common_layers.build(), "ncnn-layers-plan.json"))],
                 [ncnn_peer.guest_site()])


def layers_guest(run: Run) -> Guest:
    return Guest([str(whole_models.pack(run.work, common_layers.build(), "pyprune-layers-plan.json"))],
                 [run.wheel_site])


@dataclass(frozen=True)
class Counted:
    name: str
    script: str  # in guest/
    report: Callable[..., list[Table]]  # the regions of one CPU model (and the peer's) -> tables
    host: Callable[[Run], Guest] = pyprune_guest
    peer: str | None = None  # the section whose regions the report compares with

    def prepare(self, run: Run) -> Guest:
        return self.host(run)

    def tables(self, run: Run, guest: Guest) -> list[Table]:
        tables = []
        for cpu in run.cpus:
            regions = run.counted[self.name, cpu] = count(self.script, guest.args, cpu, guest.pythonpath)
            peer = [] if self.peer is None else [run.counted.get((self.peer, cpu))]
            tables += self.report(regions, cpu, *peer)
        return tables


MODEL_FMLA = ("model FMLA: the cycles the core model books for the FMLAs, per pipe (LLVM 14 models Cortex-A72 "
              "with Cortex-A57 tables, where a 128-bit FMLA holds its pipe 2 cycles)")


@dataclass(frozen=True)
class InnerLoop:
    name: str
    inc: str  # the operator list, under csrc/
    what: str  # the loop, for the title
    select: Callable[[mca.Ukernel], bool] = lambda u: u.production
    clamps: tuple[bool | None, ...] = (None,)  # None: any loop; True/False: with/without the activation clamp
    unit: tuple[str, Callable[[mca.Ukernel], int]] | None = None  # (name, FMLAs per unit) for cycles per unit
    notes: list[str] = field(default_factory=list)

    def prepare(self, run: Run) -> None:
        mca.llvm_mca()  # found, or an error now

    def tables(self, run: Run, _: None) -> list[Table]:
        unit = [Column(f"cycles/{self.unit[0]}", ".2f")] if self.unit else []
        table = Table(f"llvm-mca {mca.llvm_version()}: {self.what}, g++ -O3 -mcpu=<cpu>; "
                      f"MACs = 4 per FMLA; FMA bound = FMLAs / FMA pipes",
                      [Column("kernel"), Column("cpu"), Column("loop"), Column("instr", "d"), Column("FMLA", "d"),
                       Column("pipes", "d"), Column("FMA bound", ".1f"), Column("model FMLA", ".1f"),
                       Column("mca cycles", ".1f"), Column("vs bound", ".2f", "x"), Column("MAC/cycle", ".2f"),
                       Column("instr/MAC", ".3f"), *unit], notes=[*self.notes, MODEL_FMLA])
        for u in filter(self.select, mca.neon_ukernels(mca.CSRC / self.inc)):
            for cpu in run.mca_cpus:
                loops = mca.innermost_loops(mca.assembly(u.source, cpu))
                for clamp in self.clamps:
                    cost = mca.analyse(mca.main_loop(loops, clamp), cpu)
                    pipes = mca.fma_pipes(cpu)
                    per_unit = [cost.cycles * self.unit[1](u) / cost.fmla] if self.unit else []
                    table.add(reports.short(u.name), cpu, {None: "", True: "clamp", False: "no clamp"}[clamp],
                              cost.instructions, cost.fmla, pipes, cost.fma_bound(pipes), cost.model_fmla,
                              cost.cycles, cost.cycles / cost.fma_bound(pipes), 4 * cost.fmla / cost.cycles,
                              cost.instructions / (4 * cost.fmla), *per_unit)
        return [table]


SECTIONS = (
    Counted("depthwise", "depthwise.py", reports.depthwise),
    InnerLoop("depthwise-loop", "f32-dwconv2d-chw/f32-dwconv2d-chw.inc",
              "one iteration of the 3x3 stride-1 kernel's tile loop (with and without the activation clamp)",
              select=lambda u: u.production and u.params[:2] == (3, 1), clamps=(True, False)),
    Counted("depthwise-layers", "depthwise_layers.py", reports.depthwise_layers),
    Counted("pointwise", "pointwise.py", reports.pointwise, pointwise_guest),
    InnerLoop("gemm-loop", "f32-gemm/f32-gemm.inc", "the k loop of every NEON GEMM kernel, production or not "
              "(inline asm: the same for every -mcpu)", select=lambda u: True),
    Counted("sparse", "sparse.py", reports.sparse),
    InnerLoop("spmm-loop", "f32-spmm/f32-spmm.inc", "the non-zero loop of the SpMM kernels",
              unit=("non-zero", lambda u: u.params[0] // 4),
              notes=["a non-zero weight multiplies mr pixels: mr/4 FMLAs"]),
    Counted("gemv", "gemv.py", reports.gemv),
    InnerLoop("gemv-loop", "f32-gemv/f32-gemv.inc", "the k loop of the GEMV kernels (inline asm: the same for "
              "every -mcpu)"),
    Counted("winograd", "winograd.py", reports.winograd),
    Counted("imports", "imports.py", reports.imports, imports_guest),
    Counted("ncnn", "ncnn_forward.py", reports.models, ncnn_guest),
    Counted("models", "pyprune_forward.py", reports.models, models_guest, peer="ncnn"),
    Counted("ncnn-layers", "ncnn_forward.py", reports.layers, ncnn_layers_guest),
    Counted("layers", "pyprune_forward.py", reports.layers, layers_guest, peer="ncnn-layers"),
)
