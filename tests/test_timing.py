"""pyprune.timing: medians per function, progress after every round, rounds checked."""

import pytest

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
