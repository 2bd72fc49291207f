"""Counting: a guest script (guest/) runs under pyprune's instruction counter (scripts/arm-count)
and marks regions (guest/marks.py); its records and the counter's JSON report give each region's
instructions, the marker's own cost taken off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
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
    """Each record's instructions: the counter's totals at its end and start markers, less those
    of the first record, which is the empty region."""
    totals = {m["tag"]: m["total"] for m in report["marks"]}
    if not records or records[0]["what"] != {"empty": True}:
        raise CountError("the guest's first region must be the empty one (guest/marks.py)")

    def between(record: dict[str, Any]) -> int:
        missing = [t for t in (record["start"], record["end"]) if t not in totals]
        if missing:
            raise CountError(f"markers {missing} of region {record['what']} are not in the counter's report")
        return totals[record["end"]] - totals[record["start"]]

    empty = between(records[0])
    return [Region(r["what"], between(r) - empty) for r in records[1:]]


def _run_tool(command: list[str], **kwargs: Any) -> None:
    """Runs one of the counter's scripts, whose own messages say what went wrong."""
    code = subprocess.run(command, **kwargs).returncode
    if code != 0:
        raise CountError(f"{' '.join(command[1:])} failed (exit {code}): see its messages above")
