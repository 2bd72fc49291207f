"""The model arguments shared by subcommands: a factory `module:function` that builds the
model, optional weights (a torch state_dict file or a pyprune packed file) and an input shape."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Any, Callable

from pyprune._optional import require
from pyprune.cli.argtypes import input_file, input_shape
from pyprune.graph.ir import OUTPUT_DTYPES
from pyprune.cli.errors import UserError

__all__ = ["add_model_arguments", "example_input", "load_factory", "load_model"]


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("factory", help="what builds the model: module:function, e.g. pyprune.models:MobileNetV1 "
                        "or mymodels:build (modules are found on the current directory too)")
    parser.add_argument("--weights", metavar="FILE", type=input_file, help="weights to load: a torch state_dict file "
                        "(torch.save(model.state_dict(), FILE), read without pickle code) or a pyprune packed file")
    parser.add_argument("--input-shape", type=input_shape, default=(1, 3, 224, 224), metavar="N,C,H,W",
                        help="shape of the example input (default: 1,3,224,224)")
    parser.add_argument("--input-dtype", choices=OUTPUT_DTYPES, default="float32",
                        help="dtype of the example input (default: float32; uint8 for a model taking pixels as they "
                        "come, int64 for token ids)")


def load_factory(spec: str) -> Callable[[], Any]:
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise UserError(f"factory must look like module:function, got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise UserError(f"cannot import module {module_name!r}: {e}") from None
    except Exception as e:  # the user's module failed as it ran: theirs to see, in one line
        raise UserError(f"importing module {module_name!r} failed: {type(e).__name__}: {e}") from None
    factory = module
    for part in attr.split("."):
        factory = getattr(factory, part, None)
        if factory is None:
            raise UserError(f"module {module_name!r} has no attribute {attr!r}")
    if not callable(factory):
        raise UserError(f"{spec} is not callable")
    return factory


def load_model(args: argparse.Namespace) -> Any:
    """The model the arguments describe, in eval mode, with its weights loaded, checked to run
    on the example input."""
    torch = require("torch", "torch", f"pyprune {args.command}")
    factory = load_factory(args.factory)
    try:
        model = factory()
    except Exception as e:  # the user's code: any failure is theirs to see, in one line
        raise UserError(f"{args.factory}() failed: {type(e).__name__}: {e}") from None
    if not isinstance(model, torch.nn.Module):
        raise UserError(f"{args.factory}() must return a torch.nn.Module, got {type(model).__name__}")
    if args.weights:
        model = _load_weights(model, args.weights)
    model.eval()
    _check_runs(model, args)
    return model


def _load_weights(model: Any, path: str) -> Any:
    import torch

    from pyprune import pack

    try:
        packed = pack.read(path)
    except pack.PackError as not_packed:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # torch raises many kinds on files that are not state_dicts
            raise UserError(f"{path} is neither a pyprune packed file ({not_packed}) nor a torch state_dict") from None
    else:
        del packed
        try:
            return pack.load(path, model, fast=False)
        except ValueError as e:
            raise UserError(f"{path}: {e}") from None
    if not isinstance(state, dict):
        raise UserError(f"{path} holds a {type(state).__name__}, not a state_dict")
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise UserError(f"{path} does not fit the model: {str(e).splitlines()[0]}") from None
    return model


def _check_runs(model: Any, args: argparse.Namespace) -> None:
    """The model runs on the example input, or a UserError says why (before any work)."""
    import torch

    try:
        with torch.no_grad():
            model(example_input(args))
    except Exception as e:  # the user's model on the user's shape: any failure is a mistake
        message = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise UserError(f"{args.factory}() does not run on an input of shape "
                        f"{','.join(map(str, args.input_shape))}: {type(e).__name__}: {message}") from None


def example_input(args: argparse.Namespace) -> Any:
    """Random normal floats, or integers of --input-dtype: pixels 0..255 (uint8), else 0s and 1s
    (ids any embedding table has rows for)."""
    import torch

    generator = torch.Generator().manual_seed(0)
    if args.input_dtype == "float32":
        return torch.randn(*args.input_shape, generator=generator)
    high = 256 if args.input_dtype == "uint8" else 2
    return torch.randint(0, high, args.input_shape, generator=generator, dtype=getattr(torch, args.input_dtype))
