"""llvm-mca on the inner loops of NEON microkernels: a kernel's source compiled for one core
(aarch64-linux-gnu-g++ -O3 -mcpu=CPU -S), its innermost loops found in the assembly, and one of
them run through llvm-mca's model of that core: cycles per iteration against the bound set by its
FMLAs (one 4-lane FMLA per FMA pipe and cycle)."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from arm_cost.counter import REPO

CSRC = REPO / "csrc"
CXX = "aarch64-linux-gnu-g++"
LLVM_MCA = ("llvm-mca", *(f"llvm-mca-{v}" for v in range(19, 13, -1)))
ITERATIONS = 200

_CONDITIONS = "eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al|nv"
_JUMP_TO_LABEL = re.compile(rf"(?:b|b\.?(?:{_CONDITIONS})|cbn?z|tbn?z)\s+(?:.*,\s*)?(\.L\w+|\d+b)$")
_ANY_BRANCH = re.compile(rf"(?:b|b\.?(?:{_CONDITIONS})|cbn?z|tbn?z|br|blr?|ret)(?:\s|$)")
_LABEL = re.compile(r"(\.L\w+|\d+):")


class MCAError(RuntimeError):
    pass


@dataclass(frozen=True)
class Ukernel:
    """A NEON row of an operator list (csrc/<op>/<op>.inc)."""

    name: str
    params: tuple[int, ...]  # the row's numbers after the name: tile sizes, kernel size, ...
    production: bool
    source: Path  # the one .cc file of the list's folder that defines it


@dataclass(frozen=True)
class LoopCost:
    instructions: int
    fmla: int
    cycles: float  # llvm-mca's cycles per iteration
    model_fmla: float  # cycles the core model books for the FMLAs alone, per FMA pipe

    def fma_bound(self, pipes: int) -> float:
        return self.fmla / pipes


def neon_ukernels(inc: Path) -> list[Ukernel]:
    rows = re.findall(r"^PP_\w+_UKERNEL\(pp_isa_neon,\s*(\w+),\s*([^)]*)\)", inc.read_text(), re.M)
    if not rows:
        raise MCAError(f"no NEON row in {inc}")
    kernels = []
    for name, rest in rows:
        fields = [t.strip() for t in rest.split(",")]
        # The row's numbers (tile sizes, kernel size, ...), then PP_PRODUCTION or PP_VARIANT and any
        # flag of the list's own (f32-gemm.inc's strips).
        numbers = tuple(int(t) for t in fields if t.isdigit())
        sources = [p for p in sorted(inc.parent.glob("*.cc")) if re.search(rf"\b{name}\b", p.read_text())]
        if len(sources) != 1:
            raise MCAError(f"{name} is defined in {len(sources)} files of {inc.parent}, expected 1")
        kernels.append(Ukernel(name, numbers, "PP_PRODUCTION" in fields, sources[0]))
    return kernels


def assembly(source: Path, cpu: str) -> str:
    run = subprocess.run([CXX, "-std=c++17", "-O3", f"-mcpu={cpu}", f"-I{CSRC / 'include'}",
                          "-DPYPRUNE_ARCH_AARCH64=1", "-S", "-o", "-", str(source)], capture_output=True, text=True)
    if run.returncode != 0:
        raise MCAError(f"{CXX} failed on {source}:\n{run.stderr}")
    return run.stdout


def innermost_loops(asm: str) -> list[list[str]]:
    """Every loop closed by a backward branch over a body without other branches, as its
    instructions with the branch retargeted to .Lmca_loop (a label llvm-mca accepts)."""
    lines = [line.split("//")[0].strip() for line in asm.splitlines()]
    labels: dict[str, int] = {}
    loops = []
    for i, line in enumerate(lines):
        label = _LABEL.fullmatch(line)
        if label:
            labels[label.group(1)] = i
            continue
        jump = _JUMP_TO_LABEL.fullmatch(line)
        if not jump:
            continue
        target = jump.group(1).removesuffix("b") if jump.group(1)[0].isdigit() else jump.group(1)
        if target not in labels:  # not backward
            continue
        body = [x for x in lines[labels[target] + 1:i] if re.match(r"[a-z]", x)]
        if not any(_ANY_BRANCH.match(x) for x in body):
            loops.append([*body, line[:jump.start(1)] + ".Lmca_loop"])
    return loops


def main_loop(loops: list[list[str]], clamp: bool | None = None) -> list[str]:
    """The loop with the most FMLAs (the fewest instructions among equals); with clamp True or
    False, only loops with or without an FMAX (the activation's clamp)."""
    if clamp is not None:
        loops = [loop for loop in loops if any(x.startswith("fmax") for x in loop) == clamp]
    loops = [loop for loop in loops if _fmla(loop)]
    if not loops:
        raise MCAError("no inner loop with FMLAs" + ("" if clamp is None else f" (clamp {clamp})"))
    return max(loops, key=lambda loop: (_fmla(loop), -len(loop)))


def analyse(loop: list[str], cpu: str) -> LoopCost:
    text = ".Lmca_loop:\n" + "\n".join(loop) + "\n"
    run = subprocess.run([llvm_mca(), "-mtriple=aarch64", f"-mcpu={cpu}", f"-iterations={ITERATIONS}"], input=text,
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise MCAError(f"llvm-mca failed for {cpu}:\n{run.stderr}")
    return parse_mca(run.stdout, loop, fma_pipes(cpu))


def parse_mca(report: str, loop: list[str], pipes: int) -> LoopCost:
    iterations = int(_field(report, r"Iterations:\s+(\d+)"))
    cycles = int(_field(report, r"Total Cycles:\s+(\d+)")) / iterations
    # Resource cycles of the FMLA lines (the columns before the instruction text): the model's own
    # FMLA cost, which differs from the bound where it models a 128-bit FMLA as two pipe cycles.
    pressure = report.split("Resource pressure by instruction:")[1]
    model = sum(float(t) for line in pressure.splitlines() if re.search(r"\sfmla\s", line)
                for t in re.findall(r"\d+\.\d+", line.split("fmla")[0]))
    return LoopCost(len(loop), _fmla(loop), cycles, model / pipes)


def fma_pipes(cpu: str) -> int:
    """Pipes that start a 128-bit FMLA each cycle: Cortex-A53/A55 have one NEON FMA path,
    Cortex-A72 and A76 two (F0/F1, V0/V1)."""
    return 1 if cpu in ("cortex-a53", "cortex-a55") else 2


def llvm_mca() -> str:
    for name in LLVM_MCA:
        if shutil.which(name):
            return name
    raise MCAError("llvm-mca not found (Debian: apt-get install llvm)")


def llvm_version() -> str:
    run = subprocess.run([llvm_mca(), "--version"], capture_output=True, text=True)
    return _field(run.stdout, r"LLVM version ([\d.]+)")


def _fmla(loop: list[str]) -> int:
    return sum(x.startswith("fmla") for x in loop)


def _field(text: str, pattern: str) -> str:
    m = re.search(pattern, text)
    if not m:
        raise MCAError(f"llvm-mca's report has no {pattern!r}")
    return m.group(1)
