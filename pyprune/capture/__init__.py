"""Capturing a torch model's inference graph and lowering it to pyprune's operator set."""
