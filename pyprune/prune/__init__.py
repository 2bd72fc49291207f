"""Pruning (needs torch): importance criteria, structured filter pruning that removes channels,
unstructured and block magnitude masks, schedules with a prune -> fine-tune loop, and
sensitivity analysis."""

from pyprune._optional import require

require("torch", "torch", __name__)

from pyprune.prune.errors import PruningError  # noqa: E402
from pyprune.prune.filters import prune_filters  # noqa: E402
from pyprune.prune.history import History, Step  # noqa: E402
from pyprune.prune.importance import APoZ, FPGM, L0, L1, L2, Importance, Random, Taylor, WeightCriterion  # noqa: E402
from pyprune.prune.loop import FilterPruning, MagnitudePruning, PruningMethod, prune_and_finetune  # noqa: E402
from pyprune.prune.masks import BLOCK_SIZES, Scope, WeightMask, make_permanent, mask_of, prune_magnitude, sparsity  # noqa: E402
from pyprune.prune.plan import apply_channel_plan, channel_plan  # noqa: E402
from pyprune.prune.pruners import (  # noqa: E402
    BatchNormPruner,
    ConvPruner,
    DepthwiseConvPruner,
    LinearPruner,
    ModulePruner,
    register_pruner,
)
from pyprune.prune.schedule import GradualCubic, Iterative, OneShot, Schedule  # noqa: E402
from pyprune.prune.sensitivity import Granularity, Sensitivity, sensitivity  # noqa: E402

__all__ = [
    "APoZ",
    "BLOCK_SIZES",
    "BatchNormPruner",
    "ConvPruner",
    "DepthwiseConvPruner",
    "FPGM",
    "FilterPruning",
    "Granularity",
    "GradualCubic",
    "History",
    "Importance",
    "Iterative",
    "L0",
    "L1",
    "L2",
    "LinearPruner",
    "MagnitudePruning",
    "ModulePruner",
    "OneShot",
    "PruningError",
    "PruningMethod",
    "Random",
    "Schedule",
    "Scope",
    "Sensitivity",
    "Step",
    "Taylor",
    "WeightCriterion",
    "WeightMask",
    "apply_channel_plan",
    "channel_plan",
    "make_permanent",
    "mask_of",
    "prune_and_finetune",
    "prune_filters",
    "prune_magnitude",
    "register_pruner",
    "sensitivity",
    "sparsity",
]
