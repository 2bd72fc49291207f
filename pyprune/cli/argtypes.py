"""Argument types: each turns one command-line string into a value, or raises
ArgumentTypeError saying what was expected (argparse puts the option's name in front)."""

from __future__ import annotations

import argparse
import math
import os
import stat
from typing import Callable

__all__ = [
    "MAX_INPUT_ELEMENTS",
    "MAX_THREADS",
    "fraction",
    "input_file",
    "input_shape",
    "output_file",
    "seed",
    "thread_count",
    "whole_number",
]

# Example inputs are for checks and timing: a larger one is a typo, not worth an allocation
# that could take the machine down (2^25 floats: 128 MB).
MAX_INPUT_ELEMENTS = 2**25


def whole_number(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """A parser of integers in [minimum, maximum] (no upper bound if maximum is None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if maximum is None and value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        if maximum is not None and not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"must be in {minimum}..{maximum}, got {value}")
        return value

    return parse


# More than any board or laptop this runs on has cores; each thread is a real one.
MAX_THREADS = 256
thread_count = whole_number(1, MAX_THREADS)
seed = whole_number(0, 2**32 - 1)


def fraction(text: str) -> float:
    """A number in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def input_shape(text: str) -> tuple[int, ...]:
    """'1,3,224,224' -> (1, 3, 224, 224): at least 2 positive sizes, at most
    MAX_INPUT_ELEMENTS elements."""
    try:
        shape = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 1,3,224,224, got {text!r}") from None
    if len(shape) < 2 or any(d < 1 for d in shape):
        raise argparse.ArgumentTypeError(f"expected at least 2 positive sizes like 1,3,224,224, got {text!r}")
    if math.prod(shape) > MAX_INPUT_ELEMENTS:
        raise argparse.ArgumentTypeError(f"{text} is {math.prod(shape):,} elements, more than the "
                                         f"{MAX_INPUT_ELEMENTS:,} an example input may have")
    return shape


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def input_file(path: str) -> str:
    """An existing, readable regular file (a FIFO or device would block or never end)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise argparse.ArgumentTypeError(f"no such file: {path}") from None
    except OSError as e:
        raise argparse.ArgumentTypeError(f"cannot read {path}: {e.strerror}") from None
    if not stat.S_ISREG(mode):
        raise argparse.ArgumentTypeError(f"{path} is {_kind(mode)}, not a file")
    if not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"cannot read {path}: permission denied")
    return path


def output_file(path: str) -> str:
    """A regular file (existing or not) that can be written, in an existing directory."""
    if not path:
        raise argparse.ArgumentTypeError("expected a file name, got ''")
    if os.path.exists(path):
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise argparse.ArgumentTypeError(f"{path} is {_kind(mode)}, not a file")
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        problem = f"{folder} is not a directory" if os.path.exists(folder) else f"no such directory: {folder}"
        raise argparse.ArgumentTypeError(f"cannot write {path}: {problem}")
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise argparse.ArgumentTypeError(f"cannot write {path}: permission denied")
    return path
