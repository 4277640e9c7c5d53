#!/usr/bin/env bash
# The Debian package from CPack: made from this build into a scratch folder,
# it holds the binary, unit, udev rules, networkd file, helper, boards,
# default config (a conffile) and man page, depends on the libraries the
# binary links (dpkg-shlibdeps), and its maintainer scripts parse. (Installing
# it into a fresh Debian chroot is firmware/build-all's job: it downloads.)
source "$(dirname "$0")/lib.sh"
: "${PVTAP_BUILD:?}"
need_tool cpack cmake
need_tool dpkg-deb dpkg
need_tool dpkg-shlibdeps dpkg-dev
# CPack runs dpkg-shlibdeps, which runs file(1) on the binary
need_tool file file
[ -f "$PVTAP_BUILD/CPackConfig.cmake" ] || { not_ok "no CPackConfig.cmake in $PVTAP_BUILD"; finish; exit 1; }

expect_rc 0 "cpack -G DEB" -- cpack -G DEB --config "$PVTAP_BUILD/CPackConfig.cmake" -B "$TMP/pkg"
deb=$(ls "$TMP"/pkg/pvtap_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] && ok "package made: $(basename "$deb")" || { not_ok "no .deb"; sed 's/^/  | /' "$TMP/out" | tail; finish; exit 1; }

dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's|^\./|/|' >"$TMP/files"
for f in /usr/bin/pvtap /lib/systemd/system/pvtap.service /lib/udev/rules.d/60-pvtap.rules \
         /lib/udev/rules.d/59-pvtap-mirror.rules /lib/systemd/network/50-pvtap-mirror.network \
         /usr/libexec/pvtap/pvtap-mirror-up /etc/pvtap/pvtap.conf /usr/share/man/man1/pvtap.1.gz \
         /usr/share/pvtap/boards/rpi4-dcsw1005-ftdi.conf; do
    expect_grep "$TMP/files" "^${f//./\\.}\$" "package has $f"
done
nboards=$(ls "$PVTAP_SRC"/boards/*.conf | wc -l)
[ "$(grep -c '^/usr/share/pvtap/boards/.*\.conf$' "$TMP/files")" -eq "$nboards" ] &&
    ok "package has all $nboards boards" || not_ok "board count differs from boards/"
expect_no_grep "$TMP/files" '/(test_|pvsim|bench_|fuzz_)' "no test programs in the package"

dpkg-deb -f "$deb" Package Version Architecture Depends >"$TMP/control"
sed 's/^/# /' "$TMP/control"
expect_grep "$TMP/control" '^Depends: .*libconfig[0-9]+' "Depends from shlibdeps (libconfig)"
expect_grep "$TMP/control" '^Depends: .*libpcap0\.8' "Depends from shlibdeps (libpcap)"
expect_grep "$TMP/control" "^Architecture: $(dpkg --print-architecture)\$" "Architecture is this machine's"

mkdir -p "$TMP/ctl" "$TMP/root"
dpkg-deb -e "$deb" "$TMP/ctl"
expect_grep "$TMP/ctl/conffiles" '^/etc/pvtap/pvtap.conf$' "pvtap.conf is a conffile"
for s in postinst prerm postrm; do
    expect_rc 0 "$s parses (sh -n)" -- sh -n "$TMP/ctl/$s"
    [ -x "$TMP/ctl/$s" ] && ok "$s is executable" || not_ok "$s is not executable"
done
dpkg-deb -x "$deb" "$TMP/root"
[ -x "$TMP/root/usr/bin/pvtap" ] && ok "binary executable" || not_ok "binary not executable"
if [ "$(dpkg --print-architecture)" = "$(dpkg-deb -f "$deb" Architecture)" ]; then
    expect_rc 0 "packaged pvtap --help runs" -- "$TMP/root/usr/bin/pvtap" --help
    expect_grep "$TMP/out" '^usage:' "packaged pvtap prints usage"
fi
gzip -dc "$TMP/root/usr/share/man/man1/pvtap.1.gz" >"$TMP/pvtap.1"
if command -v groff >/dev/null; then
    expect_rc 0 "man page formats without warnings" -- groff -man -Tutf8 -ww -z "$TMP/pvtap.1"
    [ -s "$TMP/err" ] && not_ok "groff warned" || ok "groff quiet"
else
    skip_part "man page not formatted: groff missing (apt-get install groff-base)" || not_ok "man page formats: groff missing"
fi
finish
