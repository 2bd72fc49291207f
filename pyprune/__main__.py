import sys

from pyprune.cli import main

sys.exit(main())
