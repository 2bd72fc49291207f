"""Reading a packed file: only regular files (a FIFO, a folder, a device is refused at once and
said to be one), the header looked at before the data, never more read than the file holds,
no file descriptor or memory left behind; and without torch."""

import os
import subprocess
import sys
import threading
import time
import tracemalloc

import pytest

from pyprune import pack
from pyprune.pack import PackError


def _refused_within(path, seconds=5.0):
    """The PackError message of reading `path`, which must come at once (a FIFO would block)."""
    outcome = {}

    def read():
        try:
            pack.read(path)
        except BaseException as e:  # noqa: BLE001 - inspected by the caller
            outcome["error"] = e

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"reading {path} blocked"
    assert isinstance(outcome.get("error"), PackError), outcome
    return str(outcome["error"])


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "model.pyprune"
    os.mkfifo(fifo)
    assert "is a FIFO" in _refused_within(fifo)


def test_a_folder_is_refused_as_a_folder(tmp_path):
    message = _refused_within(tmp_path)
    assert "is a directory" in message and "no such file" not in message


def test_a_device_is_refused_without_reading_it():
    assert "is a character device" in _refused_within("/dev/zero")


def test_a_missing_file_says_so(tmp_path):
    assert "no such file" in _refused_within(tmp_path / "missing.pyprune")


@pytest.mark.parametrize("prefix", [bytes(8), (100).to_bytes(8, "little") + b"[" * 100, (1 << 40).to_bytes(8, "little")])
def test_a_huge_file_with_an_invalid_header_is_refused_before_its_data_is_read(tmp_path, prefix):
    path = tmp_path / "zeros.pyprune"
    with open(path, "wb") as f:
        f.write(prefix)
        f.truncate(2 << 30)  # 2 GiB, sparse: no disk used
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(PackError):
        pack.read(path)
    elapsed, peak = time.perf_counter() - start, tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 2 and peak < 10 << 20


def test_a_header_that_declares_more_than_the_file_holds_reads_nothing_more(real_files, tmp_path):
    data = real_files["pruned-shared"]
    path = tmp_path / "cut.pyprune"
    data_start = 8 + int.from_bytes(data[:8], "little")
    path.write_bytes(data[: (data_start + len(data)) // 2])
    with pytest.raises(PackError, match="outside the"):
        pack.read(path)


def _open_descriptors():
    return len(os.listdir("/proc/self/fd"))


def test_reading_leaks_no_descriptor_and_no_memory(real_files, tmp_path):
    good, bad = tmp_path / "good.pyprune", tmp_path / "bad.pyprune"
    good.write_bytes(real_files["pruned-shared"])
    bad.write_bytes(real_files["pruned-shared"][:-1])
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def rounds(n):
        for _ in range(n):
            pack.read(good)
            for path in (bad, fifo, tmp_path, tmp_path / "missing"):
                with pytest.raises(PackError):
                    pack.read(path)

    rounds(20)
    descriptors = _open_descriptors()
    tracemalloc.start()
    rounds(5)
    before = tracemalloc.get_traced_memory()[0]
    rounds(200)
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert _open_descriptors() == descriptors
    assert grown < 200 << 10, grown


def test_inspect_and_read_work_without_torch(real_files, tmp_path):
    path = tmp_path / "m.pyprune"
    path.write_bytes(real_files["channel-plan"])
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from pyprune import cli, pack\n"
        f"assert pack.read({str(path)!r}).metadata['channel_plan'] is not None\n"
        f"sys.exit(cli.main(['inspect', {str(path)!r}]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert done.returncode == 0, done.stderr
    assert "after Huffman coding" in done.stdout and "output error" in done.stdout
    assert "torch" not in done.stderr
