#!/bin/bash
# setup.sh - prepare pyprune's aarch64 instruction counter on an x86-64 Debian 12 machine: QEMU
# user mode with the insncount plugin (insncount.c beside this file), running the aarch64 Python
# userland that scripts/aarch64-env.sh prepares for the QEMU tests. Idempotent: a re-run only
# redoes what is missing or out of date (about 20 s then).
#
#   bash scripts/arm-count/setup.sh      (root if Debian packages are missing)
#
# Makes under $PYPRUNE_A64/count (PYPRUNE_A64: see aarch64-env.sh):
#   insncount.so                     the plugin
#   qemu-plugin/qemu/qemu-plugin.h   QEMU's plugin API header, from Debian's qemu source package
#                                    (Debian packages no plugin header)
#   root-<cpu>/                      the aarch64 userland (A64_ROOT) seen with a /proc/cpuinfo that
#                                    describes that CPU model, for cortex-a53, -a72 and -a76
#   site/                            the guest wheels (A64_WHEELS: numpy, ...) unpacked, the
#                                    guest Python's site (count.sh)
# and compiles the userland's and the guest wheels' Python modules to bytecode, as Debian and pip
# do when they install, so that imports cost under the counter what they cost on a board.
# Outside the cache it only installs the Debian packages below; /etc/apt is never edited.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../aarch64-env.sh
source "$HERE/../aarch64-env.sh"
set -euo pipefail
COUNT="$PYPRUNE_A64/count"
# qemu-user: the dynamically linked qemu-aarch64, the one that can load plugins.
HOST_PKGS=(qemu-user gcc libglib2.0-dev pkg-config)
CPUS=(cortex-a53 cortex-a72 cortex-a76)   # Raspberry Pi 3, 4, 5
APT=(apt-get -o DPkg::Lock::Timeout=600)

log() { echo "arm-count setup: $*" >&2; }

# --- 1. host packages -------------------------------------------------------------------------
missing=()
for p in "${HOST_PKGS[@]}"; do
    dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || { log "run as root to install ${missing[*]}"; exit 1; }
    "${APT[@]}" update
    DEBIAN_FRONTEND=noninteractive "${APT[@]}" install -y --no-install-recommends "${missing[@]}"
fi
mkdir -p "$COUNT"

# --- 2. QEMU's plugin header, from the source package of the installed QEMU --------------------
# apt-get source through a private apt configuration whose source list is the system's own with
# each 'deb' entry turned into 'deb-src' (the system's files are only read).
HDR="$COUNT/qemu-plugin/qemu/qemu-plugin.h"
if [ ! -f "$HDR" ]; then
    [ "$(id -u)" = 0 ] || { log "run as root once to fetch QEMU's source package"; exit 1; }
    S="$COUNT/aptsrc"
    rm -rf "$S"
    mkdir -p "$S/sources.list.d" "$S/lists/partial" "$S/cache/archives/partial" "$S/src"
    : > "$S/sources.list"
    for f in /etc/apt/sources.list.d/*.sources; do             # deb822 format
        [ -f "$f" ] || continue
        sed -E 's/^[Tt]ypes:.*/Types: deb-src/' "$f" > "$S/sources.list.d/$(basename "$f")"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do   # one-line format
        [ -f "$f" ] || continue
        sed -nE 's/^[[:space:]]*deb[[:space:]]+/deb-src /p' "$f" \
            > "$S/sources.list.d/$(basename "$f" .list)-src.list"
    done
    # As root: apt's download user cannot enter a cache under /root.
    APTO=(-o Dir::Etc::SourceList="$S/sources.list" -o Dir::Etc::SourceParts="$S/sources.list.d"
          -o Dir::State::Lists="$S/lists" -o Dir::Cache="$S/cache" -o APT::Sandbox::User=root)
    # A third-party source without source packages only warns; apt-get source must find qemu.
    "${APT[@]}" "${APTO[@]}" update || log "warning: some deb-src indexes failed"
    version="$(dpkg-query -W -f '${source:Version}' qemu-user)"
    ( cd "$S/src" && { "${APT[@]}" "${APTO[@]}" source --download-only "qemu=$version" \
                       || "${APT[@]}" "${APTO[@]}" source --download-only qemu; } )
    for t in "$S"/src/qemu_*.orig.tar.*; do
        case "$t" in *.asc) continue ;; esac
        tar -xf "$t" -C "$S/src" --wildcards '*/include/qemu/qemu-plugin.h'
    done
    mkdir -p "$(dirname "$HDR")"
    cp "$S"/src/qemu-*/include/qemu/qemu-plugin.h "$HDR.tmp"
    mv "$HDR.tmp" "$HDR"
    rm -rf "$S"
    log "plugin header: $HDR"
