#!/bin/bash
# arm-cost.sh - what pyprune's NEON depthwise and pointwise kernels cost on ARM, measured without
# ARM hardware.
#
#   ARM_COUNT=/path/to/arm-count bash scripts/arm-cost.sh
#   ARM_COUNT=... SECTIONS=pointwise bash scripts/arm-cost.sh      # only the pointwise part
#
# 1. Instructions per multiply-accumulate of ONE whole depthwise_conv2d call (driver packing
#    included, 1 thread) on the MobileNetV1-sized layer: C=32, 112x112, padding k//2, for
#    3x3/5x5 and stride 1/2: the dispatched kernel (pyprune.kernels.depthwise_conv2d), every
#    NEON tile variant (pyprune._core.depthwise_conv2d(ukernel=...)) and the scalar reference.
#    Counted by arm-count (QEMU user mode + an instruction-counting plugin) on each CPU model.
#    The fp32 arithmetic floor is 0.25 (one 4-lane FMLA per 4 MACs).
# 2. llvm-mca on the inner loop of the dispatched 3x3 stride-1 kernel, compiled with
#    aarch64-linux-gnu-g++ -O3 -mcpu=<cpu> -S: cycles per iteration against the FMA bound
#    (FMLAs per iteration / FMA pipes).
# 3. Pointwise: instructions per MAC of the 13 MobileNetV1 pointwise (1x1) layers at batch 1,
#    1 thread, each counted once at its true shape (exact counts), per layer and summed:
#    the whole pyprune.kernels.pointwise_conv2d(x, weight, bias) call (weights packed inside
#    the call), and conv.forward with the weights packed beforehand (_core.Conv2d, as the
#    pyprune.nn modules do) for every NEON GEMM kernel (ukernel=...). PW_REF=1 adds the scalar
#    reference kernel (slow under emulation). Floor 0.250.
# 4. llvm-mca on the k loop of the dispatched NEON GEMM kernel (first NEON row of
#    csrc/f32-gemm/f32-gemm.inc; the loop is inline asm, so it is the same for every -mcpu):
#    cycles per iteration against the FMA bound.
# 5. Sparse: the same 13 pointwise layers pruned at random to 90 % (unstructured, and in 4x1
#    blocks), one SparseConv2d.forward each (format built beforehand): instructions per
#    non-zero MAC and the total against the dense GEMM forward on the same layers (aim: at most
#    1/6 of its instructions). Then llvm-mca on the non-zero loop of the dispatched single-row
#    SpMM kernel (first NEON row of csrc/f32-spmm/f32-spmm.inc): cycles per non-zero.
#
# Environment:
#   ARM_COUNT    (required) directory of the arm-count tool (its count.sh; set up by its setup.sh)
#   WHEEL        aarch64 wheel to measure (default: newest dist/pyprune-*manylinux*_aarch64.whl,
#                made by scripts/build-aarch64-wheel.sh)
#   CPUS         CPU models for the counts (default "cortex-a72"; e.g. "cortex-a53 cortex-a72
#                cortex-a76" for Raspberry Pi 3, 4, 5)
#   MCA_CPUS     CPU models for llvm-mca (default "cortex-a53 cortex-a72")
#   LLVM_MCA     llvm-mca binary (default: llvm-mca, else llvm-mca-14 ... on PATH)
#   SECTIONS     which parts to run (default "depthwise pointwise sparse")
#   PW_REF       1: also count the scalar reference GEMM kernel on the pointwise layers
set -euo pipefail
ARM_COUNT="${ARM_COUNT:?set ARM_COUNT to the arm-count tool directory}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CPUS="${CPUS:-cortex-a72}"
MCA_CPUS="${MCA_CPUS:-cortex-a53 cortex-a72}"
SECTIONS="${SECTIONS:-depthwise pointwise sparse}"
PW_REF="${PW_REF:-0}"
[ -x "$ARM_COUNT/count.sh" ] || { echo "arm-cost: no count.sh in $ARM_COUNT" >&2; exit 2; }

if [ -z "${WHEEL:-}" ]; then
    WHEEL="$(ls -t "$REPO"/dist/pyprune-*manylinux*_aarch64.whl 2>/dev/null | head -1 || true)"
