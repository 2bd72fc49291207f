"""Shared fixtures: thread settings, a runner that checks a case, times one of its
implementations, and prints each group's pyprune/torch ratio at the end, and the tables of
pyprune against its peers (pyprune.bench.peers), printed at the end too."""

from collections import defaultdict

import pytest

torch = pytest.importorskip("torch")

from pyprune import kernels  # noqa: E402
from pyprune.bench.peers import PeerTiming, format_peers  # noqa: E402

_medians: dict[str, dict[str, float]] = defaultdict(dict)
# title -> (rows, the peers left out and why, whether the table ends with a sum)
_peer_tables: dict[str, tuple[list[PeerTiming], dict[str, str], bool]] = {}


@pytest.fixture(params=[1, 2], ids=lambda t: f"t{t}")
def threads(request):
    before = (kernels.get_num_threads(), torch.get_num_threads())
    kernels.set_num_threads(request.param)
    torch.set_num_threads(request.param)
    yield request.param
    kernels.set_num_threads(before[0])
    torch.set_num_threads(before[1])


@pytest.fixture
def run_case(benchmark, threads):
    """run_case(case, impl, group): check the case once, then benchmark its `impl`
    ('pyprune', 'torch' or an extra variant) in `group`, keeping the median for the ratios."""

    def run(case, impl, group):
        case.check()
        fn = {"pyprune": case.pyprune, "torch": case.torch, **case.extra}[impl]
        benchmark.group = f"{group} t{threads}"
        benchmark.extra_info.update(impl=impl, isa=kernels.isa(), macs=case.macs)
        with torch.inference_mode():
            benchmark(fn)
        if benchmark.stats is not None:  # None with --benchmark-disable
            _medians[benchmark.group][impl] = benchmark.stats.stats.median

    return run


@pytest.fixture
def record_peers():
    """record_peers(title, rows, missing, total=False): rows for the table `title` of the
    summary (format_peers)."""

    def record(title, rows, missing, total=False):
        _peer_tables.setdefault(title, ([], missing, total))[0].extend(rows)

    return record


def pytest_terminal_summary(terminalreporter, config):
    _summarize_ratios(terminalreporter)
    if _peer_tables and not config.getoption("benchmark_disable"):
        terminalreporter.section("pyprune vs its peers (same process)")
        for title, (rows, missing, total) in _peer_tables.items():
            terminalreporter.line(format_peers(title, rows, missing, total) + "\n")


def _summarize_ratios(terminalreporter):
    rows = [(g, m) for g, m in _medians.items() if "pyprune" in m and "torch" in m]
    if not rows:
        return
    terminalreporter.section("pyprune vs torch (median, same process; variants: torch's time over theirs)")
    total = {"pyprune": 0.0, "torch": 0.0}
    for group, m in rows:
        variants = "".join(f"  {impl} {m['torch'] / t:5.2f}x" for impl, t in m.items() if impl not in total)
        terminalreporter.line(
            f"{group:<48} pyprune {m['pyprune'] * 1e3:8.3f} ms  torch {m['torch'] * 1e3:8.3f} ms"
            f"  speedup {m['torch'] / m['pyprune']:5.2f}x{variants}"
        )
        for impl in total:
            total[impl] += m[impl]
    terminalreporter.line(
        f"{'sum':<48} pyprune {total['pyprune'] * 1e3:8.3f} ms  torch {total['torch'] * 1e3:8.3f} ms"
        f"  speedup {total['torch'] / total['pyprune']:5.2f}x"
    )
