"""pyprune's NEON cost without ARM hardware (scripts/arm_cost.py): instruction counts under the
project's instruction counter (scripts/arm-count) and llvm-mca on inner loops. guest/ holds the
scripts that run in the emulated aarch64 Python."""