fi
grep -q "define QEMU_PLUGIN_VERSION 1$" "$HDR" \
    || { log "$HDR is not plugin API version 1 (QEMU 7.x)"; exit 1; }

# --- 3. the plugin ----------------------------------------------------------------------------
SO="$COUNT/insncount.so"
if [ ! -f "$SO" ] || [ "$HERE/insncount.c" -nt "$SO" ] || [ "$HDR" -nt "$SO" ]; then
    # shellcheck disable=SC2046   # pkg-config prints several flags
    gcc -O2 -Wall -Werror -shared -fPIC -I"$COUNT/qemu-plugin" $(pkg-config --cflags glib-2.0) \
        -o "$SO.tmp" "$HERE/insncount.c"
    mv "$SO.tmp" "$SO"
    log "plugin built: $SO"
fi

# --- 4. one view of the userland per CPU model, with its /proc/cpuinfo ----------------------------
# QEMU 7.2 user mode shows the guest the host's x86 /proc/cpuinfo; code that parses it (CPU
# detection in numpy, ncnn, cpuinfo) would see no ARM CPU. qemu -L VIEW resolves the guest's
# /proc/cpuinfo to VIEW/proc/cpuinfo, so each view describes its -cpu model (MIDR part, variant,
# revision; Features). HWCAP, which most code reads, QEMU sets from -cpu itself.
V80="fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid"
V82="$V80 atomics fphp asimdhp asimdrdm lrcpc dcpop asimddp ssbs"
write_cpuinfo() {   # model file
    local part var rev feat i
    case "$1" in
        cortex-a53) part=0xd03 var=0x0 rev=4 feat="$V80" ;;
        cortex-a72) part=0xd08 var=0x0 rev=3 feat="$V80" ;;
        cortex-a76) part=0xd0b var=0x4 rev=1 feat="$V82" ;;
    esac
    for ((i = 0; i < $(nproc); i++)); do
        printf 'processor\t: %d\nBogoMIPS\t: 50.00\nFeatures\t: %s\n' "$i" "$feat"
        printf 'CPU implementer\t: 0x41\nCPU architecture: 8\n'
        printf 'CPU variant\t: %s\nCPU part\t: %s\nCPU revision\t: %s\n\n' "$var" "$part" "$rev"
    done > "$2.tmp"
    mv "$2.tmp" "$2"
}
for cpu in "${CPUS[@]}"; do
    view="$COUNT/root-$cpu"
    mkdir -p "$view/proc"
    for e in "$A64_ROOT"/*; do
        [ "$(basename "$e")" = proc ] || ln -sfn "$e" "$view/$(basename "$e")"
    done
    [ -s "$view/proc/cpuinfo" ] || write_cpuinfo "$cpu" "$view/proc/cpuinfo"
done

# --- 5. the guest wheels unpacked, and bytecode for them and the userland's modules ----------------
SITE="$COUNT/site"
if [ ! -f "$SITE/.wheels" ] || ! cmp -s "$A64_WHEELS/.wheels" "$SITE/.wheels"; then
    rm -rf "$SITE.tmp"
    for w in "$A64_WHEELS"/*.whl; do
        "$HOST_PYTHON" -m zipfile -e "$w" "$SITE.tmp"
    done
    cp "$A64_WHEELS/.wheels" "$SITE.tmp/.wheels"
    rm -rf "$SITE"
    mv "$SITE.tmp" "$SITE"
    log "guest site ready: $SITE"
fi
bash "$HERE/count.sh" pyc "$A64_ROOT/usr/lib/python3.11" "$SITE"

# --- 6. smoke test ----------------------------------------------------------------------------
report="$COUNT/smoke.json"
INSNCOUNT_ARGS="quiet=1,out=$report" bash "$HERE/count.sh" py -c '
import ctypes, numpy
mark = ctypes.CDLL(None).syscall
mark(7911, 1)
mark(7911, 2)'
"$HOST_PYTHON" - "$report" <<'PY'
import json, sys
marks = json.load(open(sys.argv[1]))["marks"]
assert [m["tag"] for m in marks] == [1, 2], marks
empty = marks[1]["total"] - marks[0]["total"]
assert 0 < empty < 10_000, empty
print(f"arm-count setup: ready (an empty marked region costs {empty} instructions in Python)",
      file=sys.stderr)
PY