fi
[ -f "${WHEEL:-}" ] || { echo "arm-cost: no aarch64 wheel: run scripts/build-aarch64-wheel.sh or set WHEEL" >&2; exit 2; }
if [ -z "${LLVM_MCA:-}" ]; then
    for c in llvm-mca llvm-mca-19 llvm-mca-18 llvm-mca-17 llvm-mca-16 llvm-mca-15 llvm-mca-14; do
        if command -v "$c" >/dev/null; then LLVM_MCA="$c"; break; fi
    done
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
python3 -m zipfile -e "$WHEEL" "$WORK/site"
echo "arm-cost: wheel $(basename "$WHEEL")"

depthwise_section() {
# ---- 1. instruction counts ----------------------------------------------------------------
# The guest script writes what each marked region is (tag pairs) to a JSON file; count.sh
# prints "insncount: mark A -> B : N" for consecutive markers.
cat > "$WORK/dw.py" <<'PY'
import ctypes, json, sys
import numpy as np
import pyprune
from pyprune import _core, kernels

mark = ctypes.CDLL(None).syscall
pyprune.set_num_threads(1)
assert kernels.isa() == "neon", kernels.isa()
C, H, W = 32, 112, 112
rng = np.random.default_rng(0)
x = rng.standard_normal((1, C, H, W), dtype=np.float32)
regions, tag = [], 1
mark(7911, tag)                                   # an empty region: the marker's own cost
tag += 1
mark(7911, tag)
regions.append({"what": "empty", "tags": [tag - 1, tag]})
for k, s in [(3, 1), (3, 2), (5, 1), (5, 2)]:
    w = rng.standard_normal((C, 1, k, k), dtype=np.float32)
    b = rng.standard_normal(C, dtype=np.float32)
    calls = [("dispatched", lambda: kernels.depthwise_conv2d(x, w, b, stride=s, padding=k // 2)),
             ("dispatched, relu6", lambda: kernels.depthwise_conv2d(
                 x, w, b, stride=s, padding=k // 2, activation="relu6"))]
    for u in _core.testing.dwconv2d_ukernels():
        if (u["kernel_size"], u["stride"]) == (k, s) and u["isa"] in ("neon", "scalar"):
            calls.append((u["name"], lambda name=u["name"]: _core.depthwise_conv2d(
                x, w, b, stride=s, padding=k // 2, min=-np.inf, max=np.inf, ukernel=name)))
    for name, call in calls:
        y = call()                                # warm-up: scratch allocation stays outside
        tag += 1
        mark(7911, tag)
        y = call()
        tag += 1
        mark(7911, tag)
        macs = C * y.shape[2] * y.shape[3] * k * k
        regions.append({"what": f"{k}x{k} s{s}", "ukernel": name, "macs": macs,
                        "tags": [tag - 1, tag]})
json.dump(regions, open(sys.argv[1], "w"))
PY

for cpu in $CPUS; do
    QEMU_CPU="$cpu" EXTRA_PYTHONPATH="$WORK/site" INSNCOUNT_ARGS=top=0 \
        "$ARM_COUNT/count.sh" py "$WORK/dw.py" "$WORK/regions-$cpu.json" \
        2> "$WORK/count-$cpu.txt" >/dev/null \
        || { cat "$WORK/count-$cpu.txt" >&2; exit 1; }
done

python3 - "$WORK" $CPUS <<'PY'
import json, re, sys
work, cpus = sys.argv[1], sys.argv[2:]
table = {}
for cpu in cpus:
    counts = {}
    for line in open(f"{work}/count-{cpu}.txt"):
        m = re.match(r"insncount: mark (\d+) -> (\d+) : (\d+)", line)
        if m:
            counts[(int(m.group(1)), int(m.group(2)))] = int(m.group(3))
    regions = json.load(open(f"{work}/regions-{cpu}.json"))
    empty = counts[tuple(regions[0]["tags"])]
    for r in regions[1:]:
        n = counts[tuple(r["tags"])] - empty
        table.setdefault((r["what"], r["ukernel"]), {"macs": r["macs"]})[cpu] = n
print()
print("Instructions per MAC, one depthwise_conv2d call (driver included), C=32 112x112 pad k//2, "
      "1 thread; floor 0.250")
head = f"{'layer':8} {'ukernel':56} {'MACs':>10}"
for cpu in cpus:
    head += f" {cpu + ' instr':>18} {'/MAC':>6}"
print(head)
print("-" * len(head))
for (what, name), row in table.items():
    line = f"{what:8} {name.replace('pp_f32_dwconv2d_chw_', ''):56} {row['macs']:>10,}"
    for cpu in cpus:
        line += f" {row[cpu]:>18,} {row[cpu] / row['macs']:>6.3f}"
    print(line)
PY

# ---- 2. llvm-mca on the 3x3 stride-1 inner loop -----------------------------------------
if [ -z "${LLVM_MCA:-}" ]; then
    echo "arm-cost: llvm-mca not found (apt: llvm-14), skipping the cycle estimate" >&2
    return 0
fi
# The dispatched 3x3 s1 kernel: the first NEON row of the operator list.
# (The .inc's macro was PP_UKERNEL, now PP_DWCONV2D_UKERNEL: either is accepted. `|| true`: a
# failed read must reach the message below, not end the script silently under set -e.)
read -r KNAME TR TC < <(sed -n 's/^PP_\(DWCONV2D_\)\{0,1\}UKERNEL(pp_isa_neon, \(pp_f32_dwconv2d_chw_3x3s1_[a-z_]*_\([0-9]*\)x\([0-9]*\)__neon\), 3, 1,.*/\2 \3 \4/p' \
    "$REPO/csrc/f32-dwconv2d-chw/f32-dwconv2d-chw.inc" | head -1) || true
[ -n "${KNAME:-}" ] || { echo "arm-cost: no NEON 3x3 s1 row in f32-dwconv2d-chw.inc" >&2; exit 1; }
SRC="$REPO/csrc/f32-dwconv2d-chw/f32-dwconv2d-chw-3x3s1-minmax-neon-${TR}x${TC}.cc"
[ -f "$SRC" ] || { echo "arm-cost: $SRC missing" >&2; exit 1; }
echo
echo "llvm-mca ($("$LLVM_MCA" --version | sed -n 's/.*LLVM version \([0-9.]*\).*/\1/p')): inner loop of ${KNAME#pp_f32_dwconv2d_chw_}" \
     "(${TR} rows x ${TC} columns = $((TR * TC * 9)) MACs per iteration), g++ -O3 -mcpu=<cpu>"
printf '%-20s %6s %6s %6s %10s %12s %12s %10s %10s\n' 'cpu, loop' instr fmla pipes 'FMA bound' 'model FMLA' 'mca cycles' 'vs bound' 'MAC/cycle'
for cpu in $MCA_CPUS; do
    aarch64-linux-gnu-g++ -std=c++17 -O3 -mcpu="$cpu" -I"$REPO/csrc/include" \
        -DPYPRUNE_ARCH_AARCH64=1 -S -o "$WORK/k-$cpu.s" "$SRC"
    # The loop bodies: the smallest backward-branch loops holding all the tile's FMLAs, one
    # with the clamp (FMAX/FMIN: an activation) and one without (no activation).
    for variant in clamp noclamp; do
    python3 - "$WORK/k-$cpu.s" "$((TR * TC / 4 * 9))" "$variant" > "$WORK/loop-$cpu-$variant.s" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().split("\n")
want, clamp = int(sys.argv[2]), sys.argv[3] == "clamp"
labels, best = {}, None
for i, l in enumerate(lines):
    m = re.match(r"^(\.L\w+):", l)
    if m:
        labels[m.group(1)] = i
    m = re.match(r"\s+(b\.?\w*|cbn?z|tbn?z)\s+(?:.*,\s*)?(\.L\w+)\s*$", l)
    if m and m.group(2) in labels:
        body = [x.strip() for x in lines[labels[m.group(2)] + 1:i + 1]
                if re.match(r"\s+[a-z]", x) and not x.strip().startswith(".")]
        if (sum(x.startswith("fmla") for x in body) == want
                and any(x.startswith("fmax") for x in body) == clamp
                and (best is None or len(body) < len(best))):
            best = body
if best is None:
    sys.exit("arm-cost: inner loop not found")
print("\n".join(best))
PY
    fmla=$(grep -c '^fmla' "$WORK/loop-$cpu-$variant.s")
    instr=$(wc -l < "$WORK/loop-$cpu-$variant.s")
    # FMA pipes that take a 128-bit FMLA each cycle: Cortex-A72 and A76 have two (F0/F1,
    # V0/V1); Cortex-A53 has one NEON FMA path.
    case "$cpu" in cortex-a53|cortex-a55) pipes=1 ;; *) pipes=2 ;; esac
    "$LLVM_MCA" -mtriple=aarch64 -mcpu="$cpu" -iterations=200 "$WORK/loop-$cpu-$variant.s" \
        > "$WORK/mca-$cpu-$variant.txt" 2>&1 || { cat "$WORK/mca-$cpu-$variant.txt" >&2; exit 1; }
    python3 - "$WORK/mca-$cpu-$variant.txt" "$cpu $variant" "$instr" "$fmla" "$pipes" "$((TR * TC * 9))" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
cpu, instr, fmla, pipes, macs = sys.argv[2], *map(int, sys.argv[3:])
iters = int(re.search(r"Iterations:\s+(\d+)", text).group(1))
cycles = int(re.search(r"Total Cycles:\s+(\d+)", text).group(1)) / iters
bound = fmla / pipes
# The scheduling model's own FMLA cost: resource cycles of the FMLA lines / pipes (LLVM 14 models
# Cortex-A72 with the Cortex-A57 tables, where a Q-form FMLA holds its pipe for 2 cycles).
model = 0.0
section = text.split("Resource pressure by instruction:")[1]
for line in section.split("\n"):
    if re.search(r"\sfmla\s", line):   # resource columns come before the instruction text
        model += sum(float(t) for t in re.findall(r"\d+\.\d+", line.split("fmla")[0]))
model /= pipes
print(f"{cpu:20} {instr:>6} {fmla:>6} {pipes:>6} {bound:>10.1f} {model:>12.1f} {cycles:>12.1f}"
      f" {cycles / bound:>9.2f}x {macs / cycles:>10.2f}")
PY
    done
done
}

pointwise_section() {
# ---- 3. pointwise instruction counts --------------------------------------------------------
cat > "$WORK/pw.py" <<'PY'
import ctypes, json, os, sys
import numpy as np
import pyprune
from pyprune import _core, kernels

mark = ctypes.CDLL(None).syscall
pyprune.set_num_threads(1)
assert kernels.isa() == "neon", kernels.isa()
# MobileNetV1 pointwise layers at batch 1: (Cin, Cout, H = W).
LAYERS = [(32, 64, 112), (64, 128, 56), (128, 128, 56), (128, 256, 28), (256, 256, 28),
          (256, 512, 14)] + [(512, 512, 14)] * 5 + [(512, 1024, 7), (1024, 1024, 7)]
names = [u["name"] for u in _core.testing.gemm_ukernels()
         if u["isa"] == "neon" or (u["isa"] == "scalar" and os.environ.get("PW_REF") == "1")]
inf = float("inf")
rng = np.random.default_rng(0)
regions, tag = [], 1
mark(7911, tag)                                   # an empty region: the marker's own cost
tag += 1
mark(7911, tag)
regions.append({"what": "empty", "tags": [tag - 1, tag]})
# Warm-up on a small layer: first-call costs (thread pool, scratch, imports) stay outside.
xs = rng.standard_normal((1, 16, 8, 8), dtype=np.float32)
ws = rng.standard_normal((16, 16, 1, 1), dtype=np.float32)
kernels.pointwise_conv2d(xs, ws, np.zeros(16, np.float32))
for name in names:
    _core.Conv2d(ws, None, ukernel=name).forward(xs, -inf, inf)
for i, (cin, cout, hw) in enumerate(LAYERS):
    x = rng.standard_normal((1, cin, hw, hw), dtype=np.float32)
    w = (rng.standard_normal((cout, cin, 1, 1), dtype=np.float32) / np.sqrt(cin)).astype(np.float32)
    b = rng.standard_normal(cout, dtype=np.float32)
    macs = cin * cout * hw * hw
    calls = [("pointwise_conv2d", lambda: kernels.pointwise_conv2d(x, w, b))]
    for name in names:
        conv = _core.Conv2d(w, b, ukernel=name)   # packed outside the counted region
        calls.append((name, lambda conv=conv: conv.forward(x, -inf, inf)))
    for what, call in calls:
        tag += 1
        mark(7911, tag)
        y = call()
        tag += 1
        mark(7911, tag)
        assert y.shape == (1, cout, hw, hw), y.shape
        regions.append({"layer": i, "shape": f"{cin}->{cout} @{hw}", "what": what, "macs": macs,
                        "tags": [tag - 1, tag]})
json.dump(regions, open(sys.argv[1], "w"))
PY

for cpu in $CPUS; do
    start=$SECONDS
    QEMU_CPU="$cpu" EXTRA_PYTHONPATH="$WORK/site" INSNCOUNT_ARGS=top=0 PW_REF="$PW_REF" \
        "$ARM_COUNT/count.sh" py "$WORK/pw.py" "$WORK/pw-regions-$cpu.json" \
        2> "$WORK/pw-count-$cpu.txt" >/dev/null \
        || { cat "$WORK/pw-count-$cpu.txt" >&2; exit 1; }
    echo "$((SECONDS - start))" > "$WORK/pw-seconds-$cpu.txt"
done

python3 - "$WORK" $CPUS <<'PY'
import json, re, sys
work, cpus = sys.argv[1], sys.argv[2:]
for cpu in cpus:
    counts = {}
    for line in open(f"{work}/pw-count-{cpu}.txt"):
        m = re.match(r"insncount: mark (\d+) -> (\d+) : (\d+)", line)
        if m:
            counts[(int(m.group(1)), int(m.group(2)))] = int(m.group(3))
    regions = json.load(open(f"{work}/pw-regions-{cpu}.json"))
    empty = counts[tuple(regions[0]["tags"])]
    whats = list(dict.fromkeys(r["what"] for r in regions[1:]))
    rows, total, macs_total = {}, {w: 0 for w in whats}, 0
    for r in regions[1:]:
        n = counts[tuple(r["tags"])] - empty
        row = rows.setdefault(r["layer"], {"shape": r["shape"], "macs": r["macs"]})
        row[r["what"]] = n
        total[r["what"]] += n
    macs_total = sum(row["macs"] for row in rows.values())
    seconds = open(f"{work}/pw-seconds-{cpu}.txt").read().strip()
    short = lambda w: w.replace("pp_f32_gemm_minmax_ukernel_", "").replace("pointwise_conv2d", "pointwise_conv2d()")
    print()
    print(f"Instructions per MAC, 13 MobileNetV1 pointwise layers, batch 1, 1 thread, {cpu}; "
          f"floor 0.250. Each layer counted once ({seconds} s under emulation).")
    print("  pointwise_conv2d(): the whole kernels.pointwise_conv2d(x, weight, bias) call, weight "
          "packing included; <kernel>: Conv2d.forward with the weights packed beforehand.")
    head = f"{'layer':20} {'MACs':>12}" + "".join(f" {short(w):>22}" for w in whats)
    print(head)
    print("-" * len(head))
    for i in sorted(rows):
        row = rows[i]
        line = f"{str(i + 1) + '  ' + row['shape']:20} {row['macs']:>12,}"
        for w in whats:
            line += f" {row[w] / row['macs']:>22.3f}"
        print(line)
    print("-" * len(head))
    line = f"{'all 13 (summed)':20} {macs_total:>12,}"
    for w in whats:
        line += f" {total[w] / macs_total:>22.3f}"
    print(line)
    line = f"{'  instructions':20} {'':>12}"
    for w in whats:
        line += f" {total[w]:>22,}"
    print(line)
PY

# ---- 4. llvm-mca on the GEMM k loop ------------------------------------------------------------
if [ -z "${LLVM_MCA:-}" ]; then
    echo "arm-cost: llvm-mca not found (apt: llvm-14), skipping the GEMM cycle estimate" >&2
    return 0
fi
read -r GNAME GMR GNR < <(sed -n 's/^PP_GEMM_UKERNEL(pp_isa_neon, \(pp_f32_gemm_minmax_ukernel_\([0-9]*\)x\([0-9]*\)__neon\), .*/\1 \2 \3/p' \
    "$REPO/csrc/f32-gemm/f32-gemm.inc" | head -1) || true
[ -n "${GNAME:-}" ] || { echo "arm-cost: no NEON row in f32-gemm.inc" >&2; exit 1; }
GSRC="$REPO/csrc/f32-gemm/f32-gemm-${GMR}x${GNR}-minmax-neon.cc"
[ -f "$GSRC" ] || { echo "arm-cost: $GSRC missing" >&2; exit 1; }
echo
echo "llvm-mca ($("$LLVM_MCA" --version | sed -n 's/.*LLVM version \([0-9.]*\).*/\1/p')): k loop of ${GNAME#pp_f32_gemm_minmax_ukernel_}" \
     "(the loop with the most FMLAs; 4 FMLA lanes = 4 MACs each), g++ -O3 -mcpu=<cpu>"
printf '%-12s %6s %6s %6s %10s %12s %12s %10s %10s %10s\n' cpu instr fmla pipes 'FMA bound' 'model FMLA' 'mca cycles' 'vs bound' 'MAC/cycle' 'instr/MAC'
for cpu in $MCA_CPUS; do
    aarch64-linux-gnu-g++ -std=c++17 -O3 -mcpu="$cpu" -I"$REPO/csrc/include" \
        -DPYPRUNE_ARCH_AARCH64=1 -S -o "$WORK/g-$cpu.s" "$GSRC"
    # The k loop: of the innermost loops (a backward branch, to a numeric asm label "N:" or a
    # .L label, over a body without other branches), the one with the most FMLAs; its branch
    # is retargeted to a label llvm-mca accepts.
    python3 - "$WORK/g-$cpu.s" > "$WORK/gloop-$cpu.s" <<'PY'
import re, sys
lines = [l.strip() for l in open(sys.argv[1])]
labels, best = {}, None
for i, l in enumerate(lines):
    m = re.match(r"^(\.L\w+|\d+):$", l)
    if m:
        labels[m.group(1)] = i
    m = re.match(r"^(b\.?\w*|cbn?z|tbn?z)\s+(?:.*,\s*)?(\.L\w+|\d+b)$", l)
    if m:
        target = m.group(2)[:-1] if m.group(2).endswith("b") and m.group(2)[0].isdigit() else m.group(2)
        if target not in labels:
            continue
        body = [x for x in lines[labels[target] + 1:i] if re.match(r"[a-z]", x)]
        if any(re.match(r"(b|b\.\w+|cbn?z|tbn?z|br|ret)\s", x) for x in body):
            continue
        body.append(l.replace(m.group(2), ".Lmca_loop"))
        n = sum(x.startswith("fmla") for x in body)
        if best is None or n > best[0]:
            best = (n, body)
if best is None or best[0] == 0:
    sys.exit("arm-cost: GEMM k loop not found")
print(".Lmca_loop:")
print("\n".join(best[1]))
PY
    fmla=$(grep -c '^fmla' "$WORK/gloop-$cpu.s")
    instr=$(($(wc -l < "$WORK/gloop-$cpu.s") - 1))
    case "$cpu" in cortex-a53|cortex-a55) pipes=1 ;; *) pipes=2 ;; esac
    "$LLVM_MCA" -mtriple=aarch64 -mcpu="$cpu" -iterations=200 "$WORK/gloop-$cpu.s" \
        > "$WORK/gmca-$cpu.txt" 2>&1 || { cat "$WORK/gmca-$cpu.txt" >&2; exit 1; }
    python3 - "$WORK/gmca-$cpu.txt" "$cpu" "$instr" "$fmla" "$pipes" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
cpu, instr, fmla, pipes = sys.argv[2], *map(int, sys.argv[3:])
iters = int(re.search(r"Iterations:\s+(\d+)", text).group(1))
cycles = int(re.search(r"Total Cycles:\s+(\d+)", text).group(1)) / iters
bound, macs = fmla / pipes, 4 * fmla
model = 0.0
for line in text.split("Resource pressure by instruction:")[1].split("\n"):
    if re.search(r"\sfmla\s", line):
        model += sum(float(t) for t in re.findall(r"\d+\.\d+", line.split("fmla")[0]))
model /= pipes
print(f"{cpu:12} {instr:>6} {fmla:>6} {pipes:>6} {bound:>10.1f} {model:>12.1f} {cycles:>12.1f}"
      f" {cycles / bound:>9.2f}x {macs / cycles:>10.2f} {instr / macs:>10.3f}")
PY
done
}

sparse_section() {
# ---- 5. sparse pointwise instruction counts ------------------------------------------------
cat > "$WORK/sp.py" <<'PY'
import ctypes, json, sys
import numpy as np
import pyprune
from pyprune import _core, kernels

mark = ctypes.CDLL(None).syscall
pyprune.set_num_threads(1)
assert kernels.isa() == "neon", kernels.isa()
LAYERS = [(32, 64, 112), (64, 128, 56), (128, 128, 56), (128, 256, 28), (256, 256, 28),
          (256, 512, 14)] + [(512, 512, 14)] * 5 + [(512, 1024, 7), (1024, 1024, 7)]
inf = float("inf")
rng = np.random.default_rng(0)
regions, tag = [], 1
mark(7911, tag)
tag += 1
mark(7911, tag)
regions.append({"what": "empty", "tags": [tag - 1, tag]})
for i, (cin, cout, hw) in enumerate(LAYERS):
    x = rng.standard_normal((1, cin, hw, hw), dtype=np.float32)
    w = rng.standard_normal((cout, cin, 1, 1), dtype=np.float32)
    unstructured = w * (rng.random(w.shape) >= 0.9)
    blocks = w * np.repeat(rng.random((cout // 4, cin, 1, 1)) >= 0.9, 4, axis=0)
    calls = [("dense", _core.Conv2d(w), w), ("sparse 90%", _core.SparseConv2d(unstructured), unstructured),
             ("sparse 90% 4x1", _core.SparseConv2d(blocks, block=4), blocks)]
    for what, conv, weight in calls:
        conv.forward(x, -inf, inf)
        tag += 1
        mark(7911, tag)
        conv.forward(x, -inf, inf)
        tag += 1
        mark(7911, tag)
        regions.append({"layer": i, "what": what, "macs": int(np.count_nonzero(weight)) * hw * hw,
                        "tags": [tag - 1, tag]})
json.dump(regions, open(sys.argv[1], "w"))
PY
for cpu in $CPUS; do
    QEMU_CPU="$cpu" EXTRA_PYTHONPATH="$WORK/site" INSNCOUNT_ARGS=top=0 \
        "$ARM_COUNT/count.sh" py "$WORK/sp.py" "$WORK/sp-regions-$cpu.json" \
        2> "$WORK/sp-count-$cpu.txt" >/dev/null \
        || { cat "$WORK/sp-count-$cpu.txt" >&2; exit 1; }
done
python3 - "$WORK" $CPUS <<'PY'
import json, re, sys
work, cpus = sys.argv[1], sys.argv[2:]
for cpu in cpus:
    counts = {}
    for line in open(f"{work}/sp-count-{cpu}.txt"):
        m = re.match(r"insncount: mark (\d+) -> (\d+) : (\d+)", line)
        if m:
            counts[(int(m.group(1)), int(m.group(2)))] = int(m.group(3))
    regions = json.load(open(f"{work}/sp-regions-{cpu}.json"))
    empty = counts[tuple(regions[0]["tags"])]
    instr, macs = {}, {}
    for r in regions[1:]:
        instr[r["what"]] = instr.get(r["what"], 0) + counts[tuple(r["tags"])] - empty
        macs[r["what"]] = macs.get(r["what"], 0) + r["macs"]
    print()
    print(f"13 MobileNetV1 pointwise layers, batch 1, 1 thread, {cpu}: one forward each, weights "
          "prepared beforehand; MACs = non-zero weights x pixels")
    print(f"{'weights':18} {'MACs':>14} {'instructions':>14} {'/MAC':>7} {'vs dense':>9}")
    for what in instr:
        print(f"{what:18} {macs[what]:>14,} {instr[what]:>14,} {instr[what] / macs[what]:>7.3f}"
              f" {instr['dense'] / instr[what]:>8.2f}x")
PY

# ---- 6. llvm-mca on the SpMM non-zero loop -----------------------------------------------------
if [ -z "${LLVM_MCA:-}" ]; then
    echo "arm-cost: llvm-mca not found (apt: llvm-14), skipping the SpMM cycle estimate" >&2
    return 0
fi
read -r SNAME SMR SNR < <(sed -n 's/^PP_SPMM_UKERNEL(pp_isa_neon, \(pp_f32_spmm_minmax_ukernel_\([0-9]*\)x\([0-9]*\)__neon\), .*/\1 \2 \3/p' \
    "$REPO/csrc/f32-spmm/f32-spmm.inc" | head -1) || true
[ -n "${SNAME:-}" ] || { echo "arm-cost: no NEON row in f32-spmm.inc" >&2; exit 1; }
SSRC="$REPO/csrc/f32-spmm/f32-spmm-${SMR}x${SNR}-minmax-neon.cc"
echo
echo "llvm-mca: non-zero loop of ${SNAME#pp_f32_spmm_minmax_ukernel_} (the loop with the most FMLAs:" \
     "$((SMR / 4)) FMLA per non-zero), g++ -O3 -mcpu=<cpu>"
printf '%-12s %6s %6s %10s %12s %14s %12s\n' cpu instr fmla non-zeros 'mca cycles' 'cycles/nz' 'instr/MAC'
for cpu in $MCA_CPUS; do
    aarch64-linux-gnu-g++ -std=c++17 -O3 -mcpu="$cpu" -I"$REPO/csrc/include" \
        -DPYPRUNE_ARCH_AARCH64=1 -S -o "$WORK/s-$cpu.s" "$SSRC"
    python3 - "$WORK/s-$cpu.s" > "$WORK/sloop-$cpu.s" <<'PY'
import re, sys
lines = [l.strip() for l in open(sys.argv[1])]
labels, best = {}, None
for i, l in enumerate(lines):
    m = re.match(r"^(\.L\w+):$", l)
    if m:
        labels[m.group(1)] = i
    m = re.match(r"^(b\.?\w*|cbn?z|tbn?z)\s+(?:.*,\s*)?(\.L\w+)$", l)
    if m and m.group(2) in labels and labels[m.group(2)] < i:
        body = [x for x in lines[labels[m.group(2)] + 1:i] if re.match(r"[a-z]", x)]
        if any(re.match(r"(b|b\.\w+|cbn?z|tbn?z|br|ret)\s", x) for x in body):
            continue
        body.append(l.replace(m.group(2), ".Lmca_loop"))
        n = sum(x.startswith("fmla") for x in body)
        if best is None or n > best[0]:
            best = (n, body)
if best is None or best[0] == 0:
    sys.exit("arm-cost: SpMM loop not found")
print(".Lmca_loop:")
print("\n".join(best[1]))
PY
    fmla=$(grep -c '^fmla' "$WORK/sloop-$cpu.s")
    instr=$(($(wc -l < "$WORK/sloop-$cpu.s") - 1))
    "$LLVM_MCA" -mtriple=aarch64 -mcpu="$cpu" -iterations=200 "$WORK/sloop-$cpu.s" \
        > "$WORK/smca-$cpu.txt" 2>&1 || { cat "$WORK/smca-$cpu.txt" >&2; exit 1; }
    python3 - "$WORK/smca-$cpu.txt" "$cpu" "$instr" "$fmla" "$((SMR / 4))" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
cpu, instr, fmla, per_nz = sys.argv[2], *map(int, sys.argv[3:])
iters = int(re.search(r"Iterations:\s+(\d+)", text).group(1))
cycles = int(re.search(r"Total Cycles:\s+(\d+)", text).group(1)) / iters
nz = fmla // per_nz
print(f"{cpu:12} {instr:>6} {fmla:>6} {nz:>10} {cycles:>12.1f} {cycles / nz:>14.2f} {instr / (4 * fmla):>12.3f}")
PY
done
}

for section in $SECTIONS; do
    case "$section" in
        depthwise) depthwise_section ;;
        pointwise) pointwise_section ;;
        sparse) sparse_section ;;
        *) echo "arm-cost: unknown section $section (depthwise, pointwise, sparse)" >&2; exit 2 ;;
    esac
done
