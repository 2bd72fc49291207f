"""What importing costs in the guest Python: numpy, then pyprune (the package: its kernels),
pyprune.runtime (what a board that runs packed files imports besides) and ncnn, each with the
ones before it already imported (numpy: as in any program that feeds them arrays). One region
per import, in that order; the peer comes last, so it finds the shared C++ runtime loaded.

    python imports.py REGIONS.json
"""

from __future__ import annotations

import importlib
import sys

from marks import Regions


def main(out: str) -> None:
    regions = Regions()
    for module in ("numpy", "pyprune", "pyprune.runtime", "ncnn"):
        with regions.count(module=module):
            importlib.import_module(module)
    regions.save(out)


if __name__ == "__main__":
    main(*sys.argv[1:])
