"""Collects each group's pyprune and torch medians and prints their ratio at the end."""

from collections import defaultdict

import pytest

_medians: dict[str, dict[str, float]] = defaultdict(dict)


@pytest.fixture
def record(benchmark):
    """record(impl, fn): benchmark fn as `impl` in the test's group and keep its median."""

    def run(impl, fn):
        benchmark.extra_info["impl"] = impl
        benchmark(fn)
        if benchmark.stats is not None:  # None with --benchmark-disable
            _medians[benchmark.group][impl] = benchmark.stats.stats.median

    return run


def pytest_terminal_summary(terminalreporter):
    rows = [(g, m) for g, m in _medians.items() if "pyprune" in m and "torch" in m]
    if not rows:
        return
    terminalreporter.section("pyprune vs torch (median, same process)")
    total = {"pyprune": 0.0, "torch": 0.0}
    for group, m in rows:
        terminalreporter.line(
            f"{group:<48} pyprune {m['pyprune'] * 1e3:8.3f} ms  torch {m['torch'] * 1e3:8.3f} ms"
            f"  speedup {m['torch'] / m['pyprune']:5.2f}x"
        )
        for impl in total:
            total[impl] += m[impl]
    terminalreporter.line(
        f"{'sum':<48} pyprune {total['pyprune'] * 1e3:8.3f} ms  torch {total['torch'] * 1e3:8.3f} ms"
        f"  speedup {total['torch'] / total['pyprune']:5.2f}x"
    )
