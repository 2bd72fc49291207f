"""Activation microkernels (f32-vunary): every row against the exact function (float64) with the
error bound its list states, against its reference kernel, and (every row and the production
choice, each activation of its kind) against torch; ragged lengths, in place, nothing written
outside the output; the Python activations that name them."""

import math

import numpy as np
import pytest
from activation_reference import exact, gelu_tanh_argument, ulps
from conftest import SMALL_SWEEP

from pyprune import kernels
from pyprune.activation import KINDS, Activation, as_activation

UKERNELS = kernels.testing.vunary_ukernels()
AVAILABLE = kernels.available_isas()
REFERENCE = {u["kind"]: u["name"] for u in UKERNELS if u["isa"] == "scalar"}
IDS = [u["name"] for u in UKERNELS]

# The bounds csrc/f32-vunary/f32-vunary.inc states, in ulp of the exact result (reference
# kernels: 1). gelu_tanh's holds for x >= -1; below, GELU_TANH_RELATIVE * |2u| relative.
BOUNDS = {"clamp": 0, "leaky_relu": 0.5, "hardswish": 3, "hardsigmoid": 2, "sigmoid": 3, "tanh": 3, "silu": 3,
          "gelu": 5, "gelu_tanh": 3, "mish": 4, "elu": 3}
GELU_TANH_RELATIVE = 3 * 2.0**-24
EXP_CUTOFF = 87.3365  # exp(-h) below 2^-126 beyond: flushed to zero
FLT_MIN = 2.0**-126
PARAMS = {"clamp": (-0.75, 0.5, 0.0), "leaky_relu": (-math.inf, math.inf, 0.1), "elu": (-math.inf, math.inf, 1.0)}
NO_PARAMS = (-math.inf, math.inf, 0.0)


def available(ukernel):
    if ukernel["isa"] not in AVAILABLE:
        pytest.skip(f"{ukernel['isa']} not available on this CPU")


def run(kind, x, ukernel=None, params=None, out=None):
    lo, hi, alpha = params or PARAMS.get(kind, NO_PARAMS)
    return kernels._core.activation(x, kind, lo, hi, alpha, out, ukernel)


def sample(rng):
    """Every binade of float32 (subnormals to 2^127) with random mantissas, both signs; a dense
    sweep of [-110, 110]; and the special values."""
    per_binade = 64 if SMALL_SWEEP else 1024
    exponents = np.repeat(np.arange(0, 255, dtype=np.uint32), per_binade)
    mantissas = rng.integers(0, 2**23, exponents.size, dtype=np.uint32)
    binades = (exponents << 23 | mantissas).view(np.float32)
    dense = np.linspace(-110, 110, 20001 if SMALL_SWEEP else 400001, dtype=np.float32)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1e-40, -1e-40, FLT_MIN, -FLT_MIN,
                        np.finfo(np.float32).max, -np.finfo(np.float32).max, 3.0, -3.0, EXP_CUTOFF, -EXP_CUTOFF,
                        9.01, 9.02, -9.02, 13.2, -13.2, 14.0, -14.0], np.float32)
    return np.concatenate([binades, -binades, dense, special])


def measured(kind, x, got):
    """The worst error against the bound's terms: ulp where the bound is in ulp, and whether
    every flushed result (exact value subnormal, or exp(-|x|) below 2^-126) stays within its
    absolute bound."""
    want = exact(kind, x, *PARAMS.get(kind, NO_PARAMS))
    xs = x.astype(np.float64)
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan), f"NaN where {x[np.isnan(got) != nan][:5]}"
    err = ulps(got, want)
    flushed = np.abs(want) < FLT_MIN
    bound = np.full(x.shape, FLT_MIN)
    if kind in ("silu", "gelu_tanh", "mish"):
        w = gelu_tanh_argument(xs) if kind == "gelu_tanh" else xs
        flushed |= w < -EXP_CUTOFF
        bound = np.maximum(bound, np.abs(xs) * FLT_MIN)
    with np.errstate(invalid="ignore"):
        assert np.all(np.abs(got[flushed] - want[flushed]) <= bound[flushed])
    ulp_ok = ~nan & ~flushed
    if kind == "gelu_tanh":
        tail = ulp_ok & (xs < -1)
        relative = np.abs(got[tail] - want[tail]) / np.abs(want[tail])
        assert np.all(relative <= GELU_TANH_RELATIVE * np.abs(gelu_tanh_argument(xs[tail])))
        ulp_ok &= xs >= -1
    return err[ulp_ok].max(initial=0.0)


