"""Type stubs of the C++ extension, generated from the built module by pybind11-stubgen: they
are never edited by hand.

    python scripts/generate_stubs.py           # writes pyprune/_core/__init__.pyi, testing.pyi
    python scripts/generate_stubs.py --check   # exit 1 if the committed stubs are out of date
"""

from __future__ import annotations

import argparse
import filecmp
import subprocess
import sys
import tempfile
from pathlib import Path

STUBS = Path(__file__).resolve().parent.parent / "pyprune" / "_core"


def generate(into: Path) -> Path:
    # Run away from the source tree, whose pyprune/ may hide the installed package.
    subprocess.run([sys.executable, "-m", "pybind11_stubgen", "pyprune._core", "-o", str(into)], check=True,
                   cwd=into, capture_output=True, text=True)
    return into / "pyprune" / "_core"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the committed stubs instead of writing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
        names = sorted(p.name for p in fresh.glob("*.pyi"))
        if args.check:
            committed = sorted(p.name for p in STUBS.glob("*.pyi"))
            match, mismatch, errors = filecmp.cmpfiles(fresh, STUBS, names, shallow=False)
            if committed != names or mismatch or errors:
                print(f"pyprune/_core/*.pyi are out of date ({', '.join(mismatch + errors) or 'files differ'}): "
                      "run python scripts/generate_stubs.py", file=sys.stderr)
                return 1
            return 0
        STUBS.mkdir(exist_ok=True)
        for old in STUBS.glob("*.pyi"):
            old.unlink()
        for name in names:
            (STUBS / name).write_bytes((fresh / name).read_bytes())
    return 0


if __name__ == "__main__":
    sys.exit(main())
