#!/bin/bash
# test-fresh-debian.sh - the README's set-up as a new user meets it: debootstrap a minimal Debian
# 12 (minbase: no compiler, no Python), copy the working tree in, run there, in order, the
# commands of the README's "Set-up on a fresh machine" block (as root, so without sudo), then
# each extra command given, all from the copy's root.
#
#   bash scripts/test-fresh-debian.sh ['extra command' ...]
#
# Needs root (debootstrap, chroot, mounts) and installs debootstrap if missing. The system is made
# in a new folder under TMPDIR (default /tmp), deleted at the end unless KEEP=1. Its mounts
# (/proc, /sys, /dev/shm, /dev/pts and pip's sources) are private to a mount namespace and end
# with it. pip there uses this machine's pip configuration (scripts/pip-sources.py: indexes,
# find-links, certificate), apt the Debian mirror DEBIAN_MIRROR (default deb.debian.org).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
log() { echo "test-fresh-debian: $*" >&2; }

[ "$(id -u)" = 0 ] || { log "must run as root (debootstrap, chroot, mounts)"; exit 1; }

# The README's block: the first indented lines of its section.
setup="$(awk '/^## / { section = ($0 == "## Set-up on a fresh machine") }
              section && /^    / { print substr($0, 5); found = 1; next }
              found { exit }' "$REPO/README.md" | sed 's/\bsudo //g')"
for cmd in "make demo" "make test"; do
    grep -q "^$cmd\b" <<< "$setup" || { log "README.md's set-up block lacks '$cmd'"; exit 1; }
done

if ! command -v debootstrap >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

DIR="$(mktemp -d "${TMPDIR:-/tmp}/pyprune-fresh-debian.XXXXXX")"
ROOT="$DIR/root"
cleanup() {
    if [ "${KEEP:-0}" = 1 ]; then log "kept $ROOT"; return; fi
    # Never delete through a mount, should one have outlived its namespace.
    if findmnt -rn -o TARGET | grep -qF "$DIR"; then log "mounts remain under $DIR: not deleted"; return; fi
    rm -rf "$DIR"
}
trap cleanup EXIT

start=$SECONDS
log "debootstrap --variant=minbase bookworm $ROOT $MIRROR"
debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" > "$DIR/debootstrap.log" 2>&1 \
    || { tail -20 "$DIR/debootstrap.log" >&2; exit 1; }
log "minimal Debian 12 made in $((SECONDS - start)) s"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"

# The working tree as it would be committed: tracked and untracked files, not the ignored ones.
mkdir "$ROOT/root/pyprune"
git -C "$REPO" ls-files -z --cached --others --exclude-standard \
    | (cd "$REPO" && while IFS= read -r -d '' f; do if [ -e "$f" ]; then printf '%s\0' "$f"; fi; done) \
    | tar -C "$REPO" --null -T - -cf - | tar -C "$ROOT/root/pyprune" -xf -

# The steps, each timed; pip's settings exported, the folders they name mounted below.
binds=()
{
    echo 'set -euo pipefail'
    echo 'cd /root/pyprune'
    while IFS=$'\t' read -r kind value; do
        case "$kind" in
            env) printf 'export %q\n' "$value" ;;
            bind) binds+=("$value") ;;
        esac
    done < <(python3 "$REPO/scripts/pip-sources.py" /host)
    for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
        [ -z "${!v:-}" ] || printf 'export %q\n' "$v=${!v}"
    done
    echo 'step() { echo; echo "--- $1"; local t=$SECONDS; bash -euo pipefail -c "$1"; echo "--- $((SECONDS - t)) s: $1"; }'
    while IFS= read -r cmd; do printf 'step %q\n' "$cmd"; done <<< "$setup"
    for cmd in "$@"; do printf 'step %q\n' "$cmd"; done
} > "$ROOT/root/steps.sh"

unshare --mount --propagation private bash -euo pipefail -c '
    root="$1"; shift
    mount -t proc proc "$root/proc"
    mount -t sysfs -o ro sysfs "$root/sys"
    mount -t tmpfs -o mode=1777 shm "$root/dev/shm"
    mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts"
    for folder in "$@"; do
        mkdir -p "$root/host$folder"
        mount --bind "$folder" "$root/host$folder"
        mount -o remount,bind,ro "$root/host$folder"
    done
    exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin bash /root/steps.sh
' _ "$ROOT" "${binds[@]}"
log "passed in $((SECONDS - start)) s"
