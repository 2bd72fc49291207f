#!/bin/bash
# fuzz.sh [SECONDS] - runs the fuzz targets side by side (fuzz/fuzz_pack.py: the packed-file reader;
# fuzz/fuzz_huffman.py: the C++ Huffman decoders) under atheris/libFuzzer for SECONDS each
# (default 60), the reader's corpus seeded with real packed files (fuzz/seeds.py). Fails on a
# crash, an exception other than the documented ones (PackError from the reader, ValueError
# from the decoders), a disagreement between decoders, an input taking 10 s or 2 GB.
# Findings go to build/fuzz/findings/; `python fuzz/fuzz_pack.py FILE` replays one.
# Uses .venv (make install) or $PYTHON; installs atheris from PyPI if it is missing.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-$REPO/.venv/bin/python}"
SECONDS_PER_TARGET="${1:-60}"
WORK="${FUZZ_WORK:-$REPO/build/fuzz}"

"$PY" -c "import atheris" 2>/dev/null || "$PY" -m pip install --disable-pip-version-check -q atheris
mkdir -p "$WORK/seeds" "$WORK/corpus-pack" "$WORK/corpus-huffman" "$WORK/findings"
# Out of the repository root, so that the installed pyprune (with its _core) is imported.
cd "$WORK"
"$PY" "$REPO/fuzz/seeds.py" "$WORK/seeds"

fuzz() {
    local target="$1" status=0; shift
    local log="$WORK/fuzz_$target.log"
    echo "=== fuzz_$target: $SECONDS_PER_TARGET s (full log: $log)"
    "$PY" "$REPO/fuzz/fuzz_$target.py" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$WORK/findings/$target-" -print_final_stats=1 "$@" >"$log" 2>&1 || status=$?
    grep -E "^(Done|stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb))" "$log" || true
    if [ "$status" -ne 0 ]; then
        tail -n 40 "$log"
        echo "=== fuzz_$target FAILED (exit $status): see $WORK/findings/"
        return "$status"
    fi
}
# Side by side: each target runs in one process on one core.
fuzz pack -max_len=65536 "$WORK/corpus-pack" "$WORK/seeds" &
pack=$!
fuzz huffman "$WORK/corpus-huffman" &
huffman=$!
status=0
wait "$pack" || status=$?
wait "$huffman" || status=$?
[ "$status" = 0 ] || exit "$status"
echo "=== fuzzing found nothing"
