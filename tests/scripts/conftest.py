import sys
from pathlib import Path

# scripts/ holds the arm_cost package (scripts/arm_cost/) that scripts/arm_cost.py runs.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
