#!/bin/sh
# deps.sh -- install the Debian packages Polyvisor's build and tests need,
# only those that are missing (make deps).  Needs root when something is
# missing; runs apt-get update once, only then.
#   deps.sh           build + test packages
#   deps.sh bench     also what `make bench` needs (wrk, nginx, curl; valgrind for
#                     tests/bench/callgrind_get.sh)
#   deps.sh check     also what `make check` needs (cppcheck, clang-tidy, libFuzzer)
#   deps.sh fuzz      also what `make fuzz` needs (clang with its libFuzzer runtime)
#   deps.sh kvm       also a real libvirt daemon with QEMU (tests/peers/libvirtd.sh)
set -eu

PKGS="gcc make pkg-config libc6-dev
libmicrohttpd-dev zlib1g-dev libsqlite3-dev libjansson-dev libcurl4-openssl-dev libxml2-dev
libvirt-dev libsodium-dev libgnutls28-dev libcmocka-dev openssl
python3 python3-pytest python3-requests tzdata
chromium chromium-driver python3-selenium fonts-dejavu-core
golang-go golang-github-vmware-govmomi-dev"
[ "${1:-}" = bench ] && PKGS="$PKGS wrk nginx-light curl valgrind"
[ "${1:-}" = check ] && PKGS="$PKGS cppcheck clang-tidy clang libclang-rt-14-dev"
[ "${1:-}" = fuzz ] && PKGS="$PKGS clang libclang-rt-14-dev"   # clang only recommends its runtime
[ "${1:-}" = kvm ] && PKGS="$PKGS libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 qemu-utils"
# browser tests: test_accessibility.py installs axe-core with npm (npm ci in tests/browser/axe);
# Debian's npm, unless one is there already (nodesource's nodejs brings its own)
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "deps: installing:$missing"
if [ "$(id -u)" != 0 ]; then
    echo "deps: these packages are missing and installing them needs root:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
