#!/usr/bin/env bash
# The arm64 step of CI: installs the cross toolchain, qemu-user and the
# :arm64 -dev packages (firmware/packages-arm64.txt, multiarch beside the amd64
# ones), cross-builds pvtap into build-arm64 and runs the unit tests under
# qemu-user (CMAKE_CROSSCOMPILING_EMULATOR). Integration tests are not run:
# they need amd64 peers (tshark, mosquitto, ...).
# Usage: firmware/ci-arm64.sh            (as root, or with sudo available)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${JOBS:-2}
build=${PVTAP_ARM64_BUILD:-build-arm64}
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
start=$(date +%s)

mapfile -t pkgs < <(grep -v '^[[:space:]]*#' firmware/packages-arm64.txt | awk 'NF {print $1}')
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "ci-arm64: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        $sudo dpkg --add-architecture arm64
    fi
    $sudo apt-get update -q
    $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    echo "ci-arm64: all ${#pkgs[@]} packages present"
fi
installed=$(date +%s)

cmake -S . -B "$build" -DCMAKE_TOOLCHAIN_FILE=firmware/toolchain-aarch64.cmake \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPVTAP_WERROR="${PVTAP_WERROR:-ON}"
cmake --build "$build" -j"$jobs"
file "$build/pvtap" | grep -q 'ARM aarch64' || { echo "ci-arm64: $build/pvtap is not an arm64 binary" >&2; exit 1; }
built=$(date +%s)

# The binary itself runs under qemu too.
qemu-aarch64 "$build/pvtap" --help | head -1 | grep -q '^usage:'
ctest --test-dir "$build" -L unit --output-on-failure -j"$jobs" --output-junit ctest-junit.xml
tests/ctest-no-skips "$build/ctest-junit.xml"   # under CI a skipped test fails
done_=$(date +%s)
echo "ci-arm64: install $((installed - start)) s, build $((built - installed)) s, unit tests $((done_ - built)) s"
