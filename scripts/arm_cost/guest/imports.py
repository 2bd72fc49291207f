"""What importing costs in the guest Python: numpy, then ncnn and pyprune with numpy already
imported (as in any program that feeds them arrays). One region per import, in that order.

    python imports.py REGIONS.json
"""

from __future__ import annotations

import sys

from marks import Regions


def main(out: str) -> None:
    regions = Regions()
    with regions.count(module="numpy"):
        import numpy  # noqa: F401
    with regions.count(module="ncnn"):
        import ncnn  # noqa: F401
    with regions.count(module="pyprune"):
        import pyprune  # noqa: F401
    regions.save(out)


if __name__ == "__main__":
    main(*sys.argv[1:])
