#!/usr/bin/env python3
"""What pyprune's NEON kernels cost on ARM, measured without ARM hardware.

    .venv/bin/python scripts/arm_cost.py                       # every section, cortex-a72
    .venv/bin/python scripts/arm_cost.py --sections pointwise,gemm-loop --cpus cortex-a53,cortex-a72
    python3 scripts/arm_cost.py --list

Counted sections run a guest script (scripts/arm_cost/guest/) in Debian 12's aarch64 Python 3.11
under QEMU with pyprune's instruction counter (scripts/arm-count, set up on the first run: root
once, for Debian packages) on the aarch64 wheel of scripts/build-aarch64-wheel.sh, and report the
instructions of the regions it marks: per multiply-accumulate for kernels (the fp32 floor is 0.25,
one 4-lane FMLA per 4 MACs), per forward and per layer for whole models. The ncnn section exports
its models with torch and pnnx on the host, the models section captures and packs the same models
for pyprune's runtime with torch, so both need the development venv (make install); run together,
models gives its forwards against ncnn's of the same run. ncnn-layers and layers do the same for
the common convolutions one at a time (first layers, depthwise 3x3/5x5/7x7, grouped, dilated,
strided), each against ncnn's count of the same layer.
Inner-loop sections compile a NEON kernel for one core and give llvm-mca's cycles per iteration
of its inner loop against the FMA bound. Counts are exact and repeat from run to run; they are
not cycles, and llvm-mca's are estimates from its models of the cores, not board timings.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from arm_cost import counter
from arm_cost.counter import REPO, CountError
from arm_cost.mca import MCAError
from arm_cost.ncnn_peer import PeerError
from arm_cost.sections import SECTIONS, Counted, Run


def main(argv: list[str] | None = None) -> int:
    names = [s.name for s in SECTIONS]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", default=",".join(names), help=f"comma-separated, of: {', '.join(names)}")
    parser.add_argument("--cpus", default="cortex-a72", help="CPU models for the counts: cortex-a53, cortex-a72, "
                        "cortex-a76 (Raspberry Pi 3, 4, 5); default cortex-a72")
    parser.add_argument("--mca-cpus", default="cortex-a53,cortex-a72", help="CPU models for llvm-mca "
                        "(default cortex-a53,cortex-a72)")
    parser.add_argument("--wheel", type=Path, help="the aarch64 wheel (default: the newest "
                        "dist/pyprune-*manylinux*_aarch64.whl)")
    parser.add_argument("--reference", action="store_true", help="also count the scalar reference GEMM "
                        "kernel on the pointwise layers (slow under emulation)")
    parser.add_argument("--list", action="store_true", help="list the sections and exit")
    args = parser.parse_args(argv)
    if args.list:
        for s in SECTIONS:
            print(s.name)
        return 0
    chosen = [name.strip() for name in args.sections.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(names))
    if unknown or not chosen:
        parser.error(f"unknown sections {unknown}: choose from {', '.join(names)}" if unknown else "no section")
    sections = [s for s in SECTIONS if s.name in chosen]
    cpus = [c.strip() for c in args.cpus.split(",") if c.strip()]
    try:
        with tempfile.TemporaryDirectory(prefix="arm-cost-") as work:
            wheel_site = None
            if any(isinstance(s, Counted) for s in sections):
                wheel_site = prepare_counter(args.wheel, cpus, Path(work))
            run = Run(wheel_site, cpus, [c.strip() for c in args.mca_cpus.split(",") if c.strip()], args.reference,
                      Path(work))
            prepared = [(section, section.prepare(run)) for section in sections]
            for section, made in prepared:
                start = time.monotonic()
                for table in section.tables(run, made):
                    print(f"\n{table}", flush=True)
                print(f"({section.name}: {time.monotonic() - start:.0f} s)", flush=True)
    except (CountError, MCAError, PeerError) as e:
        print(f"arm-cost: {e}", file=sys.stderr)
        return 1
    return 0


def prepare_counter(wheel: Path | None, cpus: list[str], work: Path) -> Path:
    """Sets the counter up and returns the wheel unpacked and compiled for the guest."""
    if wheel is None:
        wheels = sorted(REPO.glob("dist/pyprune-*manylinux*_aarch64.whl"), key=lambda p: p.stat().st_mtime)
        if not wheels:
            raise CountError("no aarch64 wheel in dist/: run scripts/build-aarch64-wheel.sh or pass --wheel")
        wheel = wheels[-1]
    if not wheel.is_file():
        raise CountError(f"no wheel {wheel}")
    counter.setup()
    missing = [c for c in cpus if c not in counter.cpu_models()]
    if missing or not cpus:
        raise CountError(f"no CPU model {missing}: the counter has {', '.join(counter.cpu_models())}")
    built = time.strftime("%Y-%m-%d %H:%M", time.localtime(wheel.stat().st_mtime))
    print(f"arm-cost: wheel {wheel.name} (built {built})", flush=True)
    site = work / "wheel"
    zipfile.ZipFile(wheel).extractall(site)
    counter.compile_bytecode(site)
    return site


if __name__ == "__main__":
    sys.exit(main())
