"""The graph engine's torch-free side: the IR (ir.py)."""