@pytest.mark.parametrize("ukernel", UKERNELS, ids=IDS)
def test_ukernel_within_its_stated_error(ukernel, rng):
    available(ukernel)
    kind = ukernel["kind"]
    x = sample(rng)
    got = run(kind, x, ukernel["name"])
    bound = min(BOUNDS[kind], 0.5) if ukernel["isa"] == "scalar" else BOUNDS[kind]
    worst = measured(kind, x, got)
    assert worst <= bound, f"{ukernel['name']}: {worst:.3f} ulp, stated {bound}"


@pytest.mark.parametrize("ukernel", UKERNELS, ids=IDS)
def test_ukernel_matches_reference_at_every_length(ukernel, rng):
    """Lengths around the tile (the main loop, single vectors, the ragged tail), in place and
    not, nothing written past the output."""
    available(ukernel)
    kind, tile = ukernel["kind"], ukernel["tile"]
    for n in sorted({1, 2, 3, 4, 5, 7, 8, 9, tile - 1, tile, tile + 1, 2 * tile + 3, 3 * tile + 7} - {0}):
        x = (rng.standard_normal(n) * 4).astype(np.float32)
        want = run(kind, x, REFERENCE[kind])
        buffer = np.full(n + 2, 12345.0, np.float32)
        got = run(kind, x, ukernel["name"], out=buffer[1:-1])
        assert buffer[0] == buffer[-1] == 12345.0, f"n={n}: wrote outside the output"
        tolerance = (BOUNDS[kind] + 1.5) * np.spacing(np.abs(want))
        if kind == "gelu_tanh":
            tolerance += GELU_TANH_RELATIVE * np.abs(gelu_tanh_argument(x.astype(np.float64)) * want)
        if kind in ("silu", "gelu_tanh"):  # a result flushed to zero errs by up to |x| 2^-126 (f32-vunary.inc)
            tolerance += np.abs(x) * FLT_MIN
        np.testing.assert_array_less(np.abs(got - want), tolerance, err_msg=f"n={n}")
        inplace = x.copy()
        run(kind, inplace, ukernel["name"], out=inplace)
        np.testing.assert_array_equal(inplace, got, err_msg=f"n={n} in place")


@pytest.mark.parametrize("params", [(0.0, math.inf, 0.0), (0.0, 6.0, 0.0), (-1.0, 1.0, 0.0), (-math.inf, 0.5, 0.0),
                                    (2.0, 2.0, 0.0)])
@pytest.mark.parametrize("ukernel", [u for u in UKERNELS if u["kind"] == "clamp"], ids=lambda u: u["name"])
def test_clamp_bounds(ukernel, params, rng):
    available(ukernel)
    x = np.concatenate([rng.standard_normal(101).astype(np.float32) * 4, np.float32([np.nan, np.inf, -np.inf, -0.0])])
    want = exact("clamp", x, *params).astype(np.float32)
    np.testing.assert_array_equal(run("clamp", x, ukernel["name"], params), want)


@pytest.mark.parametrize("alpha", [0.0, 0.01, 0.2, -0.5, 3.0])
@pytest.mark.parametrize("ukernel", [u for u in UKERNELS if u["kind"] == "leaky_relu"], ids=lambda u: u["name"])
def test_leaky_relu_slopes(ukernel, alpha, rng):
    available(ukernel)
    x = np.concatenate([rng.standard_normal(101).astype(np.float32) * 4, np.float32([np.nan, np.inf, -np.inf, 0.0])])
    params = (-math.inf, math.inf, alpha)
    with np.errstate(invalid="ignore"):  # 0 * -inf is NaN, as for torch
        want = np.where(x >= 0, x, np.float32(alpha) * x)
    np.testing.assert_array_equal(run("leaky_relu", x, ukernel["name"], params), want)


