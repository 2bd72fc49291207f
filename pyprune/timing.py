"""Timing that holds up on a shared machine: medians of batched calls (the demo, the command
line and the benchmarks time with it)."""

from __future__ import annotations

import statistics
import time
from typing import Callable, Mapping

__all__ = ["median_seconds", "medians_taking_turns"]

# Thread pools (pyprune's, torch's OpenMP) spin for a while after their last call and would
# steal cores from another library's threads: multi-threaded runs pause this long between
# libraries.
SETTLE_SECONDS = 0.05
# After such a pause the first calls run slow (a virtual machine's cores wake from idle, a pool's
# threads from sleep). MobileNetV2 on pyprune.runtime, 2 threads, medians of 25 pauses: 13.7 ms
# for the first call, 12.6 for the second, 11.5 for the eighth. Untimed calls for this long come
# first.
WARM_SECONDS = 0.05


def medians_taking_turns(fns: Mapping[str, Callable[[], object]], rounds: int,
                         clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Median seconds of one call of each function over `rounds` rounds in which they take
    turns, after one untimed call each: a slow spell of the machine hits them alike."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = clock()
            fn()
            times[name].append(clock() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def _batch_size(fn: Callable[[], object], min_batch_seconds: float, clock: Callable[[], float]) -> int:
    fn()  # warm-up: allocation, page faults, first-call dispatch
    start = clock()
    fn()
    return max(1, int(min_batch_seconds / max(clock() - start, 1e-7)))


def _warm(fn: Callable[[], object], seconds: float) -> None:
    deadline = time.perf_counter() + seconds
    fn()
    while time.perf_counter() < deadline:
        fn()


def _time_batch(fn: Callable[[], object], n: int, clock: Callable[[], float]) -> float:
    start = clock()
    for _ in range(n):
        fn()
    return (clock() - start) / n


def median_seconds(
    fns: dict[str, Callable[[], object]],
    rounds: int = 15,
    min_batch_seconds: float = 2e-3,
    threaded: bool = False,
    progress: Callable[[], object] | None = None,
    interleaved: bool = False,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, float]:
    """Median seconds per call of each function.

    Single-threaded, the functions take turns within every round, so a slow spell of the
    machine hits them alike. `threaded`: each function runs all its rounds in one block after
    a pause and WARM_SECONDS of untimed calls, so no other library's spinning threads compete
    with it; `threaded` and `interleaved`: the functions take turns within every round again,
    each sample after such a pause and warm-up (slower to measure, steadier on a shared
    machine). `progress`, if given, is called after every round of every function
    (len(fns) * rounds calls).
    `clock`: wall time by default; time.process_time measures single-threaded work by the CPU
    time it takes, which other processes on the machine do not inflate."""
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"rounds must be an int of at least 1, got {rounds!r}")
    batch = {name: _batch_size(fn, min_batch_seconds, clock) for name, fn in fns.items()}
    # Checks that time nothing (min_batch_seconds=0: one call per sample) warm up with one call.
    warm = WARM_SECONDS if min_batch_seconds > 0 else 0.0
    samples: dict[str, list[float]] = {name: [] for name in fns}

    def sample(name: str) -> None:
        samples[name].append(_time_batch(fns[name], batch[name], clock))
        if progress is not None:
            progress()

    if threaded and not interleaved:
        for name, fn in fns.items():
            time.sleep(SETTLE_SECONDS)
            _warm(fn, warm)
            for _ in range(rounds):
                sample(name)
    else:
        for _ in range(rounds):
            for name, fn in fns.items():
                if threaded:
                    time.sleep(SETTLE_SECONDS)
                    _warm(fn, warm)
                sample(name)
    return {name: statistics.median(s) for name, s in samples.items()}
