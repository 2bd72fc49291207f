"""pyprune.timing: medians per function, progress after every round, rounds checked."""

import time

import pytest

from pyprune import timing
from pyprune.timing import median_seconds


@pytest.mark.parametrize("threaded", [False, True])
def test_progress_is_called_after_every_round_of_every_function(threaded):
    calls = []
    seconds = median_seconds({"a": lambda: None, "b": lambda: sum(range(100))}, rounds=3, min_batch_seconds=1e-5,
                             threaded=threaded, progress=lambda: calls.append(1))
    assert set(seconds) == {"a", "b"} and all(s > 0 for s in seconds.values())
    assert len(calls) == 6


@pytest.mark.parametrize("threaded,interleaved,order", [(False, False, "abab"), (True, False, "aabb"),
                                                        (True, True, "abab")])
def test_rounds_take_turns_unless_threaded_in_blocks(threaded, interleaved, order):
    calls = []
    samples = []
    median_seconds({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, rounds=2, min_batch_seconds=0,
                   threaded=threaded, interleaved=interleaved, progress=lambda: samples.append(calls[-1]))
    assert "".join(samples) == order


@pytest.mark.parametrize("rounds", [0, -1, 1.5, True, "3"])
def test_rounds_must_be_a_positive_int(rounds):
    with pytest.raises(ValueError, match="rounds must be an int of at least 1"):
        median_seconds({"a": lambda: None}, rounds=rounds)


@pytest.mark.parametrize("threaded", [False, True])
def test_the_clock_can_be_another_than_the_wall(threaded):
    now = [0.0]

    def call():
        now[0] += 0.5  # each call takes half a second on this clock, whatever the wall says

    seconds = median_seconds({"a": call, "b": call}, rounds=3, threaded=threaded, interleaved=True,
                             clock=lambda: now[0])
    assert seconds == {"a": 0.5, "b": 0.5}


@pytest.mark.parametrize("interleaved", [False, True])
def test_threaded_samples_come_after_untimed_calls_for_the_warm_up_time(monkeypatch, interleaved):
    """After each pause the first calls run slow: a sample follows WARM_SECONDS of calls."""
    monkeypatch.setattr(timing, "WARM_SECONDS", 0.02)
    starts, samples = [], []

    def call():
        starts.append(time.perf_counter())
        time.sleep(0.001)  # 1 ms: one call per sample at min_batch_seconds=1e-4

    median_seconds({"a": call, "b": call}, rounds=2, min_batch_seconds=1e-4, threaded=True,
                   interleaved=interleaved, progress=lambda: samples.append(len(starts) - 1))
    assert len(samples) == 4
    # The samples after a pause: every one interleaved, each function's first otherwise.
    for i in range(4) if interleaved else (0, 2):
        first = samples[i - 1] + 1 if i else 4  # calls 0-3 sized the two batches
        assert starts[samples[i]] - starts[first] >= 0.02


def test_medians_taking_turns_call_once_untimed_then_in_turns_with_the_clock_given():
    calls = []
    ticks = iter(range(100))
    fns = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    medians = timing.medians_taking_turns(fns, 3, clock=lambda: next(ticks))
    assert calls == ["a", "b"] + ["a", "b"] * 3
    assert medians == {"a": 1, "b": 1}  # one tick from each start to its stop