@pytest.mark.parametrize("alpha", [1.0, 0.01, 0.3, 1.6732632, 3.0])
@pytest.mark.parametrize("ukernel", [u for u in UKERNELS if u["kind"] == "elu"], ids=lambda u: u["name"])
def test_elu_alphas(ukernel, alpha, rng):
    """Within the stated error at every alpha (SELU's among them), -alpha at -inf."""
    available(ukernel)
    x = sample(rng)
    params = (-math.inf, math.inf, alpha)
    got = run("elu", x, ukernel["name"], params)
    want = exact("elu", x, *params)
    ok = ~np.isnan(want)
    assert np.array_equal(np.isnan(got), ~ok)
    bound = min(BOUNDS["elu"], 0.5) if ukernel["isa"] == "scalar" else BOUNDS["elu"]
    assert ulps(got[ok], want[ok]).max() <= bound
    assert got[x == -np.inf][0] == -np.float32(alpha)


# Every activation a row of each kind runs, with torch's float32 function: (torch, tensor) -> tensor.
TORCH = {
    "clamp": [(Activation.relu(), lambda torch, t: torch.relu(t)),
              (Activation.relu6(), lambda torch, t: torch.nn.functional.relu6(t)),
              (Activation.clamp(-0.75, 0.5), lambda torch, t: torch.nn.functional.hardtanh(t, -0.75, 0.5))],
    "leaky_relu": [(Activation.leaky_relu(alpha),
                    lambda torch, t, alpha=alpha: torch.nn.functional.leaky_relu(t, alpha)) for alpha in (0.01, 0.2)],
    **{kind: [(Activation.of(kind), lambda torch, t, kind=kind: getattr(torch.nn.functional, kind)(t))]
       for kind in ("hardswish", "hardsigmoid", "silu", "mish")},
    "sigmoid": [(Activation.of("sigmoid"), lambda torch, t: torch.sigmoid(t))],
    "tanh": [(Activation.of("tanh"), lambda torch, t: torch.tanh(t))],
    "gelu": [(Activation.of("gelu"), lambda torch, t: torch.nn.functional.gelu(t))],
    "gelu_tanh": [(Activation.of("gelu_tanh"), lambda torch, t: torch.nn.functional.gelu(t, approximate="tanh"))],
    "elu": [(Activation.elu(alpha), lambda torch, t, alpha=alpha: torch.nn.functional.elu(t, alpha))
            for alpha in (1.0, 0.3)],
}


def assert_matches_torch(kind, x, got, want, where):
    """torch's float32 functions lose accuracy where ours do not (1 + erf and 1 + tanh cancel
    for x << 0; exp(-x) overflows below -88.7), so the comparison is absolute, and limits at
    -inf where torch computes -inf * 0 = NaN. The piecewise-linear kinds match exactly."""
    torch_nan = np.isnan(want) & ~np.isnan(x)
    infinite = torch_nan & np.isinf(x)
    assert np.all(got[infinite] == np.where(x[infinite] > 0, np.inf, 0.0)), where
    keep = ~torch_nan
    if kind in ("clamp", "leaky_relu"):
        np.testing.assert_array_equal(got[keep], want[keep], err_msg=where)
        return
    atol = 1.5e-6 if kind.startswith("gelu") else 4e-7
    np.testing.assert_allclose(got[keep], want[keep], rtol=2e-6, atol=atol, err_msg=where)
    if kind in ("gelu", "gelu_tanh"):  # torch's loss, not ours: the exact value is the judge
        assert measured(kind, x, got) <= BOUNDS[kind], where


@pytest.mark.parametrize("ukernel", [*UKERNELS, None], ids=[*IDS, "production"])
def test_ukernel_matches_torch_at_every_length(ukernel, rng):
    """Every row (the reference ones too) and the production kernel kernels.activation picks,
    for every activation of the row's kind, against torch: lengths around the tile (the main
    loop, single vectors, the ragged tail), then a dense sweep of [-20, 20] with the specials."""
    torch = pytest.importorskip("torch")
    if ukernel is not None:
        available(ukernel)
    kinds = [ukernel["kind"]] if ukernel else list(TORCH)
    tile = ukernel["tile"] if ukernel else max(u["tile"] for u in UKERNELS if u["isa"] in AVAILABLE)
    lengths = sorted({1, 2, 3, 4, 5, 7, 8, 9, tile - 1, tile, tile + 1, 2 * tile + 3, 3 * tile + 7} - {0})
    inputs = [(rng.standard_normal(n) * 4).astype(np.float32) for n in lengths]
    inputs.append(np.concatenate([np.linspace(-20, 20, 40001, dtype=np.float32),
                                  np.float32([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, -1e-40])]))
    for kind in kinds:
        for act, fn in TORCH[kind]:
            for x in inputs:
                if ukernel is None:
                    got = kernels.activation(x, act)
                else:
                    got = run(kind, x, ukernel["name"], (act.min, act.max, act.alpha))
                want = fn(torch, torch.from_numpy(x)).numpy()
                assert_matches_torch(kind, x, got, want, f"{act}, n={x.size}")


