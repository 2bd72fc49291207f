"""`pyprune demo`: the whole path on built-in data (scikit-learn's digits), from training to a
packed file running on pyprune's kernels (needs torch, scikit-learn, tqdm and matplotlib)."""

from pyprune._optional import require

# scikit-learn, slow to import, is required where the data is loaded.
for _module in ("torch", "tqdm", "matplotlib"):
    require(_module, "demo", __name__)

from pyprune.demo.pipeline import DemoConfig, DemoResult, run_demo  # noqa: E402

__all__ = ["DemoConfig", "DemoResult", "run_demo"]
