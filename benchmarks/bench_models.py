"""Whole networks: the torch model in eager mode against its pyprune.convert copy."""

import functools

import pytest

from pyprune.bench import model_case

model = functools.lru_cache(maxsize=None)(model_case)


@pytest.mark.parametrize("impl", ["pyprune", "torch"])
@pytest.mark.parametrize("name", ["MobileNetV1", "MobileNetV2"])
def test_model(run_case, name, impl):
    run_case(model(name), impl, f"model {name}")