def test_activation_of_any_shape_through_kernels(rng):
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    y = kernels.activation(x, "tanh")
    assert y.shape == x.shape and y.dtype == np.float32
    np.testing.assert_allclose(y, np.tanh(x), rtol=1e-6, atol=1e-7)
    out = np.empty_like(x)
    assert kernels.activation(x, Activation.leaky_relu(0.5), out=out) is out
    np.testing.assert_array_equal(out, np.where(x >= 0, x, 0.5 * x))
    big = rng.standard_normal(100_003).astype(np.float32)  # several threaded chunks
    np.testing.assert_array_equal(kernels.activation(big, "relu6"), np.clip(big, 0, 6))
    assert kernels.activation(np.zeros((0, 3), np.float32), "silu").shape == (0, 3)


def test_capabilities_list_every_activation():
    names = kernels.capabilities().activations
    assert set(names) == {"none", "relu", "relu6"} | set(KINDS)
    assert {u["kind"] for u in UKERNELS} == set(KINDS)


@pytest.mark.parametrize("spec,want", [
    ("hardswish", Activation(kind="hardswish")),
    ("SiLU", Activation(kind="silu")),
    ("leaky_relu", Activation.leaky_relu(0.01)),
    ("gelu_tanh", Activation.of("gelu_tanh")),
    (None, Activation.none()),
    ("relu6", Activation.relu6()),
])
def test_activation_names(spec, want):
    assert as_activation(spec) == want


def test_activation_torch_modules():
    nn = pytest.importorskip("torch.nn")
    assert as_activation(nn.LeakyReLU(0.2)) == Activation.leaky_relu(0.2)
    assert as_activation(nn.LeakyReLU) == Activation.leaky_relu(0.01)
    assert as_activation(nn.GELU(approximate="tanh")) == Activation.of("gelu_tanh")
    assert as_activation(nn.GELU()) == Activation.of("gelu")
    for module, kind in [(nn.Hardswish, "hardswish"), (nn.Hardsigmoid, "hardsigmoid"), (nn.SiLU, "silu"),
                         (nn.Sigmoid, "sigmoid"), (nn.Tanh, "tanh")]:
        assert as_activation(module()) == as_activation(module) == Activation.of(kind)
    assert as_activation(nn.Hardtanh(-2, 3)) == Activation.clamp(-2, 3)
    assert as_activation(nn.ELU(0.5)) == Activation.elu(0.5) and as_activation(nn.ELU) == as_activation("elu")
    with pytest.raises(ValueError, match="unsupported activation"):
        as_activation(nn.SELU())


@pytest.mark.parametrize("kwargs,match", [
    (dict(kind="swish"), "kind must be one of"),
    (dict(kind="silu", min=0.0), "only a clamp has bounds"),
    (dict(kind="leaky_relu", alpha=math.nan), "slope must be finite"),
    (dict(kind="elu", alpha=math.inf), "elu alpha must be finite"),
    (dict(kind="tanh", alpha=0.5), "only leaky_relu and elu have an alpha"),
    (dict(min=1.0, max=0.0), "must not exceed"),
])
def test_bad_activations_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Activation(**kwargs)


def test_bad_kernel_arguments_name_them():
    x = np.zeros(4, np.float32)
    with pytest.raises(ValueError, match="activation must be one of"):
        kernels._core.activation(x, "swish")
    with pytest.raises(ValueError, match="is not a tanh kernel"):
        kernels._core.activation(x, "tanh", ukernel=REFERENCE["sigmoid"])
    with pytest.raises(ValueError, match="activation minimum must not exceed"):
        kernels._core.activation(x, "clamp", 1.0, 0.0)
    with pytest.raises(TypeError, match="x must have dtype float32"):
        kernels.activation(x.astype(np.float64), "tanh")
    buffer = np.zeros(5, np.float32)
    with pytest.raises(ValueError, match="out must not share memory"):
        kernels.activation(buffer[:4], "tanh", out=buffer[1:])
    assert kernels.activation(buffer, "sigmoid", out=buffer) is buffer  # in place
    np.testing.assert_array_equal(buffer, 0.5)
