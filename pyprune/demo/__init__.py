"""`pyprune demo`: the whole path on built-in data (scikit-learn's digits), from training to a
packed file running on pyprune's kernels (needs torch and scikit-learn)."""

from pyprune.demo.pipeline import DemoConfig, DemoResult, run_demo

__all__ = ["DemoConfig", "DemoResult", "run_demo"]
