"""Capturing a torch model's inference graph (torch.export), lowering it to pyprune's operator
set, optimising it, choosing where each node runs by measurement, and running it as engine
segments inside a torch.fx module (needs torch)."""

from pyprune._optional import require

require("torch", "torch", __name__)
