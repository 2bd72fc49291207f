"""Pruning (needs torch): importance criteria, structured filter pruning that removes channels,
unstructured and block magnitude masks, schedules with a prune -> fine-tune loop, and
sensitivity analysis."""

from pyprune._optional import require

require("torch", "torch", __name__)

from pyprune.prune.errors import PruningError  # noqa: E402
from pyprune.prune.filters import prune_filters  # noqa: E402
from pyprune.prune.history import History, Step  # noqa: E402
from pyprune.prune.importance import (  # noqa: E402
    APoZ,
    BNScale,
    FPGM,
    GroupImportance,
    Importance,
    L0,
    L1,
    L2,
    Random,
    Taylor,
    WeightCriterion,
)
from pyprune.prune.loop import (  # noqa: E402
    FilterPruning,
    MagnitudePruning,
    PruningMethod,
    bn_scale_penalty,
    prune_and_finetune,
)
from pyprune.prune.masks import BLOCK_SIZES, Scope, WeightMask, make_permanent, mask_of, prune_magnitude, sparsity  # noqa: E402
from pyprune.prune.plan import apply_channel_plan, channel_plan  # noqa: E402
from pyprune.prune.pruners import (  # noqa: E402
    BatchNormPruner,
    ConvPruner,
    ConvTransposePruner,
    DepthwiseConvPruner,
    LinearPruner,
    ModulePruner,
    register_pruner,
)
from pyprune.prune.report import PruningReport, PruningWarning, pruning_report  # noqa: E402
from pyprune.prune.rules import OpCall, blocking, elementwise, moves, register_channel_rule  # noqa: E402
from pyprune.prune.schedule import GradualCubic, Iterative, OneShot, Schedule  # noqa: E402
from pyprune.prune.sensitivity import Granularity, Sensitivity, sensitivity  # noqa: E402
from pyprune.prune.target import Target  # noqa: E402

__all__ = [
    "APoZ",
    "BLOCK_SIZES",
    "BNScale",
    "BatchNormPruner",
    "ConvPruner",
    "ConvTransposePruner",
    "DepthwiseConvPruner",
    "FPGM",
    "FilterPruning",
    "Granularity",
    "GradualCubic",
    "GroupImportance",
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
    "OpCall",
    "PruningError",
    "PruningMethod",
    "PruningReport",
    "PruningWarning",
    "Random",
    "Schedule",
    "Scope",
    "Sensitivity",
    "Step",
    "Target",
    "Taylor",
    "WeightCriterion",
    "WeightMask",
    "apply_channel_plan",
    "bn_scale_penalty",
    "blocking",
    "channel_plan",
    "elementwise",
    "make_permanent",
    "mask_of",
    "moves",
    "prune_and_finetune",
    "prune_filters",
    "prune_magnitude",
    "pruning_report",
    "register_channel_rule",
    "register_pruner",
    "sensitivity",
    "sparsity",
]
