"""Counting: a guest script (guest/) runs under pyprune's instruction counter (scripts/arm-count)
and marks regions (guest/marks.py); its records and the counter's JSON report give each region's
instructions, the marker's own cost taken off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
ARM_COUNT = REPO / "scripts" / "arm-count"
GUEST = Path(__file__).resolve().parent / "guest"
# What the counter's setup makes: $PYPRUNE_A64/count (PYPRUNE_A64: see scripts/aarch64-env.sh).
CACHE = Path(os.environ.get("PYPRUNE_A64", Path.home() / ".cache" / "pyprune-aarch64")) / "count"


class CountError(RuntimeError):
    pass


@dataclass(frozen=True)
class Region:
    what: dict[str, Any]  # what the guest said the region holds
    instructions: int
    objects: dict[str, int] = field(default_factory=dict)  # instructions per shared object (file name)


def setup() -> None:
    """Prepares the counter (idempotent; root the first time, for Debian packages). Its output
    goes to stderr: stdout is the report's."""
    _run_tool(["bash", str(ARM_COUNT / "setup.sh")], stdout=sys.stderr)


def cpu_models() -> list[str]:
    """The CPU models the counter has a userland view for (after setup())."""
    return sorted(p.name.removeprefix("root-") for p in CACHE.glob("root-*"))


def compile_bytecode(*dirs: Path) -> None:
    """Compiles the Python modules under dirs for the guest Python, as pip does when installing:
    imports then cost what they cost on a board."""
    _run_tool(["bash", str(ARM_COUNT / "count.sh"), "pyc", *map(str, dirs)])


def count(script: str, args: Sequence[str], cpu: str, pythonpath: Sequence[Path]) -> list[Region]:
    """Runs guest/<script> REGIONS.json *args on the CPU model `cpu` with the guest path
    `pythonpath` (before numpy's site), and returns the regions it marked."""
    with tempfile.TemporaryDirectory(prefix="arm-cost-") as tmp:
        records, report = Path(tmp) / "regions.json", Path(tmp) / "report.json"
        env = {**os.environ, "QEMU_CPU": cpu, "INSNCOUNT_ARGS": f"quiet=1,out={report}",
               "A64_PYTHONPATH": os.pathsep.join(map(str, pythonpath))}
        run = subprocess.run(["bash", str(ARM_COUNT / "count.sh"), "py", str(GUEST / script), str(records), *args],
                             env=env, capture_output=True, text=True)
        if run.returncode != 0:
            raise CountError(f"{script} on {cpu} failed (exit {run.returncode}):\n{run.stdout}{run.stderr}")
        return regions(json.loads(records.read_text()), json.loads(report.read_text()))


def regions(records: list[dict[str, Any]], report: dict[str, Any]) -> list[Region]:
    """Each record's instructions, in all and per shared object: the counter's counts at its end
    and start markers, less those of the first record, which is the empty region."""
    marks = {m["tag"]: m for m in report["marks"]}
    names = [Path(o).name for o in report.get("objs", [])]
    if not records or records[0]["what"] != {"empty": True}:
        raise CountError("the guest's first region must be the empty one (guest/marks.py)")

    def between(record: dict[str, Any]) -> tuple[int, Counter[str]]:
        missing = [t for t in (record["start"], record["end"]) if t not in marks]
        if missing:
            raise CountError(f"markers {missing} of region {record['what']} are not in the counter's report")
        start, end = marks[record["start"]], marks[record["end"]]
        objects: Counter[str] = Counter()
        for index, n in end.get("counts", {}).items():
            objects[names[int(index)]] += n - start.get("counts", {}).get(index, 0)
        return end["total"] - start["total"], objects

    empty, empty_objects = between(records[0])
    result = []
    for r in records[1:]:
        total, objects = between(r)
        objects.subtract(empty_objects)
        result.append(Region(r["what"], total - empty, {o: n for o, n in objects.items() if n > 0}))
    return result


def _run_tool(command: list[str], **kwargs: Any) -> None:
    """Runs one of the counter's scripts, whose own messages say what went wrong."""
    code = subprocess.run(command, **kwargs).returncode
    if code != 0:
        raise CountError(f"{' '.join(command[1:])} failed (exit {code}): see its messages above")
