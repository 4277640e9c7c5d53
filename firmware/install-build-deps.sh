#!/usr/bin/env bash
# Installs the Debian 12 packages pvtap needs to build and test (firmware/packages-build.txt).
# Run as root (or it uses sudo). Idempotent: installs only what is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mapfile -t pkgs < <(grep -v '^[[:space:]]*#' "$here/packages-build.txt" | awk 'NF {print $1}')
# Installed packages and what they provide: a machine with NodeSource's nodejs
# (which provides and conflicts with npm) has npm without the npm package.
have=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package} ${Provides}\n' 2>/dev/null |
    awk '$1 == "ii" { for (i = 2; i <= NF; i++) { sub(/,$/, "", $i); if ($i !~ /^\(/) print $i } }')
missing=()
for p in "${pkgs[@]}"; do
    grep -qxF -- "$p" <<<"$have" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-build-deps: all ${#pkgs[@]} packages present"
    exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-build-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture: answer for it.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
